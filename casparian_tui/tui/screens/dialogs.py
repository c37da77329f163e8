"""Small modal dialogs: add a source, make a rule, tag and untag files, filter the table, confirm."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from casparian_tui.tui.widgets.text_input import TextInput

from casparian_tui.errors import CasparianError
from casparian_tui.scout.catalog import FILE_STATUSES


class DialogScreen(ModalScreen):
    BINDINGS = [("escape", "cancel", "Cancel")]
    TITLE_TEXT = ""

    def action_cancel(self) -> None:
        self.dismiss(None)

    def show_error(self, text: str) -> None:
        err = self.query_one("#dialog-error", Static)
        err.update(text)
        err.display = bool(text)

    def _buttons(self, ok: str) -> Horizontal:
        return Horizontal(Button(ok, variant="primary", id="ok"), Button("Cancel", id="cancel"), classes="dialog-buttons")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self.submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.submit()

    def submit(self) -> None:  # pragma: no cover - every dialog overrides it
        raise NotImplementedError


class AddSourceDialog(DialogScreen):
    """Asks for a folder; a missing or unreadable path is an inline error."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add a source folder", classes="dialog-title")
            yield TextInput(placeholder="/path/to/evidence", id="path")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield self._buttons("Add and scan")

    def on_mount(self) -> None:
        self.show_error("")
        # Now, not via call_later: keys typed right after the dialog opens are already queued.
        self.set_focus(self.query_one("#path", Input))

    def submit(self) -> None:
        from casparian_tui.scout.sources import resolve_root

        raw = self.query_one("#path", Input).value.strip()
        try:
            resolve_root(raw)
        except CasparianError as err:
            self.show_error(err.message)
            return
        self.dismiss(raw)


@dataclass
class RuleRequest:
    tag: str
    priority: int


class RuleDialog(DialogScreen):
    """Turns the current pattern into a tagging rule."""

    def __init__(self, pattern: str, count: int | None):
        super().__init__()
        self.pattern = pattern
        self.count = count

    def compose(self) -> ComposeResult:
        matches = f" ({self.count:,} files now)" if self.count is not None else ""
        with Vertical(classes="dialog"):
            yield Label("New tagging rule", classes="dialog-title")
            yield Static(f"Pattern: {self.pattern}{matches}", markup=False)
            yield TextInput(placeholder="tag, e.g. evtx", id="tag")
            yield TextInput(value="0", placeholder="priority (list order only)", id="priority")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield self._buttons("Create rule")

    def on_mount(self) -> None:
        self.show_error("")
        # Now, not via call_later: keys typed right after the dialog opens are already queued.
        self.set_focus(self.query_one("#tag", Input))

    def submit(self) -> None:
        tag = self.query_one("#tag", Input).value.strip()
        prio = self.query_one("#priority", Input).value.strip() or "0"
        if not tag:
            self.show_error("Give the tag this rule sets.")
            return
        try:
            priority = int(prio)
        except ValueError:
            self.show_error("Priority must be a whole number.")
            return
        self.dismiss(RuleRequest(tag, priority))


class TagDialog(DialogScreen):
    """Asks for the manual tag to give the selected files."""

    def __init__(self, n_files: int):
        super().__init__()
        self.n_files = n_files

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Tag {self.n_files:,} selected file(s)", classes="dialog-title")
            yield TextInput(placeholder="tag", id="tag")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield self._buttons("Tag")

    def on_mount(self) -> None:
        self.show_error("")
        # Now, not via call_later: keys typed right after the dialog opens are already queued.
        self.set_focus(self.query_one("#tag", Input))

    def submit(self) -> None:
        tag = self.query_one("#tag", Input).value.strip()
        if not tag:
            self.show_error("Give a tag.")
            return
        self.dismiss(tag)


@dataclass
class FilterRequest:
    tag: str
    status: str
    extension: str


class FilterDialog(DialogScreen):
    """Filters the file table by tag, status and extension (empty = any)."""

    def __init__(self, current: FilterRequest):
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Filter files (empty = any; tag '-' = untagged)", classes="dialog-title")
            yield TextInput(value=self.current.tag, placeholder="tag", id="tag")
            yield TextInput(value=self.current.status, placeholder="status: pending, queued, processed, failed", id="status")
            yield TextInput(value=self.current.extension, placeholder="extension, e.g. csv", id="ext")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield self._buttons("Apply")

    def on_mount(self) -> None:
        self.show_error("")
        # Now, not via call_later: keys typed right after the dialog opens are already queued.
        self.set_focus(self.query_one("#tag", Input))

    def submit(self) -> None:
        status = self.query_one("#status", Input).value.strip().lower()
        if status and status not in FILE_STATUSES:
            self.show_error(f"Status is one of: {', '.join(FILE_STATUSES)}.")
            return
        self.dismiss(
            FilterRequest(
                self.query_one("#tag", Input).value.strip(),
                status,
                self.query_one("#ext", Input).value.strip(),
            )
        )


class ConfirmDialog(DialogScreen):
    """Asks yes or no before a step that is not undone by accident; No has the focus (Enter = no)."""

    BINDINGS = [("escape", "cancel", "Cancel"), ("n", "cancel", "No"), ("y", "confirm", "Yes")]

    def __init__(self, title: str, body: str, yes: str, no: str = "Cancel"):
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, markup=False, id="confirm-body")
            yield Horizontal(Button(f"{self.yes} (y)", variant="warning", id="ok"),
                             Button(f"{self.no} (n)", id="cancel"), classes="dialog-buttons")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#cancel", Button))

    def action_confirm(self) -> None:
        self.dismiss(True)

    def submit(self) -> None:
        self.dismiss(True)


class UntagDialog(DialogScreen):
    """Asks which tag to remove from the selected files; offers the tags they carry."""

    def __init__(self, n_files: int, carried: list[str]):
        super().__init__()
        self.n_files = n_files
        self.carried = carried

    def compose(self) -> ComposeResult:
        carried = ", ".join(self.carried) if self.carried else "(none)"
        with Vertical(classes="dialog"):
            yield Label(f"Remove a tag from {self.n_files:,} selected file(s)", classes="dialog-title")
            yield Static(f"Their tags: {carried}", markup=False)
            yield TextInput(value=self.carried[0] if len(self.carried) == 1 else "", placeholder="tag to remove", id="tag")
            yield Static(Text("Rules will not give it back to these files; tagging them by hand does.", style="dim"))
            yield Static("", id="dialog-error", classes="dialog-error")
            yield self._buttons("Untag")

    def on_mount(self) -> None:
        self.show_error("")
        # Now, not via call_later: keys typed right after the dialog opens are already queued.
        self.set_focus(self.query_one("#tag", Input))

    def submit(self) -> None:
        tag = self.query_one("#tag", Input).value.strip()
        if not tag:
            self.show_error("Give the tag to remove.")
            return
        if self.carried and tag not in self.carried:
            self.show_error(f"None of these files carries {tag!r}.")
            return
        self.dismiss(tag)
