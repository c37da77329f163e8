"""Discover's filters: tag / status / extension (`f`) and content (`c`).

The content filter narrows the file table to duplicates, to files in or
not in a hash set, or to what the latest scan found new, changed or
renamed. The SQL lives in the services (`FileFilter`'s content fields);
here are only the dialog, the choice, and the line that says what is on.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, RadioButton, RadioSet, Static

from casparian_tui.scout import catalog
from casparian_tui.tui.screens.dialogs import DialogScreen, FilterDialog, FilterRequest
from casparian_tui.tui.widgets.refill import update_static
from casparian_tui.tui.widgets.text_input import TextInput

# (kind, radio label, table-info label)
CONTENT_KINDS = (
    ("", "any content", ""),
    ("dupes", "duplicates (an identical copy exists)", "duplicates"),
    ("in", "in hash set …", "in hash set {}"),
    ("not-in", "not in hash set …", "not in hash set {}"),
    ("changed", "changed in last scan (new, changed, renamed)", "changed in last scan"),
)


@dataclass(frozen=True)
class ContentFilter:
    kind: str = ""
    set_name: str = ""

    def label(self) -> str:
        text = next(info for kind, _radio, info in CONTENT_KINDS if kind == self.kind)
        return text.format(self.set_name)

    def apply(self, conn, flt: catalog.FileFilter) -> catalog.FileFilter:
        """Fill `flt`'s content fields; runs on the DB thread (the latest scan is read there)."""
        if self.kind == "dupes":
            flt.duplicates = True
        elif self.kind == "in":
            flt.in_hashsets = [self.set_name]
        elif self.kind == "not-in":
            flt.not_in_hashsets = [self.set_name]
        elif self.kind == "changed":
            from casparian_tui.scout.scan_changes import latest_scan_id

            # No scan yet: a scan id no row carries, so nothing matches.
            flt.changed_in_scan = latest_scan_id(conn, flt.source_id) or 0
        return flt


class ContentFilterDialog(DialogScreen):
    """Pick one content filter; a hash-set choice needs one of the known sets."""

    def __init__(self, current: ContentFilter, set_names: list[str]):
        super().__init__()
        self.current = current
        self.set_names = set_names

    def compose(self) -> ComposeResult:
        sets = ", ".join(self.set_names) if self.set_names else "none yet (casparian hashset import NAME FILE)"
        with Vertical(classes="dialog"):
            yield Label("Filter files by content", classes="dialog-title")
            with RadioSet(id="content-kind"):
                for kind, radio, _info in CONTENT_KINDS:
                    yield RadioButton(radio, value=kind == self.current.kind, id=f"kind-{kind or 'any'}")
            yield TextInput(value=self.current.set_name, placeholder="hash set name", id="set-name")
            yield Static(Text(f"Hash sets: {sets}", style="dim"), id="set-names")
            yield Static("", id="dialog-error", classes="dialog-error")
            yield self._buttons("Apply")

    def on_mount(self) -> None:
        self.show_error("")
        self.set_focus(self.query_one("#content-kind", RadioSet))

    def chosen_kind(self) -> str:
        pressed = self.query_one("#content-kind", RadioSet).pressed_index
        return CONTENT_KINDS[pressed][0] if pressed >= 0 else ""

    def submit(self) -> None:
        kind = self.chosen_kind()
        name = self.query_one("#set-name", Input).value.strip()
        if kind in ("in", "not-in"):
            if not name and len(self.set_names) == 1:
                name = self.set_names[0]  # nothing to choose between
            if name not in self.set_names:
                self.show_error(f"No hash set named {name!r}." if name else "Type the name of a hash set.")
                self.set_focus(self.query_one("#set-name", Input))
                return
        else:
            name = ""
        self.dismiss(ContentFilter(kind, name))


class DiscoverFilterMixin:
    """The filter state of DiscoverScreen, its dialogs, and the table-info line."""

    filters: FilterRequest
    content: ContentFilter = ContentFilter()

    def current_filter(self) -> catalog.FileFilter:
        f = self.filters
        flt = catalog.FileFilter.build(
            source_id=self.source_id,
            tag=f.tag if f.tag and f.tag != "-" else None,
            untagged=f.tag == "-",
            statuses=[f.status] if f.status else [],
            extensions=[f.extension] if f.extension else [],
            patterns=[self.pattern] if self.pattern else [],
        )
        if self.folder is not None and self.folder[1]:
            flt.under = self.folder
        return flt

    def update_table_info(self, shown: int) -> None:
        parts = []
        if self.file_total:
            parts.append(f"files {self.page_offset + 1:,}–{self.page_offset + shown:,} of {self.file_total:,}")
        else:
            parts.append("no files match")
        f = self.filters
        for label, value in (("tag", f.tag), ("status", f.status), ("ext", f.extension)):
            if value:
                parts.append(f"{label}={'untagged' if label == 'tag' and value == '-' else value}")
        if self.content.kind:
            parts.append(self.content.label())
        if self.folder and self.folder[1]:
            parts.append(f"folder={self.folder[1]}")
        if (self.sort, self.descending) != ("path", False):
            parts.append(f"sorted by {self.sort_label()}")
        if self.selected:
            parts.append(f"{len(self.selected):,} selected")
        # One row by the CSS whatever the text, so no layout pass is needed.
        update_static(self.query_one("#table-info", Static), Text(" · ".join(parts)), layout=False)

    def action_filter(self) -> None:
        self.app.push_screen(FilterDialog(self.filters), self._filter_chosen)

    def _filter_chosen(self, req: FilterRequest | None) -> None:
        if req is None:
            return
        self.filters = req
        self._refilter()

    def action_content_filter(self) -> None:
        async def ask():
            from casparian_tui.scout.hashsets import set_names

            names = await self.app.db_read(set_names)
            self.app.push_screen(ContentFilterDialog(self.content, names), self._content_chosen)

        self.run_worker(ask(), group="content-filter")

    def _content_chosen(self, chosen: ContentFilter | None) -> None:
        if chosen is None:
            return
        self.content = chosen
        self._refilter()

    def _refilter(self) -> None:
        self.page_offset = 0
        self.run_worker(self.load_files(), exclusive=True, group="files")
