"""`3` Parser Bench (being built)."""
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Static

from casparian_tui.tui.widgets.status_bar import StatusBar


class BenchScreen(Screen):
    TITLE = "Parser Bench"
    HELP_KEYS: list = []

    def compose(self) -> ComposeResult:
        yield Static("Casparian Flow — 3 Parser Bench", classes="screen-title")
        yield Static("")
        yield StatusBar()
        yield Footer()
