"""`2` Jobs: counts by status, the workers, the queue, job detail, the dead letter; retry and cancel.

Refreshes when the database's change stamp moves (the app watches it), so
work done by a `casparian run` in another process shows up here too, and an
idle Jobs screen never queries the database.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from casparian_tui.errors import CasparianError
from casparian_tui.sentinel import jobs, registry
from casparian_tui.sentinel.queue import STATUSES
from casparian_tui.tui.columns import Col, ColumnLayout
from casparian_tui.tui.messages import CatalogChanged
from casparian_tui.tui.screens.base import ModeScreen
from casparian_tui.tui.widgets.fixed_table import FixedTable
from casparian_tui.tui.widgets.footer import Footer
from casparian_tui.tui.widgets.lifecycle import quiet_if_gone
from casparian_tui.tui.widgets.refill import forget, refill, update_static
from casparian_tui.tui.widgets.status_bar import StatusBar, short_path

PAGE = 200
WORKER_LINES = 5  # more workers than this show as "+N more"
SCROLLBAR = 2
# Narrow terminals drop tries, then rows (the detail below shows both); paths are elided in the middle.
QUEUE_COLUMNS = [
    Col("id", "id", 6),
    Col("status", "status", 9),
    Col("parser", "parser", 12, grow=1, cap=24),
    Col("file", "file", 20, grow=2, elide=True),
    Col("tries", "tries", 5, drop=2),
    Col("rows", "rows", 7, drop=1),
    Col("error", "error", 10, grow=1),
]
DEAD_COLUMNS = [
    Col("job", "job", 6),
    Col("parser", "parser", 12, grow=1, cap=24),
    Col("file", "file", 20, grow=2, elide=True),
    Col("tries", "tries", 5, drop=1),
    Col("error", "error", 10, grow=2),
]
STATUS_STYLE = {"QUEUED": "cyan", "RUNNING": "yellow", "COMPLETED": "green", "FAILED": "red", "CANCELLED": "dim"}
FILTERS = (None, *STATUSES)

HELP_KEYS = [
    ("↑ ↓", "choose a job; its detail shows below"),
    ("f", "filter by status (cycles)"),
    ("R", "retry a failed or cancelled job / requeue from the dead letter"),
    ("c", "cancel a queued or running job"),
    ("n", "start a run of a parser over a tag, in the background (outlives the TUI)"),
    ("Tab", "queue / dead-letter tabs"),
]


class JobsScreen(ModeScreen):
    TITLE = "Jobs"
    HELP_KEYS = HELP_KEYS
    BINDINGS = [
        Binding("R", "retry", "Retry/requeue"),
        Binding("c", "cancel_job", "Cancel"),
        Binding("f", "cycle_filter", "Filter"),
        Binding("n", "new_run", "New run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status_filter: str | None = None
        self.detail_job: int | None = None
        self.queue_layout = ColumnLayout(QUEUE_COLUMNS)
        self.dead_layout = ColumnLayout(DEAD_COLUMNS)
        self.fitted_width = 0
        self.shown: tuple[list, list] = ([], [])  # the rows last shown, to refill after a resize

    def compose(self) -> ComposeResult:
        yield Static("Casparian Flow — 2 Jobs", classes="screen-title")
        with Vertical(id="jobs-body"):
            yield Static("", id="jobs-counts")
            yield Static("", id="jobs-workers")
            with TabbedContent(id="jobs-tabs"):
                with TabPane("Queue", id="tab-queue"):
                    yield FixedTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
                with TabPane("Dead letter", id="tab-dead"):
                    yield FixedTable(id="dead-table", cursor_type="row", zebra_stripes=True)
            yield Static("Select a job to see its error, traceback and history.", id="job-detail")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one("#jobs-table", DataTable)
        self.layout_tables(self.app.size.width)
        t.focus()
        self.refresh_jobs()

    @on(CatalogChanged)
    def _database_changed(self, _msg: CatalogChanged) -> None:
        # Only the shown screen is told; a hidden one refreshes when it comes back.
        if self.is_current:
            self.refresh_jobs()

    def on_screen_resume(self) -> None:
        self.layout_tables(self.app.size.width)  # the terminal may have been resized while away
        self.refresh_jobs()

    def on_resize(self, event) -> None:
        self.layout_tables(event.size.width)

    def layout_tables(self, width: int) -> None:
        if width == self.fitted_width:
            return
        self.fitted_width = width
        room = width - SCROLLBAR
        queue = self.query_one("#jobs-table", DataTable)
        dead = self.query_one("#dead-table", DataTable)
        if self.queue_layout.apply(queue, room):
            forget(queue)
            self._fill_jobs(self.shown[0])
        if self.dead_layout.apply(dead, room):
            forget(dead)
            self._fill_dead(self.shown[1])

    @work(exclusive=True, group="jobs-refresh")
    @quiet_if_gone
    async def refresh_jobs(self) -> None:
        self.mark_loaded()
        status = self.status_filter

        def read(conn):
            return (jobs.counts(conn), jobs.list_jobs(conn, status=status, limit=PAGE),
                    jobs.dead_letters(conn, limit=PAGE), registry.workers_overview(conn))

        try:
            counts, rows, dead, workers = await self.app.db_read(read)
        except CasparianError as err:
            self.query_one("#jobs-counts", Static).update(Text(f"✗ {err.message}", style="red"))
            return
        self._show_counts(counts, len(dead))
        self._show_workers(workers)
        self._fill_jobs(rows)
        self._fill_dead(dead)
        await self._show_detail()

    def _show_counts(self, counts: dict, dead: int) -> None:
        text = Text()
        for status in STATUSES:
            text.append(f"{status.lower()} ", style="dim")
            text.append(f"{counts.get(status, 0):,}", style=STATUS_STYLE[status])
            text.append("   ")
        text.append("dead letter ", style="dim")
        text.append(f"{dead:,}", style="red" if dead else "")
        text.append(f"   filter: {self.status_filter.lower() if self.status_filter else 'all'}", style="dim")
        update_static(self.query_one("#jobs-counts", Static), text)

    def _show_workers(self, workers: list[dict]) -> None:
        panel = self.query_one("#jobs-workers", Static)
        panel.display = bool(workers)  # only where `casparian worker` runs or ran lately
        if workers:
            update_static(panel, render_workers(workers))

    def _fill_jobs(self, rows) -> None:
        self.shown = (rows, self.shown[1])
        cells = [
            self.queue_layout.cells({
                "id": str(r.id),
                "status": Text(r.status.lower(), style=STATUS_STYLE.get(r.status, "")),
                "parser": Text(r.parser),
                "file": short_path(r.file),
                "tries": f"{r.tries}/{r.max_attempts}",  # the detail says when a failure was permanent
                "rows": "" if r.rows_out is None else f"{r.rows_out:,}",
                "error": Text(r.error or (f"(previous try) {r.previous_error}" if r.previous_error else "")),
            })
            for r in rows
        ]
        refill(self.query_one("#jobs-table", DataTable), [str(r.id) for r in rows], cells)

    def _fill_dead(self, dead) -> None:
        self.shown = (self.shown[0], dead)
        cells = [
            self.dead_layout.cells({"job": str(d.job_id), "parser": Text(d.parser), "file": short_path(d.file),
                                    "tries": str(d.attempts), "error": Text(d.error)})
            for d in dead
        ]
        refill(self.query_one("#dead-table", DataTable), [str(d.job_id) for d in dead], cells)

    # ---- detail ----------------------------------------------------------
    def _active_table(self) -> DataTable:
        tabs = self.query_one("#jobs-tabs", TabbedContent)
        return self.query_one("#dead-table" if tabs.active == "tab-dead" else "#jobs-table", DataTable)

    def _cursor_job(self) -> int | None:
        table = self._active_table()
        if table.row_count == 0:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowHighlighted)
    async def _highlight(self, _event) -> None:
        await self._show_detail()

    @on(TabbedContent.TabActivated)
    async def _tab(self, _event) -> None:
        await self._show_detail()

    @quiet_if_gone
    async def _show_detail(self) -> None:
        job_id = self._cursor_job()
        panel = self.query_one("#job-detail", Static)
        if job_id is None:
            update_static(panel, "No jobs here yet. Run a parser: casparian run PARSER.py --tag TAG")
            return
        try:
            detail = await self.app.db_read(lambda c: jobs.job_detail(c, job_id))
        except CasparianError as err:
            panel.update(Text(err.message, style="red"))
            return
        update_static(panel, render_detail(detail))

    # ---- steering --------------------------------------------------------
    def action_cycle_filter(self) -> None:
        i = FILTERS.index(self.status_filter)
        self.status_filter = FILTERS[(i + 1) % len(FILTERS)]
        self.refresh_jobs()

    def action_retry(self) -> None:
        if self.app.refuse_in_read_only("retry a job"):
            return
        job_id = self._cursor_job()
        if job_id is None:
            return
        dead = self.query_one("#jobs-tabs", TabbedContent).active == "tab-dead"
        fn = jobs.requeue_dead_letter if dead else jobs.retry
        self._steer("requeue a job" if dead else "retry a job", lambda c: fn(c, job_id))

    def action_cancel_job(self) -> None:
        if self.app.refuse_in_read_only("cancel a job"):
            return
        job_id = self._cursor_job()
        if job_id is not None:
            self._steer("cancel a job", lambda c: jobs.cancel(c, job_id))

    def action_new_run(self) -> None:
        if self.app.refuse_in_read_only("start a run"):
            return
        from casparian_tui.tui.screens.run_dialog import RunDialog

        self.app.push_screen(RunDialog(*self.app.runs.last), self._run_chosen)

    def _run_chosen(self, choice: tuple[str, str] | None) -> None:
        if choice:
            self.run_worker(self.app.runs.start(*choice), group="jobs-run")

    def _steer(self, action: str, fn) -> None:
        async def go():
            try:
                result = await self.app.db_write(action, fn)
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            if result.count:
                self.app.notify(f"{result.action}: job {', '.join(map(str, result.job_ids))}")
            else:
                why = "; ".join(result.skipped.values()) or "nothing to do"
                self.app.notify(f"{result.action}: {why}", severity="warning")
            self.refresh_jobs()

        self.run_worker(go(), group="jobs-write")


def render_detail(d: jobs.JobDetail) -> Text:
    j = d.job
    text = Text()
    text.append(f"job {j.id} ", style="bold")
    text.append(j.status.lower(), style=STATUS_STYLE.get(j.status, ""))
    text.append(f" · {j.parser} {j.version} · tries {j.tries_text}\n")
    text.append(short_path(j.file) + "\n", style="dim")
    if d.error:
        text.append("previous try: " if j.previous_error else "error: ", style="bold red")
        text.append(d.error + "\n")
    if d.traceback:
        text.append(d.traceback.rstrip() + "\n", style="dim")
    if d.events:
        text.append("history:\n", style="bold")
        for e in d.events[-8:]:
            text.append(f"  {e.when}  {e.event}")
            if e.detail:
                text.append(f"  {e.detail}", style="dim")
            text.append("\n")
    return text


def render_workers(workers: list[dict]) -> Text:
    """One line per live worker: host, pid, state, jobs its lease holds, last heartbeat, parsers."""
    text = Text()
    text.append(f"workers {len(workers)}", style="bold")
    for w in workers[:WORKER_LINES]:
        text.append("\n  ")
        text.append(f"{w['host'][:24]:<24} ", style="bold")
        text.append(f"pid {w['pid']:<8} ")
        state = f"job {w['current_job']}" if w["current_job"] is not None else w["status"]
        text.append(f"{state:<12} ", style="yellow" if w["current_job"] is not None else "dim")
        text.append(f"held {w['held']:<5} ")
        text.append(f"heartbeat {jobs.when(w['heartbeat_at'])[11:]}  ", style="dim")
        text.append(", ".join(w["parsers"]) or "all parsers", style="dim")
    if len(workers) > WORKER_LINES:
        text.append(f"\n  +{len(workers) - WORKER_LINES} more (casparian jobs --workers)", style="dim")
    return text
