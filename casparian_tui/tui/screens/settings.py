"""`4` Settings: which database, its size and schema, who holds the lease, read-only switch."""

from __future__ import annotations

import asyncio
import duckdb
import textual
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, Static, Switch

from casparian_tui import __version__
from casparian_tui.db.info import file_size, server_size
from casparian_tui.db.lease import read_holder
from casparian_tui.db.migrate import current_version
from casparian_tui.db.status import lease_state, short_holder
from casparian_tui.errors import CasparianError
from casparian_tui.tui.messages import CatalogChanged
from casparian_tui.units import human_bytes
from casparian_tui.tui.screens.base import ModeScreen
from casparian_tui.tui.widgets.footer import Footer
from casparian_tui.tui.widgets.lifecycle import quiet_if_gone
from casparian_tui.tui.widgets.status_bar import StatusBar, short_path

HELP_KEYS = [
    ("Tab", "move between the read-only switch and the button"),
    ("space / Enter", "flip the switch / press the button"),
    ("w", "request write access (asks first)"),
]


class SettingsScreen(ModeScreen):
    TITLE = "Settings"
    HELP_KEYS = HELP_KEYS
    BINDINGS = [("w", "request_write", "Request write access")]
    _version: int | str | None = None  # the schema version, read again only when the database changed
    _shown_rows: list | None = None

    def compose(self) -> ComposeResult:
        yield Static("Casparian Flow — 4 Settings", classes="screen-title")
        with Vertical(id="settings-body"):
            yield DataTable(id="settings-table", show_cursor=False, show_header=False)
            with Horizontal(id="settings-controls"):
                yield Label("Read-only", id="ro-label")
                yield Switch(value=self.app.db.read_only, id="read-only")
                yield Button("Request write access", id="request-write", variant="primary")
            yield Static("", id="settings-note")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#settings-table", DataTable)
        table.add_column("setting", key="k", width=18)
        table.add_column("value", key="v", width=96)
        self.refresh_info()
        # The lease and the file size come from files: no database query on the timer.
        self.set_interval(self.app.status_interval * 4, self._tick)

    def _tick(self) -> None:
        if self.is_current:
            self.refresh_info(reread=False)

    @on(CatalogChanged)
    def _database_changed(self, _msg: CatalogChanged) -> None:
        self.refresh_info()

    def on_screen_resume(self) -> None:
        self.refresh_info(reread=self.stale)

    @work(exclusive=True, group="settings")
    @quiet_if_gone
    async def refresh_info(self, reread: bool = True) -> None:
        db = self.app.db
        if reread or self._version is None:
            self.mark_loaded()
            self._version = None  # a tick that replaces this worker reads it again
            try:
                self._version = await self.app.db_read(current_version)
            except CasparianError as err:
                self._version = f"? ({err.message})"
        version = self._version
        holder = None if db.shared else read_holder(db.path)
        size = await self.app.db_read(server_size) if db.shared else file_size(db.path)
        rows = [
            ("backend", db.backend),
            ("database" if db.shared else "database file", short_path(db.location)),
            ("size", human_bytes(size)),
            ("schema version", str(version)),
            ("lease", lease_state(db)),
            ("lease holder", short_holder(holder) if holder else
             "none: every process reads and writes at once" if db.shared else "nobody"),
            ("read-only", "yes" if db.read_only else "no"),
            ("output folder", short_path(db.settings.home / "output")),
            ("versions", f"casparian {__version__} · textual {textual.__version__} · duckdb {duckdb.__version__}"),
        ]
        table = self.query_one("#settings-table", DataTable)
        if rows != self._shown_rows:  # most timer ticks change nothing: no repaint then
            self._shown_rows = rows
            table.clear()
            for k, v in rows:
                table.add_row(Text(k, style="bold"), Text(v))
        switch = self.query_one("#read-only", Switch)
        with switch.prevent(Switch.Changed):
            switch.value = db.read_only
        self.query_one("#request-write", Button).disabled = not db.read_only

    @on(Switch.Changed, "#read-only")
    def _switch(self, event: Switch.Changed) -> None:
        if event.value:
            self.run_worker(self._go_read_only(), group="mode")
        else:
            self.action_request_write()

    async def _go_read_only(self) -> None:
        await asyncio.wrap_future(self.app.db.set_read_only(True))
        self.query_one("#settings-note", Static).update("Read-only: this session will not write.")
        self.refresh_info()

    @on(Button.Pressed, "#request-write")
    def _button(self) -> None:
        self.action_request_write()

    def action_request_write(self) -> None:
        from casparian_tui.tui.screens.dialogs import ConfirmDialog

        db = self.app.db
        if not db.read_only:
            self.app.notify("Already allowed to write.")
            return
        asked = ("This session was started read-only (--read-only or CASPARIAN_READONLY).\n"
                 if db.settings.read_only else "")
        effect = ("This session may then change the shared catalog." if db.shared else
                  "This session takes the writer lease: it may then change the catalog, and other writers wait.")
        body = f"{asked}{effect}"

        def answered(yes: bool | None) -> None:
            if yes:
                self.query_one("#settings-note", Static).update("Waiting for the writer lease…")
                self.request_write()
            else:
                self.query_one("#settings-note", Static).update("Still read-only.")
                self.refresh_info(reread=False)  # puts the switch back

        self.app.push_screen(ConfirmDialog("Request write access", body, "Leave read-only", "Stay read-only"), answered)

    @work(thread=True, exclusive=True, group="mode")
    def request_write(self) -> None:
        try:
            self.app.db.request_write_access()
            note = "Write access granted: this session is a writer."
        except CasparianError as err:
            note = f"Still read-only: {err.message}"
        self.app.call_from_thread(self._after_request, note)

    def _after_request(self, note: str) -> None:
        self.query_one("#settings-note", Static).update(Text(note))
        self.refresh_info()
