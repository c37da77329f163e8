"""Backtests: run a parser over a tag's files (or a sample) without publishing anything.

The same long-lived worker processes as a run parse each file in dry-run
mode (rows are shaped and checked against the contract, then dropped) and
report rows, quarantined rows, time, error and the observed schema. Per-file
results go to cf_backtest_results in small batches and to an optional
callback as they arrive (the TUI's Parser Bench); a cancel Event stops the
backtest within one poll (~50 ms) — the files not reached are not recorded.
Files that failed in this parser's previous backtest are tried first.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Callable

from casparian_tui.contracts import infer
from casparian_tui.contracts import store as contracts
from casparian_tui.db import Database
from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError
from casparian_tui.scout.pathcodec import shown_path
from casparian_tui.sentinel.plugin import ParserInvalid, ParserSpec
from casparian_tui.sentinel.runner import file_paths
from casparian_tui.sentinel.selection import tagged_file_ids
from casparian_tui.sentinel.worker_main import WorkerConfig
from casparian_tui.sentinel.workers import WorkerPool

RUNNING, COMPLETED, CANCELLED = "RUNNING", "COMPLETED", "CANCELLED"


@dataclass(frozen=True)
class FileResult:
    file_id: int
    path: str  # printable
    passed: bool
    rows: int
    quarantined: int
    duration_ms: float
    error: str


@dataclass
class BacktestReport:
    run_id: int
    parser: str
    version: str
    tag: str
    status: str
    files_total: int  # files selected
    files_tested: int
    passed: int
    failed: int
    pass_rate: float  # of the files tested, 0..1
    rows: int
    quarantined_rows: int
    p50_ms: float | None
    p95_ms: float | None
    top_errors: list[tuple[str, int]] = field(default_factory=list)  # (message shape, files)
    error_examples: dict[str, str] = field(default_factory=dict)  # message shape -> one real message
    observed: dict[str, dict[str, str]] = field(default_factory=dict)  # output -> column -> alias
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        examples = d.pop("error_examples")
        d["top_errors"] = [{"error": e, "files": n, "example": examples.get(e, e)} for e, n in self.top_errors]
        return d


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(int(-(-p * len(ordered) // 100)), 1)  # ceil(p/100 * n)
    return ordered[min(rank, len(ordered)) - 1]


def choose_files(conn: Connection, spec: ParserSpec, tag: str, sample: int | None) -> list[int]:
    """The files to test: previously failed ones first, then the (sampled) rest."""
    every = tagged_file_ids(conn, [tag])
    chosen = tagged_file_ids(conn, [tag], sample)
    last = conn.query_value("SELECT max(id) FROM cf_backtest_runs WHERE parser_name = ? AND tag = ?",
                            [spec.name, tag])
    failed = []
    if last is not None:
        live = set(every)
        failed = [r[0] for r in conn.query_all(
            "SELECT file_id FROM cf_backtest_results WHERE run_id = ? AND NOT passed ORDER BY id", [last])
            if r[0] in live]
    if sample is not None:
        failed = failed[:sample]
    first = set(failed)
    rest = [f for f in chosen if f not in first]
    if sample is not None:
        rest = rest[: max(sample - len(failed), 0)]
    return failed + rest


class Backtest:
    def __init__(self, db: Database, spec: ParserSpec, tag: str, sample: int | None = None, workers: int = 2,
                 timeout_s: float = 60.0, on_result: Callable[[FileResult], None] | None = None,
                 cancel: threading.Event | None = None, flush_every: int = 200):
        self.db, self.spec, self.tag, self.sample = db, spec, tag, sample
        self.workers, self.timeout_s = max(workers, 1), timeout_s
        self.on_result = on_result or (lambda r: None)
        self.cancel = cancel or threading.Event()
        self.flush_every = flush_every
        self.results: list[FileResult] = []
        self.observed: dict[str, dict[str, str]] = {}
        self._unsaved: list[tuple[FileResult, str | None]] = []
        self._failed_hard = False
        self.run_id = 0

    def run(self) -> BacktestReport:
        started = time.monotonic()
        spec = self.spec

        def begin(c):
            ids = choose_files(c, spec, self.tag, self.sample)
            schemas = contracts.effective_schemas(c, spec)
            c.execute("INSERT INTO cf_backtest_runs (parser_name, parser_version, parser_fingerprint, tag, status, "
                      "started_at, files_total, sample_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      [spec.name, spec.version, spec.fingerprint, self.tag, RUNNING, _now(), len(ids), self.sample])
            run_id = c.query_value("SELECT max(id) FROM cf_backtest_runs WHERE parser_name = ?", [spec.name])
            return run_id, _with_paths(c, ids), schemas

        self.run_id, files, schemas = self.db.write("start a backtest", begin)
        status = COMPLETED
        try:
            if files:
                self._drive(files, schemas)
            if self.cancel.is_set():
                status = CANCELLED
        finally:
            self._save(final_status=status if not self._failed_hard else "FAILED")
        return self.report(len(files), status, time.monotonic() - started)

    def _drive(self, files: list[tuple[int, str, str]], schemas: dict) -> None:
        with tempfile.TemporaryDirectory(prefix="casparian-backtest-") as scratch:
            cfg = WorkerConfig(parser_path=str(self.spec.path), fingerprint=self.spec.fingerprint,
                               output_root=scratch, run_token="bt", schemas=schemas, dry_run=True)
            pool = WorkerPool(min(self.workers, len(files)), cfg)
            pending = deque(files)
            in_flight = 0
            pool.start()
            try:
                while (pending or in_flight) and not self.cancel.is_set():
                    for w in pool.workers:
                        if pending and w.idle:
                            fid, os_path, stored = pending.popleft()
                            w.send_job({"id": fid, "attempts": 0, "path": os_path, "source_path": stored})
                            in_flight += 1
                    for w, msg in pool.poll(0.05):
                        in_flight -= self._handle(pool, w, msg)
                    for w in list(pool.workers):
                        if w.job is not None and time.monotonic() - w.job_sent_at > self.timeout_s:
                            self._record(w.job, False, 0, 0, self.timeout_s * 1000,
                                         f"timed out after {self.timeout_s:g} s (worker killed)", None)
                            in_flight -= 1
                            pool.replace(w)
                    if len(self._unsaved) >= self.flush_every:
                        self._save()
            except BaseException:
                self._failed_hard = True
                raise
            finally:
                pool.shutdown(graceful=False)

    def _handle(self, pool: WorkerPool, w, msg) -> int:
        """Returns how many files finished."""
        if msg is None:
            if w not in pool.workers or w.stopped_on_purpose:
                return 0
            job = w.job
            code = w.process.exitcode
            pool.replace(w)
            if job is None:
                return 0
            self._record(job, False, 0, 0, 0.0, f"worker process died while parsing (exit code {code})", None)
            return 1
        if msg[0] == "ready":
            w.ready = True
        elif msg[0] == "load_error":
            raise ParserInvalid(msg[1])
        elif msg[0] == "done":
            r, job, w.job = msg[1], w.job, None
            self._record(job, r["ok"], r["rows"], r["quarantined"], r["duration_ms"], r["error"] or "",
                         r.get("schema"))
            return 1
        return 0

    def _record(self, job: dict, passed: bool, rows: int, quarantined: int, ms: float, error: str,
                schema: dict | None) -> None:
        schema_json = None
        if schema:
            infer.merge(self.observed, schema)
            schema_json = json.dumps({o: {f.name: infer.alias_of(f.type) for f in s} for o, s in schema.items()})
        res = FileResult(job["id"], shown_path(job["source_path"]), passed, rows, quarantined, round(ms, 3),
                         error or "")
        self.results.append(res)
        self._unsaved.append((res, schema_json))
        self.on_result(res)

    def _save(self, final_status: str | None = None) -> None:
        batch, self._unsaved = self._unsaved, []
        passed = sum(r.passed for r in self.results)
        rows = sum(r.rows for r in self.results)
        ms = [r.duration_ms for r in self.results]
        run_id = self.run_id

        def save(c):
            for r, schema_json in batch:
                c.execute("INSERT INTO cf_backtest_results (run_id, file_id, passed, rows_out, rows_quarantined, "
                          "duration_ms, error, schema_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          [run_id, r.file_id, r.passed, r.rows, r.quarantined, r.duration_ms, r.error or None,
                           schema_json])
            c.execute("UPDATE cf_backtest_runs SET files_passed = ?, files_failed = ?, rows_total = ?, p50_ms = ?, "
                      "p95_ms = ?, status = coalesce(?, status), finished_at = CASE WHEN ? IS NULL THEN NULL "
                      "ELSE ? END WHERE id = ?",
                      [passed, len(self.results) - passed, rows, percentile(ms, 50), percentile(ms, 95),
                       final_status, final_status, _now(), run_id])

        self.db.write("record backtest results", save)

    def report(self, total: int, status: str, duration_s: float) -> BacktestReport:
        ms = [r.duration_ms for r in self.results]
        passed = sum(r.passed for r in self.results)
        tested = len(self.results)
        failed = [r.error for r in self.results if not r.passed]
        errors = Counter(error_shape(e) for e in failed)
        examples: dict[str, str] = {}
        for e in failed:
            examples.setdefault(error_shape(e), _first_line(e))
        return BacktestReport(
            self.run_id, self.spec.name, self.spec.version, self.tag, status, total, tested, passed, tested - passed,
            passed / tested if tested else 0.0, sum(r.rows for r in self.results),
            sum(r.quarantined for r in self.results), percentile(ms, 50), percentile(ms, 95),
            errors.most_common(5), examples, self.observed, round(duration_s, 3))


def _with_paths(conn: Connection, ids: list[int]) -> list[tuple[int, str, str]]:
    paths = {}
    for i in range(0, len(ids), 500):
        paths.update(file_paths(conn, ids[i:i + 500]))
    return [(fid, *paths.get(fid, ("", f"<file {fid} not in catalog>"))) for fid in ids]


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def error_shape(error: str) -> str:
    """What an error says with its particulars blanked: one cause, one row of the top list.

    Numbers become `#` and quoted values `'…'`, so "row 12 of 'a.csv'" and
    "row 7 of 'b.csv'" (or a count of rows in a policy message) group together.
    """
    line = _QUOTED.sub("'…'", _first_line(error))
    return _NUMBER.sub("#", line)


def _first_line(error: str) -> str:
    line = (error or "failed").splitlines()[0] if (error or "").strip() else "failed"
    return line if len(line) <= 160 else line[:159] + "…"


def _now() -> int:
    return time.time_ns() // 1000


def run_backtest(db: Database, spec: ParserSpec, tag: str, **kw) -> BacktestReport:
    if not tag:
        raise CasparianError("A backtest needs a tag.", hint="casparian backtest PARSER.py --tag T")
    return Backtest(db, spec, tag, **kw).run()
