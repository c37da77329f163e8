"""A query result on screen: a summary line and a grid that fetches pages as you scroll.

The grid holds a `ResultSet` (outputs/results.py). Opening shows the first
page at once; the row count is asked for afterwards; the next page is
fetched when the cursor comes near the last row loaded. `f` shows a
frequency table of the cursor's column, `e` exports the whole result.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from casparian_tui.errors import CasparianError
from casparian_tui.tui.widgets.grid_table import GridTable
from casparian_tui.tui.widgets.refill import update_static

MAX_CELL = 48
_PREFETCH_ROWS = 50


def cell(value) -> Text:
    """A value as the grid shows it: always a Text, because DataTable reads a plain str as
    markup (a `[/x]` in the data would crash the screen) and prints floats with 2 decimals."""
    if value is None:
        return Text("NULL", style="dim", end="")
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    text = text.replace("\r", "").replace("\n", "⏎")
    return Text(text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…", no_wrap=True, end="")


def error_line(err: BaseException) -> Text:
    message = err.message if isinstance(err, CasparianError) else f"{type(err).__name__}: {err}"
    first = (message.strip().splitlines() or [""])[0]
    return Text(f"✗ {first}", style="red")


class ResultGrid(Vertical):
    BINDINGS = [
        Binding("f", "frequency", "Frequency"),
        Binding("e", "export", "Export"),
    ]

    def __init__(self, *, empty: str = "No result yet.", id: str | None = None):
        super().__init__(id=id, classes="result-grid")
        self.result = None
        self.empty = empty
        self.running = False
        self.loaded = 0
        self.rows: list[tuple] = []  # the raw values of the rows loaded, for callers that need more than the cells
        self._fetching = False
        self._more = False
        self._pending = None  # the future being waited on, for interrupts

    def compose(self) -> ComposeResult:
        yield Static(Text(self.empty, style="dim"), classes="grid-summary")
        yield GridTable(cursor_type="cell", zebra_stripes=True, classes="grid-table")

    @property
    def table(self) -> DataTable:
        return self.query_one(".grid-table", DataTable)

    def say(self, text: Text | str) -> None:
        # One line whose size CSS fixes: a new text needs no layout of the screen.
        update_static(self.query_one(".grid-summary", Static), text, layout=False)

    # ---- running ------------------------------------------------------------------------------
    def open(self, result) -> None:
        """Show `result` (a ResultSet not opened yet), replacing what was shown."""
        if self.result is not None:
            if self._pending is not None:
                self.result.interrupt()  # a new run replaces the one still running
            self.result.close()
        self.result = result
        self._more = False  # until its first page is shown (the cursor may move on the old rows)
        self.running = True
        self.say(Text("running… (Esc stops it)", style="yellow"))
        self._open(result)

    @work(exclusive=True, group="grid-open")
    async def _open(self, result) -> None:
        try:
            page = await self._wait(result.open())
        except BaseException as err:  # every failure is one line, never a traceback
            if isinstance(err, asyncio.CancelledError) and self.result is result:
                self.say(Text("✗ The query was interrupted.", style="red"))
            elif not isinstance(err, asyncio.CancelledError):
                self.say(error_line(err))
            self.running = False
            if isinstance(err, asyncio.CancelledError) and self.result is not result:
                raise
            return
        if self.result is not result:
            return
        self._fill(result, page.rows)
        self.running = False
        self._summarize()
        if self._more:
            # Before the count: a reader scrolls on long before a count over a big result ends,
            # and requests run one at a time, so page 2 queued behind the count waited for it.
            result.prefetch(1)
        if result.row_count is None:
            try:
                await self._wait(result.count())
            except BaseException as err:
                if isinstance(err, asyncio.CancelledError):
                    raise
                self.say(error_line(err))
                return
            if self.result is result:
                self._summarize()

    async def _wait(self, fut):
        self._pending = fut
        try:
            return await asyncio.wrap_future(fut)
        finally:
            self._pending = None

    def interrupt(self) -> bool:
        """Stop the running query; True if there was one."""
        if self.result is None or self._pending is None:
            return False
        self.result.interrupt()
        # The request may not have reached the database yet: ask again until it ends.
        started = time.monotonic()

        def again() -> None:
            if self._pending is not None and time.monotonic() - started < 5:
                self.result.interrupt()
                self.set_timer(0.05, again)

        self.set_timer(0.05, again)
        return True

    def _fill(self, result, rows: list[tuple]) -> None:
        t = self.table
        t.clear(columns=True)
        for i, name in enumerate(result.columns):
            width = max([len(name)] + [len(str(cell(r[i]))) for r in rows[:200]])
            t.add_column(name, width=min(max(width, 3), MAX_CELL), key=f"c{i}")
        t.add_rows([[cell(v) for v in r] for r in rows])
        self.rows = list(rows)
        self.loaded = len(rows)
        self._more = result.row_count is None or result.row_count > self.loaded

    def _summarize(self) -> None:
        r = self.result
        if r is None:
            return
        text = Text()
        if r.row_count is None:
            text.append(f"{self.loaded:,}+ rows", style="bold")
            text.append(" (counting…)", style="dim")
        else:
            text.append(f"{r.row_count:,} row{'s' if r.row_count != 1 else ''}", style="bold")
        if not getattr(self.app, "deterministic", False):  # snapshots must not show timings
            text.append(f" · {r.elapsed_s * 1000:,.0f} ms", style="dim")
        if r.row_count is not None and r.row_count > self.loaded:
            text.append(f" · {self.loaded:,} loaded, more as you scroll", style="dim")
        text.append("   f frequency · e export", style="dim")
        self.say(text)

    # ---- lazy pages ----------------------------------------------------------------------------
    def on_mount(self) -> None:
        # A watcher runs as the cursor moves, where CellHighlighted is a message handled later: a
        # prefetched page is then appended before the frame that scrolls, not one frame after it.
        self.watch(self.table, "cursor_coordinate", self._near_end, init=False)

    def _near_end(self, old, coordinate) -> None:
        if old == coordinate:  # DataTable re-sets the cursor on every row it adds
            return
        if self._more and not self._fetching and coordinate.row >= self.loaded - _PREFETCH_ROWS:
            result = self.result
            index = self.loaded // result.page_rows
            fut = result.page(index)
            if fut.done() and fut.exception() is None:
                # Prefetched (the usual case): append now, in this frame, not after a worker's hop.
                self._append(result, index, fut.result())
                return
            self._fetching = True
            self._next_page(result, index, fut)

    @work(exclusive=True, group="grid-page")
    async def _next_page(self, result, index: int, fut) -> None:
        try:
            page = await asyncio.wrap_future(fut)
        except CasparianError as err:
            self.say(error_line(err))
            return
        finally:
            self._fetching = False
        if self.result is result:
            self._append(result, index, page)

    def _append(self, result, index: int, page) -> None:
        self.table.add_rows([[cell(v) for v in r] for r in page.rows])
        self.rows.extend(page.rows)
        self.loaded += len(page.rows)
        self._more = len(page.rows) == result.page_rows and (result.row_count is None or result.row_count > self.loaded)
        self._summarize()
        if self._more:
            result.prefetch(index + 1)

    # ---- frequency and export -----------------------------------------------------------------
    def cursor_column(self) -> str | None:
        if self.result is None or not self.result.columns:
            return None
        col = self.table.cursor_coordinate.column
        return self.result.columns[col] if 0 <= col < len(self.result.columns) else None

    def action_frequency(self) -> None:
        column = self.cursor_column()
        if column is None or self.running:
            return
        self._frequency(self.result, column)

    @work(exclusive=True, group="grid-frequency")
    async def _frequency(self, result, column: str) -> None:
        from casparian_tui.tui.screens.result_dialogs import FrequencyScreen

        self.say(Text(f"counting values of {column}…", style="yellow"))
        try:
            freq = await self._wait(result.frequency(column))
        except CasparianError as err:
            self.say(error_line(err))
            return
        self._summarize()
        self.app.push_screen(FrequencyScreen(freq))

    def action_export(self) -> None:
        if self.result is None or self.running or not self.result.columns:
            return
        from casparian_tui.tui.screens.result_dialogs import ExportDialog

        self.app.push_screen(ExportDialog(), self._export_to)

    def _export_to(self, choice) -> None:
        if choice is None:
            return
        path, overwrite = choice
        self._export(self.result, Path(path), overwrite)

    @work(exclusive=True, group="grid-export")
    async def _export(self, result, path: Path, overwrite: bool) -> None:
        from casparian_tui.tui.messages import ExportProgressed

        def progress(rows: int) -> None:  # on the actor thread
            self.post_message(ExportProgressed(rows))

        self.say(Text(f"exporting to {path}…", style="yellow"))
        try:
            done = await self._wait(result.export(path, overwrite=overwrite, progress=progress))
        except CasparianError as err:
            self.say(error_line(err))
            return
        self.say(Text(f"✓ {done.rows:,} rows written to {done.path} ({done.format})", style="green"))

    @on(DataTable.CellSelected)
    def _selected(self, event) -> None:
        event.stop()

    def on_export_progressed(self, message) -> None:
        self.say(Text(f"exporting… {message.rows:,} rows written", style="yellow"))
