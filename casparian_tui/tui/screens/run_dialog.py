"""The Jobs screen's "new run" dialog: which parser over which tag, started in the background."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from casparian_tui.tui.screens.dialogs import DialogScreen
from casparian_tui.tui.widgets.text_input import TextInput


class RunDialog(DialogScreen):
    """Dismisses with (parser file, tag), or None."""

    def __init__(self, parser_file: str = "", tag: str = ""):
        super().__init__()
        self.parser_file = parser_file
        self.tag = tag

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Run a parser over a tag", classes="dialog-title")
            yield Static("It runs as a separate background process: quitting the TUI does not stop it.",
                         markup=False)
            yield TextInput(value=self.parser_file, placeholder="parser file (.py)", id="run-parser")
            yield TextInput(value=self.tag, placeholder="tag", id="run-tag")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield self._buttons("Start run")

    def on_mount(self) -> None:
        self.show_error("")
        # Now, not via call_later: keys typed right after the dialog opens are already queued.
        self.set_focus(self.query_one("#run-tag" if self.parser_file else "#run-parser", Input))

    def submit(self) -> None:
        parser = self.query_one("#run-parser", Input).value.strip()
        tag = self.query_one("#run-tag", Input).value.strip()
        if not parser or not tag:
            self.show_error("Give a parser file and a tag.")
            return
        self.dismiss((parser, tag))
