"""`1` Discover: sources and folders, the file table, live pattern preview, rules and tags."""

from __future__ import annotations

import asyncio
import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Input, Label, Static, Tree

from casparian_tui.errors import CasparianError
from casparian_tui.scout import catalog, rules, tags
from casparian_tui.scout.preview import Preview, preview
from casparian_tui.tui.messages import CatalogChanged, ScanFinished, ScanProgressed
from casparian_tui.tui.screens.base import ModeScreen
from casparian_tui.tui.screens.discover_edit import DiscoverEditMixin, rule_cells
from casparian_tui.tui.screens.dialogs import AddSourceDialog, FilterRequest, RuleDialog, RuleRequest, TagDialog
from casparian_tui.tui.screens.discover_filters import DiscoverFilterMixin
from casparian_tui.tui.screens.discover_frequency import DiscoverFrequencyMixin
from casparian_tui.tui.screens.file_table import FileTableLayout
from casparian_tui.tui.widgets.fixed_table import FixedTable
from casparian_tui.tui.widgets.footer import Footer
from casparian_tui.units import human_bytes
from casparian_tui.tui.widgets.lifecycle import quiet_if_gone
from casparian_tui.tui.widgets.preview_text import render_preview
from casparian_tui.tui.widgets.refill import forget, refill
from casparian_tui.tui.widgets.scan_bar import ScanBar
from casparian_tui.tui.widgets.status_bar import StatusBar
from casparian_tui.tui.widgets.text_input import TextInput

PAGE = 100
PREVIEW_DEBOUNCE_S = 0.15

HELP_KEYS = [
    ("s", "add a source folder, then scan it"),
    ("r", "rescan the selected source"),
    ("/", "pattern box with live preview (Esc clears)"),
    ("n", "new tagging rule from the current pattern"),
    ("Enter", "file detail: path, times, tags and why, jobs"),
    ("space", "select / unselect the file under the cursor"),
    ("t", "tag the selected files"),
    ("u", "remove a tag from the selected files"),
    ("o O", "sort by path / size / modified; reverse"),
    ("d", "Rules panel: delete the rule (asks first)"),
    ("e", "Rules panel: disable / enable the rule"),
    ("f", "filter by tag, status, extension"),
    ("c", "filter: duplicates, hash set, changed in last scan"),
    ("F", "frequency: folder, extension, tag, size, status"),
    ("] [", "next / previous page of files"),
    ("Esc", "cancel a scan; clear the pattern and leave the box"),
]


