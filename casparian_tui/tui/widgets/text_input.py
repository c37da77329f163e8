"""Inputs that never drop or reorder a key, with a clean hand-over on Enter."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class TextInput(Input):
    """An Input whose editing keys act in the order they were typed.

    Textual inserts a printable key as soon as the Input handles it, but runs
    a bound key (Backspace, Ctrl+U, arrows, Tab, the screen's Esc…) only after
    the key has bubbled up to the app. When the app is busy (previews in
    flight), characters typed after such a key overtake it: `**/*.py` +
    BSpace BSpace `so` became `**/*.pyso` and then `**/*.py`, and `20` typed
    after Tab landed in the box Tab was leaving. So a bound key runs here, in
    arrival order, with the binding the focus chain gives it (the app's
    priority keys never reach an Input, as before).

    A key that arrives after a key ahead of it moved the focus away is passed
    on to the app, which delivers it to the widget that has the focus now.
    With `leave_to` (a selector on its screen), Enter also moves the focus
    there.
    """

    def __init__(self, *args, leave_to: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.leave_to = leave_to

    def on_mount(self) -> None:
        if getattr(self.app, "deterministic", False):
            self.cursor_blink = False

    async def _on_key(self, event: events.Key) -> None:
        if self.app.focused is not self:
            # Queued for us before a key ahead of it (Tab, Enter) moved the focus.
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        if self.leave_to:
            if event.key == "enter":
                # Here rather than in a Submitted handler: keys already queued
                # for this Input (`n` for a new rule) must reach the new focus.
                event.stop()
                event.prevent_default()
                self.screen.set_focus(self.screen.query_one(self.leave_to))
                await self.action_submit()
                return
        if not event.is_printable:
            active = self.screen.active_bindings
            bound = next((active[k] for k in event.aliases if k in active), None)
            if bound is not None and bound.enabled:
                event.stop()
                event.prevent_default()
                await self.app.run_action(bound.binding.action, bound.node)
                return
        await super()._on_key(event)
