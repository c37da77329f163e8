"""`3` Parser Bench: backtest a parser on a tag's files, watch results arrive, pin its contract."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Static

from casparian_tui.assets import sample_parsers_dir
from casparian_tui.contracts import store as contracts
from casparian_tui.errors import CasparianError
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.tui.columns import Col, ColumnLayout
from casparian_tui.tui.messages import BacktestDone, BacktestFileDone
from casparian_tui.tui.screens.base import ModeScreen
from casparian_tui.tui.widgets.footer import Footer
from casparian_tui.tui.widgets.status_bar import StatusBar, short_path
from casparian_tui.tui.widgets.text_input import TextInput


RESULT_COLUMNS = [
    Col("ok", "", 4),
    Col("file", "file", 20, grow=3, cap=90, elide=True),
    Col("rows", "rows", 7),
    Col("ms", "ms", 7, drop=1),
    Col("error", "error", 12, grow=2),
]

HELP_KEYS = [
    ("↑ ↓ Enter", "pick a parser (fills the form; b then backtests it)"),
    ("b", "run the backtest (parser file + tag + optional sample size)"),
    ("Tab", "into the form: parser file, tag, sample size"),
    ("Enter (form)", "run the backtest"),
    ("Esc", "cancel a running backtest; leave a form box"),
    ("r", "run the parser over the tag for real, as a background process (outlives the TUI)"),
    ("p", "propose a schema contract from the observed output"),
    ("a", "approve the parser's latest proposed contract (runs then require its columns;"
          " for a parser without OUTPUTS, like csv_rows, files with other columns then fail)"),
    ("x", "withdraw the parser's approved contract (runs fall back to its declared OUTPUTS)"),
]


def display_path(path: Path) -> str:
    """Relative to the working folder when inside it (how a user would type it)."""
    # In a checkout, assets/parsers links to the shipped samples: show the path the README uses.
    linked = Path("assets", "parsers", path.name)
    with contextlib.suppress(OSError):
        if path.parent == sample_parsers_dir() and linked.exists() and linked.samefile(path):
            return str(linked)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return short_path(path)


def parser_files(home: Path) -> list[Path]:
    """Sample parsers shipped with Casparian and the user's own in <home>/parsers."""
    found: list[Path] = []
    for folder in (sample_parsers_dir(), home / "parsers"):
        if folder.is_dir():
            found.extend(sorted(p for p in folder.glob("*.py") if not p.name.startswith("_")))
    return found


