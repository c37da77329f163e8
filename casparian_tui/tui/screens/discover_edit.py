"""Discover's keys that change rules and tags after the fact, the file table's sort, its detail view.

A mixin of `DiscoverScreen`: delete or switch off a rule from the Rules
panel, remove a tag from the selected files, sort the file table, open a
file's detail view (Enter). Each write goes through a service inside one
`db_write`, then the panels reload.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from casparian_tui.errors import CasparianError
from casparian_tui.scout import catalog, rules, tags
from casparian_tui.tui.screens.dialogs import ConfirmDialog, UntagDialog

# `o` cycles these; sizes and times read best largest / newest first.
SORT_CYCLE = (("path", False), ("size", True), ("mtime", True))
SORT_LABELS = {"path": "path", "size": "size", "mtime": "modified"}


def rule_cells(rule: rules.Rule) -> tuple:
    """A Rules panel row; a disabled rule is struck through and says `off`."""
    style = "" if rule.enabled else "dim strike"
    return Text(rule.pattern, style=style), Text(rule.tag, style=style), str(rule.priority) if rule.enabled else "off"


class DiscoverEditMixin:
    sort: str = "path"
    descending: bool = False

    # ---- the Rules panel -------------------------------------------------
    def on_descendant_focus(self, event) -> None:
        # The rules cursor shows only while the panel has focus: it is where d and e act.
        if getattr(event.widget, "id", None) == "rules-table":
            event.widget.show_cursor = True

    def on_descendant_blur(self, event) -> None:
        if getattr(event.widget, "id", None) == "rules-table":
            event.widget.show_cursor = False

    def _rule_under_cursor(self) -> int | None:
        table = self.query_one("#rules-table", DataTable)
        if self.focused is not table:
            self.app.notify("Tab to the Rules panel and pick a rule first.", severity="warning")
            return None
        if table.row_count == 0:
            self.app.notify("No rules yet: / for a pattern, then n.", severity="warning")
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_delete_rule(self) -> None:
        if self.app.refuse_in_read_only("delete a rule"):
            return
        rule_id = self._rule_under_cursor()
        if rule_id is None:
            return

        async def ask():
            try:
                rule = await self.app.db_read(lambda c: rules.get_rule(c, rule_id))
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            dialog = ConfirmDialog(
                f"Delete rule {rule.pattern} → {rule.tag}?",
                "Its files keep the tag only where another rule or a manual tag gives it.",
                "Delete",
            )
            self.app.push_screen(dialog, lambda yes: self._delete_rule(rule_id) if yes else None)

        self.run_worker(ask(), group="write")

    def _delete_rule(self, rule_id: int) -> None:
        def write(conn):
            rule = rules.remove_rule(conn, rule_id)
            rules.apply_rules(conn)
            return rule

        async def go():
            try:
                rule = await self.app.db_write("delete a rule", write)
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            self.app.notify(f"Rule {rule.pattern} → {rule.tag} deleted.")
            await self.load_rules()
            await self.load_files()

        self.run_worker(go(), group="write")

    def action_toggle_rule(self) -> None:
        if self.app.refuse_in_read_only("enable or disable a rule"):
            return
        rule_id = self._rule_under_cursor()
        if rule_id is None:
            return

        def write(conn):
            rule = rules.set_enabled(conn, rule_id, not rules.get_rule(conn, rule_id).enabled)
            rules.apply_rules(conn)
            return rule

        async def go():
            try:
                rule = await self.app.db_write("enable or disable a rule", write)
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            state = "enabled" if rule.enabled else "disabled: its tags are gone until you enable it"
            self.app.notify(f"Rule {rule.pattern} → {rule.tag} {state}.")
            await self.load_rules()
            await self.load_files()

        self.run_worker(go(), group="write")

    # ---- untag -----------------------------------------------------------
    def action_untag(self) -> None:
        if self.app.refuse_in_read_only("untag files"):
            return
        if not self.selected:
            self.app.notify("Select files with space first.", severity="warning")
            return
        ids = sorted(self.selected)

        async def ask():
            carried = await self.app.db_read(lambda c: catalog.tags_for(c, ids))
            names = sorted({t for file_tags in carried.values() for t in file_tags})
            if not names:
                self.app.notify("The selected files carry no tag.", severity="warning")
                return
            self.app.push_screen(UntagDialog(len(ids), names), lambda tag: self._untag_files(ids, tag))

        self.run_worker(ask(), group="write")

    def _untag_files(self, ids: list[int], tag: str | None) -> None:
        if not tag:
            return

        async def go():
            try:
                n = await self.app.db_write("untag files", lambda c: tags.untag_file_ids(c, ids, tag))
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            self.selected.clear()
            self.app.notify(f"Removed {tag} from {n:,} file(s).")
            await self.load_files()

        self.run_worker(go(), group="write")

    # ---- file detail -----------------------------------------------------
    def on_data_table_row_selected(self, event) -> None:
        if event.data_table.id != "files" or event.row_key.value is None:
            return
        file_id = int(event.row_key.value)

        async def show():
            from casparian_tui.scout.file_detail import file_detail
            from casparian_tui.tui.screens.file_detail import FileDetailScreen

            try:
                detail = await self.app.db_read(lambda c: file_detail(c, file_id))
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            self.app.push_screen(FileDetailScreen(detail))

        self.run_worker(show(), group="detail")

    # ---- sort ------------------------------------------------------------
    def action_cycle_sort(self) -> None:
        keys = [s for s, _ in SORT_CYCLE]
        nxt = SORT_CYCLE[(keys.index(self.sort) + 1) % len(SORT_CYCLE)] if self.sort in keys else SORT_CYCLE[0]
        self.sort, self.descending = nxt
        self._resort()

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self._resort()

    def _resort(self) -> None:
        self.page_offset = 0
        self.app.notify(f"Sorted by {self.sort_label()}.")
        self.run_worker(self.load_files(), exclusive=True, group="files")

    def sort_label(self) -> str:
        return f"{SORT_LABELS[self.sort]} {'↓' if self.descending else '↑'}"
