"""The Textual app: five screens over the same services the CLI uses."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from casparian_tui.db import Database
from casparian_tui.db.connection import Connection
from casparian_tui.errors import ReadOnlyViolation
from casparian_tui.tui.messages import CatalogChanged
from casparian_tui.tui.runs import RunWatcher
from casparian_tui.tui.screens.bench import BenchScreen
from casparian_tui.tui.screens.discover import DiscoverScreen
from casparian_tui.tui.screens.help import HelpScreen
from casparian_tui.tui.screens.jobs import JobsScreen
from casparian_tui.tui.screens.query import QueryScreen
from casparian_tui.tui.screens.settings import SettingsScreen


class CasparianApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "Casparian Flow"
    MODES = {
        "discover": DiscoverScreen,
        "jobs": JobsScreen,
        "bench": BenchScreen,
        "settings": SettingsScreen,
        "query": QueryScreen,
    }
    DEFAULT_MODE = "discover"
    BINDINGS = [
        Binding("1", "switch_mode('discover')", "Discover"),
        Binding("2", "switch_mode('jobs')", "Jobs"),
        Binding("3", "switch_mode('bench')", "Bench"),
        Binding("4", "switch_mode('settings')", "Settings"),
        Binding("5", "switch_mode('query')", "Query"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]
    ENABLE_COMMAND_PALETTE = False

    activity: reactive[str] = reactive("")
    run_progress: reactive[str] = reactive("")  # background runs started here (tui/runs.py)

    def __init__(self, db: Database, *, status_interval: float = 0.5, parser_dir=None, deterministic: bool = False):
        super().__init__()
        self.db = db
        # Tests and snapshots: no blinking cursors, nothing that depends on the clock.
        self.deterministic = deterministic
        self.status_interval = status_interval
        self.parser_dir = parser_dir
        self.last_refresh_ms = 0.0
        self.changes = db.change_watch()
        self.catalog_stamp = self.changes.read()
        self.runs = RunWatcher(self)

    def notify(self, message: str, *, markup: bool = False, **kwargs) -> None:
        # Messages carry paths, glob patterns and errors: a "[ab]" would vanish
        # as a style and a "[/x]" would fail to render, so text, never markup.
        super().notify(message, markup=markup, **kwargs)

    def on_mount(self) -> None:
        self.set_interval(max(self.status_interval * 2, 0.2), self.check_for_changes)

    # ---- changes made by any process ------------------------------------------
    def check_for_changes(self) -> None:
        """Tell the shown screen when a write was committed (here or elsewhere).

        Reads the change stamp beside the database (on a server, the NOTIFYs
        its connection already received), never the database itself: an idle
        TUI costs next to nothing, and a screen re-queries only when something
        changed. Screens not shown catch up when they come back (ModeScreen.stale).
        """
        stamp = self.changes.read()
        changed = stamp != self.catalog_stamp
        if changed:
            self.catalog_stamp = stamp
            self.screen.post_message(CatalogChanged("the database changed"))
        self.runs.tick(changed)

    # ---- the database, without ever blocking the UI thread -----------------
    async def db_read(self, fn: Callable[[Connection], Any]) -> Any:
        return await asyncio.wrap_future(self.db.submit_read(fn))

    async def db_write(self, action: str, fn: Callable[[Connection], Any]) -> Any:
        if self.db.read_only:
            raise ReadOnlyViolation(action)
        return await asyncio.wrap_future(self.db.submit_write(action, fn))

    def refuse_in_read_only(self, action: str) -> bool:
        """True (and a message) when a write key is pressed in read-only mode."""
        if not self.db.read_only:
            return False
        self.notify(
            f"Read-only: cannot {action}. Ask for write access in Settings (4).",
            title="Read-only",
            severity="warning",
        )
        return True

    # ---- screen switches -------------------------------------------------------
    _unmasked_switch = False

    def switch_mode(self, mode: str):
        # Textual hides every mode switch behind a 50 ms pause of all painting
        # (delay_update) so a screen being built is not seen half done. A
        # screen visited before is already built: show it at the next frame.
        self._unmasked_switch = mode in self._screen_stacks  # private; textual is pinned
        try:
            return super().switch_mode(mode)
        finally:
            self._unmasked_switch = False

    def delay_update(self, delay: float = 0.05) -> None:
        if not self._unmasked_switch:
            super().delay_update(delay)

    # ---- keys ----------------------------------------------------------------
    def action_help(self) -> None:
        screen = self.screen
        keys = getattr(screen, "HELP_KEYS", [])
        self.push_screen(HelpScreen(getattr(screen, "TITLE", "Casparian Flow") or "Casparian Flow", keys))

    def on_unmount(self) -> None:
        self.db.close()
