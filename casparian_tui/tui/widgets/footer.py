"""Textual's Footer, rebuilt only when the keys it shows change.

Textual's Footer recomposes (unmounts and mounts a FooterKey widget per key,
each restyled) on every bindings signal: every screen switch and every focus
change, even when it would show the same keys. On the Discover screen that
was the largest part of a screen switch (about 13 keys; ~60 ms on a loaded
2-core machine, more than the repaint). Same widgets, same look: only the
redundant rebuilds are skipped.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple | None = None  # what the last compose() showed

    def _keys_shown(self) -> tuple:
        """Everything compose() reads to build the keys (same order)."""
        app = self.app
        keys = tuple(
            (binding.key, app.get_key_display(binding), binding.description, binding.action,
             binding.group, binding.tooltip, enabled, tooltip)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show
        )
        return keys, self.show_command_palette, app.ENABLE_COMMAND_PALETTE

    def compose(self):
        self._shown = self._keys_shown() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if self.is_attached and self._keys_shown() != self._shown:
            await self.recompose()
