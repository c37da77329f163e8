"""The base of the mode screens (1-4): coming back to a screen does not restyle it needlessly.

On every screen switch Textual re-applies the whole stylesheet to the resumed
screen, and each DataTable then drops all its render caches and re-renders
every visible cell through Rich: most of a later visit's cost. Textual already
brings a screen up to date itself when the CSS or theme changed while it was
away (switch_mode compares `_css_update_count`); the restyle on resume is then
only needed when the terminal's focus changed while away (`app_focus` restyles
only the current screen). So it is skipped unless that happened.

It also remembers which database change stamp a screen last loaded, so a
screen coming back reloads only when the database changed while it was away.
"""

from __future__ import annotations

from textual import events
from textual._context import NoActiveAppError
from textual.screen import Screen

from casparian_tui.tui.widgets.status_bar import StatusBar

_NEVER = object()  # a screen that has not loaded yet is not stale: its first load is on its way


class ModeScreen(Screen):
    _app_focus_when_left: bool | None = None
    _loaded_stamp: object = _NEVER

    def mark_loaded(self) -> None:
        """Call as a load starts: it shows the database as of the app's current change stamp."""
        self._loaded_stamp = self.app.catalog_stamp

    @property
    def stale(self) -> bool:
        """The database changed since this screen last loaded (False before its first load)."""
        return self._loaded_stamp is not _NEVER and self._loaded_stamp != self.app.catalog_stamp

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A new Screen says "styled for no CSS yet" (-1), so the first switch to
        # its mode re-tokenizes every stylesheet source and restyles every
        # screen, twice (_init_mode, then switch_mode): about half of a first
        # visit. A screen made now is styled as its widgets mount, from the
        # current rules and theme variables; a later CSS/theme change still
        # bumps the app's count and reaches it as usual.
        # Likewise its first resumes (two: _init_mode and switch_mode each post
        # one) need no restyle: its widgets are styled as they mount.
        try:
            self._css_update_count = self.app._css_update_count
            self._app_focus_when_left = self.app.app_focus
        except NoActiveAppError:  # built outside a running app: keep Textual's defaults
            pass

    def _on_screen_suspend(self) -> None:
        self._app_focus_when_left = self.app.app_focus

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Runs before Screen's own handler (Textual dispatches down the MRO).
        if self._app_focus_when_left is not None and self._app_focus_when_left == self.app.app_focus:
            event.refresh_styles = False
        for bar in self.query(StatusBar):  # it skipped its ticks while we were away
            bar.update_status()
