"""Input that stops blinking in deterministic (test and snapshot) runs."""

from textual.widgets import Input


class TextInput(Input):
    def on_mount(self) -> None:
        if getattr(self.app, "deterministic", False):
            self.cursor_blink = False
