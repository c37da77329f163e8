"""`?`: the keys of the screen you are on."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

GLOBAL_KEYS = [
    ("1 2 3 4", "Discover · Jobs · Parser Bench · Settings"),
    ("?", "this help"),
    ("q", "quit"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [("escape", "dismiss", "Close"), ("question_mark", "dismiss", "Close"), ("q", "dismiss", "Close")]

    def __init__(self, title: str, keys: list[tuple[str, str]]):
        super().__init__()
        self._title = title
        self._keys = keys

    def compose(self) -> ComposeResult:
        width = max(len(k) for k, _ in [*self._keys, *GLOBAL_KEYS])
        lines = [f"[b]{self._title}[/b]", ""]
        lines += [f"  [b]{k:<{width}}[/b]  {v}" for k, v in self._keys]
        lines += ["", "[b]Everywhere[/b]", ""]
        lines += [f"  [b]{k:<{width}}[/b]  {v}" for k, v in GLOBAL_KEYS]
        lines += ["", "[dim]Esc closes this help.[/dim]"]
        with Vertical(id="help-box"):
            yield Static("\n".join(lines), id="help-text")
