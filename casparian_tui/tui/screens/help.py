"""`?`: the keys of the screen you are on."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL_KEYS = [
    ("1 2 3 4 5", "Discover · Jobs · Parser Bench · Settings · Query"),
    ("?", "this help"),
    ("q", "quit (in a text box: Esc, then q)"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("question_mark", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def __init__(self, title: str, keys: list[tuple[str, str]]):
        super().__init__()
        self._title = title
        self._keys = keys

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _ in [*self._keys, *GLOBAL_KEYS])
        text = Text()
        text.append(self._title + "\n\n", style="bold")
        for heading, keys in ((None, self._keys), ("Everywhere", GLOBAL_KEYS)):
            if heading:
                text.append(f"\n{heading}\n\n", style="bold")
            for key, what in keys:
                text.append(f"  {key:<{width}}  ", style="bold")
                text.append(what + "\n")
        text.append("\nEsc closes this help.", style="dim")
        with Vertical(id="help-box"):
            yield Static(text, id="help-text")