class DiscoverScreen(DiscoverFilterMixin, DiscoverFrequencyMixin, DiscoverEditMixin, ModeScreen):
    TITLE = "Discover"
    BINDINGS = [
        Binding("s", "add_source", "Add source"),
        Binding("r", "rescan", "Rescan"),
        Binding("slash", "pattern", "Pattern"),
        Binding("n", "new_rule", "New rule"),
        Binding("space", "toggle_select", "Select", show=False),
        Binding("t", "tag", "Tag"),
        Binding("u", "untag", "Untag", show=False),
        Binding("f", "filter", "Filter"),
        Binding("c", "content_filter", "Content", show=False),
        Binding("F", "frequency", "Frequency", show=False),
        Binding("o", "cycle_sort", "Sort", show=False),
        Binding("O", "reverse_sort", "Reverse sort", show=False),
        Binding("d", "delete_rule", "Delete rule", show=False),
        Binding("e", "toggle_rule", "Rule on/off", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", show=False),
        Binding("left_square_bracket", "page(-1)", "Prev page", show=False),
        Binding("escape", "escape", "Cancel/clear", show=False),
    ]
    HELP_KEYS = HELP_KEYS

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.file_total = 0
        self.selected: set[int] = set()
        self.file_layout = FileTableLayout()
        self.file_rows: list[dict] = []
        self.source_id: int | None = None
        self.folder: tuple[int, str] | None = None
        self.filters = FilterRequest("", "", "")
        self.pattern = ""
        self.last_preview: Preview | None = None
        self._preview_seq = 0
        self._debounce: Timer | None = None
        self._scanner = None
        self.source_ids: list[int] = []

    # ---- layout ----------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("Casparian Flow — 1 Discover", classes="screen-title")
        with Horizontal(id="discover-body"):
            with Vertical(id="discover-left"):
                yield Label("Sources", classes="section")
                yield Tree("Catalog", id="source-tree")
                yield Label("Rules", classes="section")
                yield DataTable(id="rules-table", cursor_type="row", show_cursor=False)
            with Vertical(id="discover-right"):
                yield TextInput(placeholder="/  glob pattern with live preview, e.g. **/*.csv — Esc clears", id="pattern",
                                leave_to="#files")
                yield Static("", id="preview")
                yield Static("", id="empty-state")
                yield Static("", id="table-info")
                yield FixedTable(id="files", cursor_type="row", zebra_stripes=True)
                with Horizontal(id="scan-row"):
                    yield Static("", id="scan-label")
                    yield ScanBar(id="scan-bar")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one("#source-tree", Tree)
        tree.show_root = False
        files = self.query_one("#files", DataTable)
        self.layout_tables(self.app.size.width)
        self.query_one("#preview", Static).display = False
        # Only "/" puts keys into the pattern box; otherwise s, r, n, t… stay keys.
        self.query_one("#pattern", Input).can_focus = False
        self.query_one("#scan-row").display = False
        files.focus()
        self.reload_all()

    # ---- loading ---------------------------------------------------------
    @work(exclusive=True, group="reload-all")
    async def reload_all(self) -> None:
        self.mark_loaded()
        await self.load_sources()
        await self.load_rules()
        await self.load_files()

    @quiet_if_gone
    async def load_sources(self) -> None:
        def read(conn):
            return conn.query_all(
                "SELECT id, name, root, file_count, total_bytes FROM scout_sources ORDER BY name"
            )

        rows = await self.app.db_read(read)
        self.source_ids = [r[0] for r in rows]
        tree = self.query_one("#source-tree", Tree)
        labels = [Text.assemble((name, "bold"), (f" · {count:,} files · {human_bytes(size)}", "dim"))
                  for _sid, name, _root, count, size in rows]
        nodes = list(tree.root.children)
        if [n.data[0] for n in nodes] == self.source_ids:
            # The same sources (a reload after a change): keep what the user
            # expanded; only a source whose counts moved loses its folders,
            # which may have changed, and lists them anew when expanded.
            for node, label in zip(nodes, labels):
                if node.label != label:
                    node.set_label(label)
                    if node.children:
                        node.collapse()
                        node.remove_children()
        else:
            tree.clear()
            for sid, label in zip(self.source_ids, labels):
                tree.root.add(label, data=(sid, ""), allow_expand=True)
        tree.root.expand()
        empty = self.query_one("#empty-state", Static)
        files = self.query_one("#files", DataTable)
        files.display = bool(rows)
        self.query_one("#table-info", Static).display = bool(rows)
        if not rows and self.focused is None:
            tree.focus()
        if rows:
            empty.display = False
        else:
            empty.update(
                "No sources yet.\n\nPress [b]s[/b] to add a folder: Casparian scans it and lists every file here.\n"
                "Or start with sample data: [b]casparian tui --demo[/b]"
            )
            empty.display = True

    @quiet_if_gone
    async def load_rules(self) -> None:
        found = await self.app.db_read(lambda c: rules.list_rules(c))
        table = self.query_one("#rules-table", DataTable)
        table.clear()
        for rule in found:
            table.add_row(*rule_cells(rule), key=str(rule.id))

    @quiet_if_gone
    async def load_files(self) -> None:
        try:
            flt = self.current_filter()
        except CasparianError:
            return  # an invalid pattern is shown by the preview; keep the old table
        offset, sort, descending = self.page_offset, self.sort, self.descending

        content = self.content

        def read(conn):
            content.apply(conn, flt)
            total = catalog.count_files(conn, flt)
            return total, catalog.list_files(conn, flt, sort=sort, descending=descending, limit=PAGE, offset=offset)

        started = time.perf_counter()
        total, rows = await self.app.db_read(read)
        self.app.last_refresh_ms = (time.perf_counter() - started) * 1000
        self.file_total = total
        self.file_rows = rows
        cells = [self.file_layout.file_cells(r, self.selected) for r in rows]
        refill(self.query_one("#files", DataTable), [str(r["id"]) for r in rows], cells)
        self.update_table_info(len(rows))

    @on(CatalogChanged)
    def _catalog_changed(self, _msg: CatalogChanged) -> None:
        self.reload_all()

    def on_resize(self, event) -> None:
        self.layout_tables(event.size.width)

    def layout_tables(self, width: int) -> None:
        """Columns for this width; a rebuilt table is refilled from the rows it showed."""
        if width == self.file_layout.width:
            return
        first = self.file_layout.width == 0  # the first load is on its way
        files_rebuilt, rules_rebuilt = self.file_layout.fit(self, width)
        if files_rebuilt and self.file_rows:
            table = self.query_one("#files", DataTable)
            forget(table)
            refill(table, [str(r["id"]) for r in self.file_rows],
                   [self.file_layout.file_cells(r, self.selected) for r in self.file_rows])
        if rules_rebuilt and not first:
            self.run_worker(self.load_rules(), group="rules")

    def on_screen_resume(self) -> None:
        self.layout_tables(self.app.size.width)  # the terminal may have been resized while away
        if self.stale:  # changed (here or in another process) while another screen was shown
            self.reload_all()

    # ---- tree ------------------------------------------------------------
    @on(Tree.NodeExpanded, "#source-tree")
    @quiet_if_gone
    async def _expand(self, event: Tree.NodeExpanded) -> None:
        node = event.node
        if node.data is None or node.children:
            return
        sid, path = node.data

        def read(conn):
            return conn.query_all(
                "SELECT f.path, f.file_count, EXISTS (SELECT 1 FROM scout_folders c WHERE c.source_id = f.source_id "
                "AND c.parent_path = f.path) FROM scout_folders f WHERE f.source_id = ? AND f.parent_path = ? "
                "ORDER BY f.path",
                (sid, path),
            )

        from casparian_tui.scout.pathcodec import display_name

        for child, count, has_children in await self.app.db_read(read):
            name = display_name(child.rsplit("/", 1)[-1])
            node.add(Text.assemble(name, (f" · {count:,}", "dim")), data=(sid, child), allow_expand=bool(has_children))

    @on(Tree.NodeSelected, "#source-tree")
    def _select_node(self, event: Tree.NodeSelected) -> None:
        if event.node.data is None:
            return
        sid, path = event.node.data
        self.source_id = sid
        self.folder = (sid, path)
        self.page_offset = 0
        self.run_worker(self.load_files(), exclusive=True, group="files")
        if self.pattern:
            self.schedule_preview()

    # ---- paging and selection --------------------------------------------
    def action_page(self, step: int) -> None:
        new = self.page_offset + step * PAGE
        if new < 0 or new >= max(self.file_total, 1):
            return
        self.page_offset = new
        self.run_worker(self.load_files(), exclusive=True, group="files")

    def action_toggle_select(self) -> None:
        table = self.query_one("#files", DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        fid = int(key.value)
        forget(table)  # changed by hand below
        if fid in self.selected:
            self.selected.discard(fid)
            table.update_cell(key, "sel", " ")
        else:
            self.selected.add(fid)
            table.update_cell(key, "sel", "●")
        table.action_cursor_down()
        self.update_table_info(table.row_count)

    # ---- pattern preview -------------------------------------------------
    def action_pattern(self) -> None:
        # The box is always shown: focusing a widget that was hidden a moment
        # ago can lose the keys typed right after "/".
        self.query_one("#preview", Static).display = True
        box = self.query_one("#pattern", Input)
        box.can_focus = True
        # Focus now, not via call_later: keys typed right after "/" are already queued.
        self.set_focus(box)

    @on(Input.Changed, "#pattern")
    def _pattern_changed(self, event: Input.Changed) -> None:
        # Spaces at the ends are part of a pattern, as on the command line;
        # a box of spaces only is no pattern yet.
        self.pattern = event.value if event.value.strip() else ""
        self.page_offset = 0
        self.schedule_preview()

    def schedule_preview(self) -> None:
        self._preview_seq += 1
        if self._debounce is not None:
            self._debounce.stop()
        seq = self._preview_seq
        self._debounce = self.set_timer(PREVIEW_DEBOUNCE_S, lambda: self._start_preview(seq))

    def _start_preview(self, seq: int) -> None:
        self.run_worker(self.run_preview(seq, self.pattern), exclusive=True, group="preview")

    @quiet_if_gone
    async def run_preview(self, seq: int, pattern: str) -> None:
        panel = self.query_one("#preview", Static)
        if not pattern:
            self.last_preview = None
            panel.update("Type a glob: * and ? stay within a folder, ** crosses folders, a pattern without / matches at any depth.")
            await self.load_files()
            return
        source_id = self.source_id
        fut = self.app.db.submit_read(lambda c: preview(c, pattern, source_id=source_id))
        try:
            result = await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            fut.interrupt()  # superseded: drop it before it runs, or stop it
            raise
        except CasparianError as err:
            if seq == self._preview_seq:
                panel.update(Text(f"✗ {err.message}", style="red"))
            return
        if seq != self._preview_seq:
            return  # an answer for an older pattern
        self.last_preview = result
        panel.update(render_preview(result))
        await self.load_files()

    # ---- actions that write ----------------------------------------------
    def action_add_source(self) -> None:
        if self.app.refuse_in_read_only("add a source"):
            return
        self.app.push_screen(AddSourceDialog(), self._source_chosen)

    def _source_chosen(self, path: str | None) -> None:
        if path:
            self.scan(path=path)

    def action_rescan(self) -> None:
        if self.app.refuse_in_read_only("rescan a source"):
            return
        source_id = self.source_id
        if source_id is None and len(self.source_ids) == 1:
            source_id = self.source_ids[0]  # nothing to choose between
        if source_id is None:
            self.app.notify("Select a source in the tree first (Tab to the tree, Enter).", severity="warning")
            return
        self.scan(source_id=source_id)

    @work(thread=True, exclusive=True, group="scan")
    def scan(self, path: str | None = None, source_id: int | None = None) -> None:
        from casparian_tui.scout import sources
        from casparian_tui.scout.scanner import Scanner

        db = self.app.db
        try:
            if path is not None:
                source = sources.add_source(db, path, exist_ok=True)
            else:
                source = db.read(lambda c: sources.get_source_by_id(c, source_id))
            scanner = Scanner(
                db,
                source,
                on_progress=lambda p: self.post_message(
                    ScanProgressed(p.source, p.files_found, p.files_per_s, p.current_dir)
                ),
            )
            self._scanner = scanner
            self.post_message(ScanProgressed(source.name, 0, 0.0, ""))
            result = scanner.run()
        except CasparianError as err:
            self.post_message(ScanFinished("", "failed", 0, err.message))
            return
        finally:
            self._scanner = None
        summary = (
            f"{result.files_found:,} files found in {result.source}"
            f" ({result.new:,} new, {result.changed:,} changed, {result.deleted:,} deleted"
            f"{', ' + format(len(result.errors), ',') + ' errors' if result.errors else ''})"
        )
        if result.status != "completed":
            summary = f"Scan {result.status}: {result.files_found:,} files seen in {result.source}; nothing marked deleted"
        self.post_message(ScanFinished(result.source, result.status, result.files_found, summary))

    @on(ScanProgressed)
    def _scan_progress(self, msg: ScanProgressed) -> None:
        self.query_one("#scan-row").display = True
        label = f"Scanning {msg.source}: {msg.files_found:,} files"
        if msg.files_per_s:
            label += f" ({msg.files_per_s:,.0f}/s)"
        self.query_one("#scan-label", Static).update(Text(label))
        self.query_one("#scan-bar", ScanBar).scanning()
        self.app.activity = f"scanning {msg.files_found:,} files"

    @on(ScanFinished)
    def _scan_finished(self, msg: ScanFinished) -> None:
        self.query_one("#scan-bar", ScanBar).done()
        self.query_one("#scan-label", Static).update(Text(msg.summary))
        self.query_one("#scan-row").display = True
        self.app.activity = ""
        self.app.notify(msg.summary, severity="information" if msg.status == "completed" else "warning")
        self.reload_all()

    def action_escape(self) -> None:
        if self._scanner is not None:
            self._scanner.cancel()
            self.app.notify("Cancelling the scan…")
            return
        box = self.query_one("#pattern", Input)
        preview = self.query_one("#preview", Static)
        if box.value or preview.display:
            box.value = ""
            box.can_focus = False
            preview.display = False
            self.pattern = ""
            self.last_preview = None
            self.set_focus(self.query_one("#files", DataTable))
            self.page_offset = 0
            self.run_worker(self.load_files(), exclusive=True, group="files")

    def action_new_rule(self) -> None:
        if self.app.refuse_in_read_only("create a rule"):
            return
        if not self.pattern:
            self.app.notify("Type a pattern first: press / .", severity="warning")
            return
        count = self.last_preview.count if self.last_preview and self.last_preview.pattern == self.pattern else None
        pattern = self.pattern
        self.app.push_screen(RuleDialog(pattern, count), lambda req: self._create_rule(pattern, req))

    def _create_rule(self, pattern: str, req: RuleRequest | None) -> None:
        if req is None:
            return

        def write(conn):
            rule = rules.add_rule(conn, pattern, req.tag, priority=req.priority)
            rules.apply_rules(conn)
            return rule, rules.count_matches(conn, rule)

        async def go():
            try:
                rule, matched = await self.app.db_write("create a rule", write)
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            self.app.notify(f"Rule {rule.pattern} → {rule.tag} created: it tags {matched:,} file(s).")
            await self.load_rules()
            await self.load_files()

        self.run_worker(go(), group="write")

    def action_tag(self) -> None:
        if self.app.refuse_in_read_only("tag files"):
            return
        if not self.selected:
            self.app.notify("Select files with space first.", severity="warning")
            return
        ids = sorted(self.selected)
        self.app.push_screen(TagDialog(len(ids)), lambda tag: self._tag_files(ids, tag))

    def _tag_files(self, ids: list[int], tag: str | None) -> None:
        if not tag:
            return

        async def go():
            try:
                n = await self.app.db_write("tag files", lambda c: tags.tag_file_ids(c, ids, tag))
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            self.selected.clear()
            self.app.notify(f"Tagged {n:,} file(s) {tag}.")
            await self.load_files()

        self.run_worker(go(), group="write")
