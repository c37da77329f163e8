"""Dialogs over a query result: the frequency table of a column, the export path, the history picker."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, OptionList, Static

from casparian_tui.tui.screens.dialogs import DialogScreen
from casparian_tui.tui.widgets.result_grid import cell
from casparian_tui.tui.widgets.text_input import TextInput


class FrequencyScreen(ModalScreen[None]):
    """value, count, % for one column (the most frequent first)."""

    BINDINGS = [("escape", "dismiss", "Close"), ("f", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def __init__(self, freq):
        super().__init__(classes="frequency-screen")
        self.freq = freq

    def compose(self) -> ComposeResult:
        f = self.freq
        shown = len(f.rows)
        with Vertical(classes="dialog frequency-box"):
            yield Label(f"Frequency of {f.column}", classes="dialog-title")
            note = f"{f.distinct:,} distinct values in {f.total:,} rows"
            if not getattr(self.app, "deterministic", False):
                note += f" · {f.elapsed_s * 1000:,.0f} ms"
            if shown < f.distinct:
                note += f" · the {shown:,} most frequent"
            yield Static(Text(note, style="dim"))
            yield DataTable(cursor_type="row", zebra_stripes=True, id="frequency-table")
            yield Static(Text("Esc closes", style="dim"))

    def on_mount(self) -> None:
        t = self.query_one("#frequency-table", DataTable)
        t.add_column("value", width=36, key="value")
        t.add_column("count", width=12, key="count")
        t.add_column("%", width=7, key="pct")
        t.add_column("", width=20, key="bar")
        for value, n, pct in self.freq.rows:
            t.add_row(cell(value), Text(f"{n:,}", justify="right"), Text(f"{pct:.1f}", justify="right"),
                      Text("█" * max(1, round(pct / 5)), style="cyan"))
        t.focus()


class ExportDialog(DialogScreen):
    """Asks for a file; an existing one needs a second Enter (the overwrite confirmation)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export the result (.csv, .parquet or .jsonl)", classes="dialog-title")
            yield TextInput(placeholder="~/result.csv", id="path")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield self._buttons("Export")

    def on_mount(self) -> None:
        self.show_error("")
        self._confirmed: str | None = None
        self.set_focus(self.query_one("#path", TextInput))

    def submit(self) -> None:
        from casparian_tui.errors import CasparianError
        from casparian_tui.outputs.export import check_target

        raw = self.query_one("#path", TextInput).value.strip()
        if not raw:
            self.show_error("Give a file name.")
            return
        path = Path(raw).expanduser()
        try:
            check_target(path, None, overwrite=self._confirmed == raw)
        except CasparianError as err:
            if path.is_file() and self._confirmed != raw and "exists" in err.message:
                self._confirmed = raw
                self.show_error(f"{path} exists. Press Enter again to overwrite it.")
                return
            self.show_error(err.message + (f" {err.hint}" if err.hint and "--" not in err.hint else ""))
            return
        self.dismiss((str(path), self._confirmed == raw))


class HistoryScreen(ModalScreen[str | None]):
    """The last queries, newest first; Enter puts one in the editor."""

    BINDINGS = [("escape", "dismiss_none", "Close")]

    def __init__(self, entries: list[str]):
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog history-box"):
            yield Label("Query history (newest first)", classes="dialog-title")
            if self.entries:
                yield OptionList(*[" ".join(e.split())[:100] for e in self.entries], id="history-list")
            else:
                yield Static(Text("No queries run yet.", style="dim"))

    def on_mount(self) -> None:
        for w in self.query("#history-list"):
            w.focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.entries[event.option_index])
