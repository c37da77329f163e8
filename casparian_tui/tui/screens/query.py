"""`5` Query: a SQL editor, the catalog tree, a results grid fed page by page, history, export.

The same rules as `casparian query` (one read-only statement, the same
validator), so everything here works in read-only mode. The editor is a
plain TextArea: SQL highlighting would need textual's `syntax` extra
(tree-sitter and fifteen grammar packages) for colour alone.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static, TextArea, Tree

from casparian_tui.errors import CasparianError
from casparian_tui.tui.screens.base import ModeScreen
from casparian_tui.tui.widgets.footer import Footer
from casparian_tui.tui.widgets.lifecycle import quiet_if_gone
from casparian_tui.tui.widgets.result_grid import ResultGrid, error_line
from casparian_tui.tui.widgets.status_bar import StatusBar

HELP_KEYS = [
    ("F5 / Ctrl+Enter", "run the statement under the cursor (or the selection)"),
    ("Esc", "stop the running query; otherwise leave the editor"),
    ("Ctrl+↑ Ctrl+↓", "older / newer query from the history"),
    ("Ctrl+R", "pick from the history (last 500, kept in the home folder)"),
    ("Tab", "leave the editor (then 1-5 switch screens); editor → results → tree"),
    ("Enter (tree)", "insert the table, view or column name at the cursor"),
    ("f (results)", "frequency table of the cursor's column"),
    ("e (results)", "export the result to .csv, .parquet or .jsonl"),
    ("Ctrl+O", "outputs browser: rows, quarantine, raw input"),
]

EXAMPLE = "SELECT extension, count(*) AS files\nFROM scout_files\nGROUP BY 1\nORDER BY 2 DESC;\n"


class QueryScreen(ModeScreen):
    TITLE = "Query"
    HELP_KEYS = HELP_KEYS
    BINDINGS = [
        Binding("f5", "run", "Run", priority=True),
        Binding("ctrl+enter", "run", "Run", show=False, priority=True),
        Binding("escape", "interrupt", "Stop", show=False),
        Binding("ctrl+up", "history(-1)", "Older", show=False, priority=True),
        Binding("ctrl+down", "history(1)", "Newer", show=False, priority=True),
        Binding("ctrl+r", "history_picker", "History", priority=True),
        Binding("ctrl+o", "outputs", "Outputs", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._history = None
        self._history_pos: int | None = None

    def compose(self) -> ComposeResult:
        yield Static("Casparian Flow — 5 Query", classes="screen-title")
        with Horizontal(id="query-body"):
            yield Tree("catalog", id="query-tree")
            with Vertical(id="query-right"):
                yield TextArea(EXAMPLE, id="query-editor", soft_wrap=True, show_line_numbers=True,
                               tab_behavior="focus")
                yield ResultGrid(empty="F5 runs the statement under the cursor. Results show here.",
                                 id="query-results")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        editor = self.query_one("#query-editor", TextArea)
        # A steady cursor: each blink redrew the whole editor, twice a second, for as
        # long as the screen sat idle (most of an idle Query screen's CPU).
        editor.cursor_blink = False
        self.query_one("#query-tree", Tree).show_root = False
        editor.focus()
        self.load_tree()

    def on_screen_resume(self) -> None:
        self.load_tree()

    @property
    def history(self):
        if self._history is None:
            from casparian_tui.outputs.history import QueryHistory

            self._history = QueryHistory(self.app.db.settings.home)
        return self._history

    def output_root(self):
        from casparian_tui.sentinel.selection import resolve_output_root

        return resolve_output_root(None, self.app.db.settings.home)

    # ---- the catalog tree ---------------------------------------------------------------------
    @work(exclusive=True, group="query-tree")
    @quiet_if_gone
    async def load_tree(self) -> None:
        from casparian_tui.outputs.catalog import describe

        root = self.output_root()
        try:
            entries = await self.app.db_read(lambda c: describe(c, root))
        except CasparianError as err:
            self.query_one("#query-results", ResultGrid).say(error_line(err))
            return
        tree = self.query_one("#query-tree", Tree)
        expanded = {n.data for n in tree.root.children if n.is_expanded}
        expanded |= {f"{n.data}" for g in tree.root.children for n in g.children if n.is_expanded}
        tree.clear()
        groups = {"output": tree.root.add("outputs", data="outputs", expand=True),
                  "table": tree.root.add("catalog tables", data="tables", expand="tables" in expanded)}
        if not any(e.kind == "output" for e in entries):
            groups["output"].add_leaf(Text("none yet: casparian run", style="dim"))
        for e in entries:
            label = e.name.removeprefix("outputs.")  # the group says it; the tree is narrow
            node = groups[e.kind].add(label, data=e.name, expand=e.name in expanded)
            for col, kind in e.columns:
                label = Text(col)
                label.append(f" {kind.lower()}", style="dim")
                node.add_leaf(label, data=col)

    @on(Tree.NodeSelected, "#query-tree")
    def _insert_name(self, event: Tree.NodeSelected) -> None:
        name = event.node.data
        if not name or name in ("outputs", "tables") or event.node.allow_expand:
            return
        self._insert(name)

    def on_key(self, event) -> None:
        # Enter on a table or view inserts its name (a leaf's Enter is NodeSelected above);
        # Space or the arrows still open and close it.
        tree = self.query_one("#query-tree", Tree)
        if event.key == "enter" and self.focused is tree and tree.cursor_node is not None:
            node = tree.cursor_node
            if node.allow_expand and node.data not in (None, "outputs", "tables"):
                event.stop()
                event.prevent_default()
                self._insert(node.data)

    def _insert(self, name: str) -> None:
        editor = self.query_one("#query-editor", TextArea)
        editor.insert(name)
        editor.focus()

    # ---- running ------------------------------------------------------------------------------
    def statement(self) -> str:
        from casparian_tui.outputs.sql_text import statement_at

        editor = self.query_one("#query-editor", TextArea)
        if editor.selected_text.strip():
            return editor.selected_text.strip()
        row, col = editor.cursor_location
        lines = editor.text.split("\n")
        offset = sum(len(line) + 1 for line in lines[:row]) + col
        return statement_at(editor.text, offset)

    def action_run(self) -> None:
        self.run_sql(self.statement())

    def run_sql(self, sql: str, params=(), remember: bool = True) -> None:
        from casparian_tui.outputs.results import ResultSet

        grid = self.query_one("#query-results", ResultGrid)
        if not sql.strip():
            grid.say(Text("✗ Nothing to run: write a query first.", style="red"))
            return
        if remember:
            try:
                self.history.add(sql)
            except OSError:
                pass  # a full or read-only home folder must not stop the query
        self._history_pos = None
        try:
            result = ResultSet(self.app.db, sql, self.output_root(), params=params)
        except CasparianError as err:
            grid.say(error_line(err))
            return
        grid.open(result)

    def action_interrupt(self) -> None:
        if self.query_one("#query-results", ResultGrid).interrupt():
            return
        if self.focused is self.query_one("#query-editor", TextArea):
            # Nothing to stop: leave the editor, so q and 1-5 are keys again.
            self.focus_next()

    # ---- history ------------------------------------------------------------------------------
    def action_history(self, step: int) -> None:
        entries = self.history.entries
        if not entries:
            return
        pos = len(entries) if self._history_pos is None else self._history_pos
        pos = max(0, min(len(entries), pos + step))
        self._history_pos = pos
        editor = self.query_one("#query-editor", TextArea)
        editor.text = entries[pos] if pos < len(entries) else ""
        editor.move_cursor(editor.document.end)
        editor.focus()

    def action_history_picker(self) -> None:
        from casparian_tui.tui.screens.result_dialogs import HistoryScreen

        def chosen(sql: str | None) -> None:
            if sql:
                editor = self.query_one("#query-editor", TextArea)
                editor.text = sql
                editor.move_cursor(editor.document.end)
                editor.focus()

        self.app.push_screen(HistoryScreen(self.history.newest_first()), chosen)

    def action_outputs(self) -> None:
        from casparian_tui.tui.screens.outputs import OutputsScreen

        self.app.push_screen(OutputsScreen(self.output_root()))
