"""The base of the mode screens (1-4): coming back to a screen does not restyle it needlessly.

On every screen switch Textual re-applies the whole stylesheet to the resumed
screen, and each DataTable then drops all its render caches and re-renders
every visible cell through Rich: most of a later visit's cost. Textual already
brings a screen up to date itself when the CSS or theme changed while it was
away (switch_mode compares `_css_update_count`); the restyle on resume is then
only needed when the terminal's focus changed while away (`app_focus` restyles
only the current screen). So it is skipped unless that happened.
"""

from __future__ import annotations

from textual import events
from textual.screen import Screen


class ModeScreen(Screen):
    _app_focus_when_left: bool | None = None

    def _on_screen_suspend(self) -> None:
        self._app_focus_when_left = self.app.app_focus

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Screen's own handler (Textual dispatches down the MRO).
        if self._app_focus_when_left is not None and self._app_focus_when_left == self.app.app_focus:
            event.refresh_styles = False
