"""Inputs: no blinking in deterministic (test and snapshot) runs, and a clean hand-over on Enter."""

from textual import events
from textual.widgets import Input


class TextInput(Input):
    """An Input; with `leave_to` (a selector on its screen), Enter also moves the focus there.

    The move happens when this Input handles the Enter key itself, not in the
    Enter binding or a Submitted handler: those run after keys already queued
    for this Input (`n` for a new rule, typed right after Enter) have been
    typed into it. A key that still arrives after the focus moved is passed on
    to the app, which delivers it to the widget that has the focus now.
    """

    def __init__(self, *args, leave_to: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.leave_to = leave_to

    def on_mount(self) -> None:
        if getattr(self.app, "deterministic", False):
            self.cursor_blink = False

    async def _on_key(self, event: events.Key) -> None:
        if self.leave_to:
            if self.screen.focused is not self:
                event.stop()
                event.prevent_default()
                self.app.post_message(events.Key(event.key, event.character))
                return
            if event.key == "enter":
                # Handled here rather than by the Enter binding: the binding runs
                # only after keys already queued for this Input have been typed in.
                event.stop()
                event.prevent_default()
                self.screen.set_focus(self.screen.query_one(self.leave_to))
                await self.action_submit()
                return
        await super()._on_key(event)