class BenchScreen(ModeScreen):
    TITLE = "Parser Bench"
    HELP_KEYS = HELP_KEYS
    BINDINGS = [
        Binding("b", "backtest", "Backtest"),
        Binding("r", "start_run", "Run in background"),
        Binding("p", "propose", "Propose contract"),
        Binding("a", "approve", "Approve contract"),
        Binding("x", "withdraw", "Withdraw contract", show=False),
        Binding("escape", "cancel", "Cancel", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report = None
        self.generic = False  # the backtested parser declares no OUTPUTS: its columns follow each file
        self.results: list = []
        self._cancel: threading.Event | None = None
        self._paths: list[Path] = []
        self.result_layout = ColumnLayout(RESULT_COLUMNS)
        self.fitted_width = 0

    def compose(self) -> ComposeResult:
        yield Static("Casparian Flow — 3 Parser Bench", classes="screen-title")
        with Vertical(id="bench-body"):
            yield Label("Parsers", classes="section")
            yield DataTable(id="bench-parsers", cursor_type="row")
            with Horizontal(id="bench-form"):
                yield TextInput(placeholder="parser file (.py)", id="bench-parser")
                yield TextInput(placeholder="tag", id="bench-tag")
                yield TextInput(placeholder="sample (all)", id="bench-sample")
            yield Static("Pick a parser and a tag, then press b to backtest it on the tag's files.", id="bench-summary")
            yield DataTable(id="bench-results", cursor_type="row", zebra_stripes=True)
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        parsers = self.query_one("#bench-parsers", DataTable)
        parsers.add_column("name", width=16)
        parsers.add_column("version", width=8)
        parsers.add_column("tags", width=12)
        parsers.add_column("file", width=60)
        parsers.styles.height = 6
        self.layout_results(self.app.size.width)
        self.load_parsers()
        parsers.focus()

    def on_resize(self, event) -> None:
        self.layout_results(event.size.width)

    def on_screen_resume(self) -> None:
        self.layout_results(self.app.size.width)

    def layout_results(self, width: int) -> None:
        if width == self.fitted_width:
            return
        self.fitted_width = width
        table = self.query_one("#bench-results", DataTable)
        if self.result_layout.apply(table, width - 4):  # the body's padding and a scrollbar
            for r in self.results:
                table.add_row(*self._result_cells(r))

    def _result_cells(self, r) -> tuple:
        return self.result_layout.cells({
            "ok": Text("ok" if r.passed else "FAIL", style="green" if r.passed else "bold red"),
            "file": short_path(r.path), "rows": f"{r.rows:,}", "ms": f"{r.duration_ms:,.0f}",
            "error": Text(r.error or ""),
        })

    @work(thread=True, exclusive=True, group="bench-parsers")
    def load_parsers(self) -> None:
        rows = []
        for path in parser_files(self.app.db.settings.home):
            try:
                spec = load_parser(path)
                rows.append((path, spec.name, spec.version, ", ".join(spec.tags)))
            except CasparianError as err:
                rows.append((path, path.stem, "?", f"✗ {err.message}"))
        self.app.call_from_thread(self._show_parsers, rows)

    def _show_parsers(self, rows) -> None:
        table = self.query_one("#bench-parsers", DataTable)
        table.clear()
        self._paths = [r[0] for r in rows]
        for path, name, version, tags in rows:
            table.add_row(Text(name), Text(version), Text(tags), Text(display_path(path)))

    @on(DataTable.RowSelected, "#bench-parsers")
    def _pick(self, event: DataTable.RowSelected) -> None:
        path = self._paths[event.cursor_row]
        row = event.data_table.get_row_at(event.cursor_row)
        self.query_one("#bench-parser", TextInput).value = str(path)
        tags = str(row[2]).split(", ")[0] if row[2] and not str(row[2]).startswith("✗") else ""
        tag_box = self.query_one("#bench-tag", TextInput)
        tag_box.value = tags
        # The focus stays on the list, so b, p, a and x act at once, as the key table says.
        self._summary(Text(f"{row[0]} picked — b backtests it on tag {tags or '?'}, r runs it for real in the background; Tab edits the form (tag, sample size)."))

    @on(TextInput.Submitted)
    def _submitted(self) -> None:
        self.action_backtest()

    # ---- the backtest ----------------------------------------------------
    def action_backtest(self) -> None:
        if self.app.refuse_in_read_only("run a backtest"):
            return
        if self._cancel is not None:
            self.app.notify("A backtest is already running (Esc cancels it).", severity="warning")
            return
        parser = self.query_one("#bench-parser", TextInput).value.strip()
        tag = self.query_one("#bench-tag", TextInput).value.strip()
        sample_text = self.query_one("#bench-sample", TextInput).value.strip()
        if not parser or not tag:
            self._summary(Text("Give a parser file and a tag first.", style="yellow"))
            return
        try:
            sample = int(sample_text) if sample_text else None
        except ValueError:
            self._summary(Text("Sample must be a whole number of files.", style="red"))
            return
        self.results = []
        self.report = None
        self.query_one("#bench-results", DataTable).clear()
        self._summary(Text(f"Backtesting {Path(parser).name} on tag {tag}…"))
        self._cancel = threading.Event()
        self.app.activity = f"backtesting {Path(parser).name}"
        self.set_focus(self.query_one("#bench-results", DataTable))  # so b/p/a/Esc act as keys again
        self.run_backtest(parser, tag, sample, self._cancel)

    def action_start_run(self) -> None:
        parser = self.query_one("#bench-parser", TextInput).value.strip()
        tag = self.query_one("#bench-tag", TextInput).value.strip()
        self.run_worker(self.app.runs.start(parser, tag), group="bench-start-run")

    @work(thread=True, exclusive=True, group="bench-run")
    def run_backtest(self, parser: str, tag: str, sample: int | None, cancel: threading.Event) -> None:
        from casparian_tui.sentinel.backtest import Backtest

        try:
            spec = load_parser(parser)
            bt = Backtest(
                self.app.db, spec, tag, sample=sample, workers=2, cancel=cancel,
                on_result=lambda r: self.post_message(BacktestFileDone(r)),
            )
            report = bt.run()
        except CasparianError as err:
            self.post_message(BacktestDone(None, err.message))
            return
        except Exception as err:  # a broken parser must not take the UI down
            self.post_message(BacktestDone(None, f"{type(err).__name__}: {err}"))
            return
        self.post_message(BacktestDone(report, declares_outputs=bool(spec.outputs)))

    @on(BacktestFileDone)
    def _file_done(self, msg: BacktestFileDone) -> None:
        r = msg.result
        self.results.append(r)
        self.query_one("#bench-results", DataTable).add_row(*self._result_cells(r))
        passed = sum(1 for x in self.results if x.passed)
        self._summary(Text(f"{len(self.results):,} files tested · {passed:,} passed · running (Esc cancels)…"))

    @on(BacktestDone)
    def _done(self, msg: BacktestDone) -> None:
        self._cancel = None
        self.app.activity = ""
        if msg.report is None:
            self._summary(Text(f"✗ {msg.error}", style="red"))
            return
        self.report = msg.report
        self.generic = not msg.declares_outputs
        if msg.report.files_total == 0:
            self._summary(Text(f"No files have the tag {msg.report.tag!r}: tag some in Discover (1) first.", style="yellow"))
            return
        self._summary(render_report(msg.report))

    def action_cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self._summary(Text("Cancelling…", style="yellow"))
        elif isinstance(self.focused, TextInput):
            # Out of the form box, so q, b and the screen numbers are keys again.
            self.set_focus(self.query_one("#bench-parsers", DataTable))

    # ---- contracts -------------------------------------------------------
    def action_propose(self) -> None:
        if self.app.refuse_in_read_only("propose a contract"):
            return
        report = self.report
        if report is None or not report.observed:
            self.app.notify("Run a backtest first: the contract is proposed from what it observed.", severity="warning")
            return

        def write(conn):
            return [(out, *contracts.propose(conn, report.parser, out, cols)) for out, cols in report.observed.items()]

        async def go():
            try:
                done = await self.app.db_write("propose a contract", write)
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            lines = [f"{report.parser}.{out} v{v}{' (new)' if created else ' (unchanged)'}" for out, v, created in done]
            self.app.notify("Proposed " + "; ".join(lines) + " — press a to approve.")
            self._summary(render_report(report, extra="Proposed: " + "; ".join(lines) + "  (a approves: runs then"
                                        " require these columns, and rows of files shaped otherwise are quarantined)"
                                        + self._generic_warning(report)))

        self.run_worker(go(), group="bench-write")

    def action_approve(self) -> None:
        if self.app.refuse_in_read_only("approve a contract"):
            return
        if self.report is None:
            self.app.notify("Run a backtest and propose a contract first.", severity="warning")
            return
        parser = self.report.parser

        async def go():
            try:
                done = await self.app.db_write("approve a contract", lambda c: contracts.approve(c, parser))
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            text = "; ".join(f"{name} v{v}" for name, v in done)
            warning = self._generic_warning(self.report)
            self.app.notify(f"Approved {text}: runs now validate against it.{warning}",
                            severity="warning" if warning else "information")
            self._summary(render_report(self.report, extra=f"Approved: {text}{warning}"))

        self.run_worker(go(), group="bench-write")

    def action_withdraw(self) -> None:
        if self.app.refuse_in_read_only("withdraw a contract"):
            return
        if self.report is None:
            self.app.notify("Pick a parser and run a backtest first.", severity="warning")
            return
        parser = self.report.parser

        async def go():
            try:
                done = await self.app.db_write("withdraw a contract", lambda c: contracts.withdraw(c, parser))
            except CasparianError as err:
                self.app.notify(err.message, severity="error")
                return
            text = "; ".join(f"{name} v{', v'.join(map(str, vs))}" for name, vs in done if vs)
            self.app.notify(f"Withdrew {text}: runs use the declared OUTPUTS again.")

        self.run_worker(go(), group="bench-write")

    def _generic_warning(self, report) -> str:
        """What approving means for a parser whose columns come from each file (csv_rows: the header)."""
        if not self.generic:
            return ""
        n = sum(len(cols) for cols in report.observed.values())
        return (f"\n{report.parser} declares no OUTPUTS, so its columns come from each file: approving pins them to"
                f" the {n} seen here. Files with other columns (another CSV header) then fail the contract: their"
                " rows are quarantined, and a file over the quarantine limit fails. For files of several shapes,"
                " give each shape its own tag and a copy of the parser that declares OUTPUTS, or do not approve.")

    def _summary(self, text: Text) -> None:
        self.query_one("#bench-summary", Static).update(text)


def render_report(r, extra: str = "") -> Text:
    text = Text()
    text.append(f"{r.parser} {r.version} on tag {r.tag}: ", style="bold")
    style = "green" if r.failed == 0 else ("yellow" if r.pass_rate >= 0.9 else "red")
    text.append(f"{r.pass_rate:.0%} passed", style=style)
    text.append(f" ({r.passed:,}/{r.files_tested:,} files) · {r.rows:,} rows")
    if r.quarantined_rows:
        text.append(f" · {r.quarantined_rows:,} quarantined")
    if r.p50_ms is not None:
        text.append(f" · p50 {r.p50_ms:,.0f} ms · p95 {r.p95_ms:,.0f} ms")
    if r.status != "COMPLETED":
        text.append(f" · {r.status.lower()}", style="yellow")
    for err, n in r.top_errors[:3]:
        text.append(f"\n  {n:,}× {err}", style="red")
    if r.observed:
        cols = "; ".join(f"{out}: {', '.join(f'{c} {t}' for c, t in cols.items())}" for out, cols in r.observed.items())
        text.append(f"\nobserved: {cols}", style="dim")
    if extra:
        text.append("\n" + extra, style="cyan")
    return text
