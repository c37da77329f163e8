"""The status bar on every screen: backend · database · lease state · activity."""

from __future__ import annotations

import os

from rich.text import Text
from textual.widgets import Static

from casparian_tui.db.status import SHARED, lease_state, other_activity
from casparian_tui.tui.widgets.refill import update_static


def short_path(path) -> str:
    text = str(path)
    home = os.path.expanduser("~")
    if home not in ("", "/") and text.startswith(home + os.sep):
        return "~" + text[len(home):]
    return text


class StatusBar(Static):
    """Re-reads the lease state a few times a second; never waits on the database."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def on_mount(self) -> None:
        self.update_status()
        self.set_interval(self.app.status_interval, self.update_status)

    def update_status(self) -> None:
        if not self.screen.is_current:  # every screen has a bar; the hidden ones wait for their turn
            return
        app = self.app
        db = app.db
        state = lease_state(db)
        # One row (see the CSS): a long holder command is cut at the edge, not
        # wrapped onto an invisible second line (which hid all after "PID n:").
        text = Text()
        if db.read_only:
            text.append(" READ-ONLY ", style="bold black on yellow")
            text.append(" ")
        text.append(db.backend, style="bold")
        text.append(" · ")
        if app.run_progress:  # before the location: on a narrow terminal the end of the bar is cut
            text.append(app.run_progress, style="magenta")
            text.append(" · ")
        text.append(short_path(db.location))
        text.append(" · ")
        style = "green" if state in ("writer", SHARED) else (
            "yellow" if state.startswith(("waiting", "read-only", "reading through")) else "red")
        text.append(state, style=style)
        activity = app.activity or other_activity(db)
        if activity:
            text.append(" · ")
            text.append(activity, style="cyan")
        # Twice a second: most ticks change nothing, and the bar is one row
        # whatever it says (CSS), so no relayout of the screen either.
        update_static(self, text, layout=False)
