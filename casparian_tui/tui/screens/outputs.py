"""Outputs browser (Ctrl+O from Query): each parser output per version, its rows, its quarantine.

Enter opens an output's rows (with the lineage columns) in the result grid;
`b` opens its quarantine (the bad rows with `_cf_error`), where the raw
input of the highlighted row shows beside it: the source file's lines
around the row, or the start of the file for whole-file errors.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Static

from casparian_tui.errors import CasparianError
from casparian_tui.tui.widgets.fixed_table import FixedTable
from casparian_tui.tui.widgets.footer import Footer
from casparian_tui.tui.widgets.format import human_time
from casparian_tui.tui.widgets.lifecycle import quiet_if_gone
from casparian_tui.tui.widgets.result_grid import ResultGrid, error_line
from casparian_tui.tui.widgets.status_bar import StatusBar, short_path
from casparian_tui.units import human_bytes

HELP_KEYS = [
    ("↑ ↓", "choose an output (parser, version)"),
    ("Enter", "its rows, with the lineage columns"),
    ("b", "its quarantine: bad rows, _cf_error, the raw input beside them"),
    ("Tab", "outputs → rows"),
    ("f (rows)", "frequency table of the cursor's column"),
    ("e (rows)", "export the rows shown"),
    ("Esc", "back to Query"),
]


class OutputsScreen(Screen):
    TITLE = "Outputs"
    HELP_KEYS = HELP_KEYS
    BINDINGS = [
        Binding("b", "quarantine", "Quarantine"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, output_root: Path):
        super().__init__()
        self.output_root = Path(output_root)
        self.outputs: list = []
        self.showing_quarantine = False

    def compose(self) -> ComposeResult:
        yield Static("Casparian Flow — 5 Query › Outputs", classes="screen-title")
        with Vertical(id="outputs-body"):
            yield Static("", id="outputs-info")
            yield FixedTable(id="outputs-table", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="outputs-rows"):
                yield ResultGrid(empty="Enter shows an output's rows; b its quarantine.", id="outputs-grid")
                yield Static("", id="raw-input")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one("#outputs-table", DataTable)
        for label, width in (("parser", 14), ("version", 8), ("output", 16), ("rows", 11), ("files", 6),
                             ("size", 9), ("quarantined", 11), ("contract", 12), ("last run", 16), ("", 6)):
            t.add_column(label, width=width, key=label or "latest")
        self.query_one("#raw-input", Static).display = False
        t.focus()
        self.load()

    @work(exclusive=True, group="outputs-load")
    @quiet_if_gone
    async def load(self) -> None:
        from casparian_tui.outputs.catalog import list_outputs

        root = self.output_root
        try:
            self.outputs = await self.app.db_read(lambda c: list_outputs(c, root))
        except CasparianError as err:
            self.query_one("#outputs-info", Static).update(error_line(err))
            return
        t = self.query_one("#outputs-table", DataTable)
        t.clear()
        for o in self.outputs:
            t.add_row(Text(o.parser), Text(o.version), Text(o.output), Text(f"{o.rows:,}", justify="right"),
                      Text(f"{o.files:,}", justify="right"), Text(human_bytes(o.bytes), justify="right"),
                      Text(f"{o.quarantine_rows:,}", style="red" if o.quarantine_rows else "dim", justify="right"),
                      Text(o.contract), human_time(o.last_run_us) if o.last_run_us else Text("—", style="dim"),
                      Text("latest", style="green") if o.latest else "")
        info = self.query_one("#outputs-info", Static)
        if not self.outputs:
            info.update(Text(f"No outputs under {short_path(root)} yet. "
                             "Run a parser: casparian run PARSER.py --tag TAG", style="dim"))
        else:
            n = len(self.outputs)
            info.update(Text(f"{n} output{'s' if n != 1 else ''} under {short_path(root)} · "
                             "Enter rows · b quarantine · Esc back", style="dim"))

    def _current(self):
        t = self.query_one("#outputs-table", DataTable)
        if not self.outputs or not (0 <= t.cursor_row < len(self.outputs)):
            return None
        return self.outputs[t.cursor_row]

    @on(DataTable.RowSelected, "#outputs-table")
    def _open_rows(self, event) -> None:
        o = self._current()
        if o is None or not o.files:
            return
        self._show(f"SELECT * FROM outputs.\"{o.view}\"" if o.latest else
                   "SELECT * FROM read_parquet(?, union_by_name = true)", [] if o.latest else [o.pattern],
                   quarantine=False)

    def action_quarantine(self) -> None:
        o = self._current()
        if o is None:
            return
        if not o.quarantine_pattern:
            self.query_one("#outputs-grid", ResultGrid).say(
                Text(f"{o.parser} {o.version} {o.output}: no quarantined rows.", style="dim"))
            return
        self._show("SELECT * FROM read_parquet(?, union_by_name = true)", [o.quarantine_pattern], quarantine=True)

    def _show(self, sql: str, params: list, quarantine: bool) -> None:
        from casparian_tui.outputs.results import ResultSet

        self.showing_quarantine = quarantine
        raw = self.query_one("#raw-input", Static)
        raw.display = quarantine
        raw.update(Text("Pick a row to see its raw input.", style="dim"))
        grid = self.query_one("#outputs-grid", ResultGrid)
        grid.open(ResultSet(self.app.db, sql, self.output_root, params=params))

    @on(DataTable.CellHighlighted, "#outputs-grid .grid-table")
    def _row_picked(self, event: DataTable.CellHighlighted) -> None:
        if not self.showing_quarantine:
            return
        grid = self.query_one("#outputs-grid", ResultGrid)
        row = event.coordinate.row
        if grid.result is None or not (0 <= row < len(grid.rows)):
            return
        values = dict(zip(grid.result.columns, grid.rows[row]))
        self._show_raw(values)

    def _show_raw(self, values: dict) -> None:
        from casparian_tui.outputs.catalog import source_context

        raw = self.query_one("#raw-input", Static)
        path = values.get("_cf_source_path")
        text = Text()
        if values.get("_cf_error"):
            text.append(f"{values['_cf_error']}\n", style="red")
        if not path:
            text.append("This row names no source file.", style="dim")
            raw.update(text)
            return
        ctx = source_context(str(path), values.get("_cf_row"))
        text.append(f"{short_path(str(path))}\n", style="bold")
        if ctx.error:
            text.append(ctx.error, style="red")
        else:
            if ctx.focus is None:
                text.append("the start of the file (the row names no line)\n", style="dim")
            for i, line in enumerate(ctx.lines, start=ctx.first_line):
                mark = ctx.focus == i
                text.append(f"{i:>5} ", style="bold yellow" if mark else "dim")
                text.append(line + "\n", style="reverse" if mark else "")
        raw.update(text)

    def action_back(self) -> None:
        grid = self.query_one("#outputs-grid", ResultGrid)
        if grid.interrupt():
            return
        self.app.pop_screen()
