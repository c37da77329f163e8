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
from casparian_tui.tui.messages import CatalogChanged
from casparian_tui.tui.screens.base import ModeScreen
from casparian_tui.tui.widgets.fixed_table import FixedTable
from casparian_tui.tui.widgets.footer import Footer
from casparian_tui.tui.widgets.lifecycle import quiet_if_gone
from casparian_tui.tui.widgets.refill import refill, update_static
from casparian_tui.tui.widgets.status_bar import StatusBar, short_path

PAGE = 200
WORKER_LINES = 5  # more workers than this show as "+N more"
STATUS_STYLE = {"QUEUED": "cyan", "RUNNING": "yellow", "COMPLETED": "green", "FAILED": "red", "CANCELLED": "dim"}
FILTERS = (None, *STATUSES)

HELP_KEYS = [
    ("↑ ↓", "choose a job; its detail shows below"),
    ("f", "filter by status (cycles)"),
    ("R", "retry a failed or cancelled job / requeue from the dead letter"),
    ("c", "cancel a queued or running job"),
    ("Tab", "queue / dead-letter tabs"),
]


class JobsScreen(ModeScreen):
    TITLE = "Jobs"
    HELP_KEYS = HELP_KEYS
    BINDINGS = [
        Binding("R", "retry", "Retry/requeue"),
        Binding("c", "cancel_job", "Cancel"),
        Binding("f", "cycle_filter", "Filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status_filter: str | None = None
        self.detail_job: int | None = None

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
        t.add_column("id", key="id", width=6)
        t.add_column("status", key="status", width=10)
        t.add_column("parser", key="parser", width=16)
        t.add_column("file", key="file", width=44)
        t.add_column("tries", key="tries", width=5)
        t.add_column("rows", key="rows", width=7)
        t.add_column("error", key="error", width=40)
        d = self.query_one("#dead-table", DataTable)
        d.add_column("job", key="job", width=6)
        d.add_column("parser", key="parser", width=16)
        d.add_column("file", key="file", width=44)
        d.add_column("tries", key="tries", width=5)
        d.add_column("error", key="error", width=60)
        t.focus()
        self.refresh_jobs()

    @on(CatalogChanged)
    def _database_changed(self, _msg: CatalogChanged) -> None:
        # Only the shown screen is told; a hidden one refreshes when it comes back.
        if self.is_current:
            self.refresh_jobs()

    def on_screen_resume(self) -> None:
        self.refresh_jobs()

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
        cells = [
            (
                str(r.id),
                Text(r.status.lower(), style=STATUS_STYLE.get(r.status, "")),
                Text(r.parser),
                Text(short_path(r.file)),
                f"{r.tries}/{r.max_attempts}",  # the detail says when a failure was permanent
                "" if r.rows_out is None else f"{r.rows_out:,}",
                Text(r.error or (f"(previous try) {r.previous_error}" if r.previous_error else "")),
            )
            for r in rows
        ]
        refill(self.query_one("#jobs-table", DataTable), [str(r.id) for r in rows], cells)

    def _fill_dead(self, dead) -> None:
        cells = [(str(d.job_id), Text(d.parser), Text(short_path(d.file)), str(d.attempts), Text(d.error)) for d in dead]
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
