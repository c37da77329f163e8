"""Discover's frequency table (`F`): how the files shown spread over a column.

The file table's cursor is a row, so `F` first asks which column; the
counts are over every file the current filters select, not only the page
shown. `f` stays Discover's filter key, as the README's table has it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from casparian_tui.errors import CasparianError
from casparian_tui.tui.screens.dialogs import DialogScreen

# (column key of scout/file_frequency.py, what the picker says)
CHOICES = (
    ("path", "folder (files per parent folder)"),
    ("ext", "extension"),
    ("tags", "tag (a file with two tags counts twice)"),
    ("size", "size"),
    ("status", "status"),
)


class FrequencyColumnDialog(DialogScreen):
    """Pick the column to count; Enter opens its frequency table."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Frequency of which column? (over all files the filters select)", classes="dialog-title")
            yield OptionList(*(Option(text, id=key) for key, text in CHOICES), id="frequency-columns")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#frequency-columns", OptionList))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class DiscoverFrequencyMixin:
    """`F` on DiscoverScreen: pick a column, then show its frequency table."""

    def action_frequency(self) -> None:
        self.app.push_screen(FrequencyColumnDialog(), self._frequency_of)

    def _frequency_of(self, column: str | None) -> None:
        if column is None:
            return
        flt, content = self.current_filter(), self.content

        async def show():
            from casparian_tui.scout.file_frequency import file_frequency
            from casparian_tui.tui.screens.result_dialogs import FrequencyScreen

            try:
                freq = await self.app.db_read(lambda conn: file_frequency(conn, content.apply(conn, flt), column))
            except CasparianError as err:  # e.g. interrupted, or the database is locked
                self.app.notify(err.message, severity="error")
                return
            self.app.push_screen(FrequencyScreen(freq))

        self.run_worker(show(), group="frequency")
