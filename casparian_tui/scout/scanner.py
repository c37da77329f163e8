"""Scanning a source: walk, persist in batches, detect changes, finish up.

`Scanner(db, source).run()` is the one entry point (the CLI calls it on its
main thread, the TUI from a worker thread). The walker thread streams Arrow
batches; each batch is merged into scout_files in its own write transaction
(scout/file_merge.py) while the walk goes on. `cancel()` (or Ctrl+C on the
thread running `run`) stops the walker and interrupts the batch in flight
within ~50 ms; that batch rolls back, so the catalog only ever holds whole
batches. Deletions and renames are decided only after a COMPLETE walk.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa

from casparian_tui.db import Database
from casparian_tui.db.connection import Connection
from casparian_tui.scout.file_merge import BatchCounts, staged, upsert_files
from casparian_tui.db.lease import pid_alive
from casparian_tui.errors import CasparianError, QueryInterrupted
from casparian_tui.scout import catalog_sync, hashsets, rules
from casparian_tui.scout.excludes import compile_excludes
from casparian_tui.scout.pathcodec import display_name, shown_path
from casparian_tui.scout.sources import Source, now_us, resolve_root
from casparian_tui.scout.find_walker import make_walker
from casparian_tui.scout.walker import DEFAULT_BATCH_ROWS, RESCAN_BATCH_ROWS, WalkDone, Walker

_POLL_S = 0.02  # how often the waiting side looks at the cancel flag
_QUEUE_BATCHES = 3  # batches the walker may run ahead of the database
_MAX_STORED_ERRORS = 1000


# Sources being scanned in this process (other processes: see _start_run).
_active_sources: set[int] = set()
_active_lock = threading.Lock()


class ScanCancelled(CasparianError):
    """Raised inside a batch write when cancel arrives between statements."""


@dataclass
class ScanProgress:
    """A snapshot for progress displays (sent at least once a second)."""

    source: str
    dirs: int
    files_found: int
    files_persisted: int
    files_per_s: float
    current_dir: str  # display-safe
    errors: int
    elapsed_s: float


@dataclass
class ScanResult:
    source: str
    root: str  # display-safe
    scan_id: int
    status: str  # completed | cancelled | failed
    files_found: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    renamed: int = 0
    deleted: int = 0
    errors: list[dict] = field(default_factory=list)  # {path, error}, display-safe
    duration_s: float = 0.0
    dirs: int = 0
    symlinks: int = 0
    special: int = 0
    excluded: int = 0

    def to_json(self) -> dict:
        """Exactly the keys `casparian scan --json` documents."""
        return {
            "source": self.source,
            "root": self.root,
            "scan_id": self.scan_id,  # `casparian changes SCAN_ID` lists the files
            "files_found": self.files_found,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "renamed": self.renamed,
            "deleted": self.deleted,
            "errors": self.errors,
            # Entries the scan saw but did not catalog, so nothing is dropped silently.
            "skipped": {"symlinks": self.symlinks, "special": self.special, "excluded": self.excluded},
            "duration_s": round(self.duration_s, 3),
        }


class Scanner:
    def __init__(
        self,
        db: Database,
        source: Source,
        *,
        excludes: list[str] | tuple[str, ...] = (),
        batch_rows: int | None = None,  # default: DEFAULT_BATCH_ROWS, RESCAN_BATCH_ROWS for a rescan
        on_progress: Callable[[ScanProgress], None] | None = None,
        progress_interval_s: float = 0.25,
    ):
        self.db = db
        self.source = source
        self.excludes = list(excludes)
        self.exclude_fn = compile_excludes(self.excludes)
        self.batch_rows = batch_rows
        self.on_progress = on_progress
        self.progress_interval_s = min(progress_interval_s, 1.0)
        self._cancel = threading.Event()
        self._persisted = 0
        self._started = 0.0
        self._cancel_at: float | None = None
        self._activity_at = 0.0
        self._last_report = 0.0
        # Seconds from cancel() to the walker and the batch in flight being
        # stopped (the finishing write comes after); None if not cancelled.
        self.stop_latency_s: float | None = None

    def cancel(self) -> None:
        """Stop the scan soon (thread-safe); `run` returns a cancelled result."""
        if self._cancel_at is None:
            self._cancel_at = time.monotonic()
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # ---- the scan --------------------------------------------------------
    def run(self) -> ScanResult:
        root = resolve_root(self.source.root_path)
        with _active_lock:
            if self.source.id in _active_sources:
                raise CasparianError(
                    f"The source {self.source.name!r} is already being scanned.", hint="Wait for that scan to end."
                )
            _active_sources.add(self.source.id)
        try:
            with self.db.working():
                return self._run(root)
        finally:
            with _active_lock:
                _active_sources.discard(self.source.id)

    def _run(self, root: str) -> ScanResult:
        self._started = time.monotonic()
        scan_id, known, self._after_kill = self.db.write(
            "start a scan", lambda c: _start_run(c, self.source.id, self.excludes)
        )
        counts = BatchCounts()
        first_scan = known == 0
        rows = self.batch_rows or _batch_rows(known)
        walker = make_walker(
            root, queue.Queue(maxsize=_QUEUE_BATCHES), self._cancel, batch_rows=rows, exclude=self.exclude_fn
        )
        failure: BaseException | None = None
        try:
            walker.start()
            self._consume(walker, scan_id, counts, first_scan)
        except KeyboardInterrupt:
            self.cancel()
        except BaseException as exc:  # recorded as a failed run, then re-raised
            self.cancel()
            failure = exc
        walker.join(timeout=1.0)
        if self._cancel_at is not None:
            self.stop_latency_s = time.monotonic() - self._cancel_at
        complete = walker.complete and failure is None and not self._cancel.is_set()
        status = "completed" if complete else ("failed" if failure is not None else "cancelled")
        if failure is None:
            return self._finish(scan_id, walker, counts, status)
        try:  # record the failed run if the database still lets us
            self._finish(scan_id, walker, counts, status)
        except Exception:
            pass  # the original failure is the one to report
        raise failure

    def _consume(self, walker: Walker, scan_id: int, counts: BatchCounts, first_scan: bool) -> None:
        while True:
            self._maybe_report(walker)
            if self._cancel.is_set():
                return
            try:
                item = walker.out.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if isinstance(item, WalkDone):
                return
            if isinstance(item, BaseException):
                raise item
            if not self._write_batch(walker, item, scan_id, counts, first_scan):
                return

    def _write_batch(self, walker: Walker, batch, scan_id: int, counts: BatchCounts, first_scan: bool) -> bool:
        """Merge one batch into the catalog; False when the scan was cancelled meanwhile."""
        fut = self.db.submit_write(
            "scan a source",
            lambda c: _upsert_and_tag(c, self.source.id, scan_id, batch, self._check_cancel, first_scan),
        )
        while True:
            try:
                counts.add(fut.result(timeout=_POLL_S))
                self._persisted += batch.num_rows
                return True
            except TimeoutError:
                if self._cancel.is_set():
                    fut.interrupt()  # rolls the batch back
                    self._settle(fut, batch, counts)
                    return False
                self._maybe_report(walker)
            except KeyboardInterrupt:
                self.cancel()
                fut.interrupt()
                self._settle(fut, batch, counts)
                return False
            except (ScanCancelled, QueryInterrupted, CancelledError):
                if self._cancel.is_set():
                    return False  # the batch rolled back, as cancel wants
                raise

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise ScanCancelled("The scan was cancelled.")

    def _settle(self, fut, batch, counts: BatchCounts) -> None:
        """Wait for an interrupted batch; count it if it committed after all
        (the interrupt can arrive just after its last statement)."""
        try:
            done = fut.result(timeout=5)
        except BaseException:  # interrupted/cancelled is the expected outcome
            return
        counts.add(done)
        self._persisted += batch.num_rows

    def _maybe_report(self, walker: Walker) -> None:
        if time.monotonic() - self._last_report >= self.progress_interval_s:
            self._last_report = time.monotonic()
            self._report(walker)

    def _report(self, walker: Walker) -> None:
        st = walker.stats
        now = time.monotonic()
        if now - self._activity_at >= 1.0:  # the lease record says what we do
            self._activity_at = now
            self.db.set_activity(f"scanning {self.source.name}: {st.files:,} files found")
        if self.on_progress is None:
            return
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.on_progress(
            ScanProgress(
                source=self.source.name,
                dirs=st.dirs,
                files_found=st.files,
                files_persisted=self._persisted,
                files_per_s=self._persisted / elapsed,
                current_dir=display_name(st.current_dir) or ".",
                errors=len(st.errors),
                elapsed_s=elapsed,
            )
        )

    # ---- the end of a scan -----------------------------------------------
    def _renames_and_deletions(self, conn: Connection, scan_id: int, counts: BatchCounts, st) -> tuple[int, int]:
        """After a complete walk: the live rows this scan neither saw nor wrote
        are renamed or gone. Rows seen unchanged were not written, so they are
        told apart by the ids the batches matched unchanged (Arrow, set-based)."""
        import pyarrow.compute as pc

        unwritten = "FROM scout_files WHERE source_id = ? AND deleted_at IS NULL AND last_scan_id <> ?"
        params = [self.source.id, scan_id]
        seen_n = sum(len(a) for a in counts.seen)
        # The seen ids are distinct and all unwritten: equal counts mean every row was seen.
        if conn.query_value(f"SELECT count(*) {unwritten}", params, 0) == seen_n:
            return 0, 0
        ids = conn.query_arrow(f"SELECT id {unwritten}", params).column(0).cast(pa.int64())
        if seen_n:
            seen = pa.chunked_array(counts.seen, pa.int64()).combine_chunks()
            ids = ids.filter(pc.invert(pc.is_in(ids, value_set=seen)))
        if not len(ids):
            return 0, 0
        with staged(conn, pa.table({"id": ids}), "_cf_unseen") as unseen:
            renamed = catalog_sync.move_renamed(conn, self.source.id, scan_id, unseen=unseen)
            deleted = catalog_sync.mark_deleted(
                conn,
                self.source.id,
                scan_id,
                now_us(),
                error_dirs=[e["path"] for e in st.errors],
                exclude=self.exclude_fn,
                unseen=unseen,
            )
        return renamed, deleted

    def _finish(self, scan_id: int, walker: Walker, counts: BatchCounts, status: str) -> ScanResult:
        st = walker.stats
        complete = status == "completed"
        errors = [{"path": shown_path(e["path"]) or ".", "error": e["error"]} for e in st.errors]

        def finish(conn: Connection) -> tuple[int, int]:
            renamed = deleted = 0
            if complete:
                renamed, deleted = self._renames_and_deletions(conn, scan_id, counts, st)
            # Unchanged rows were not written, so when nothing changed the
            # aggregates and hash-set tags still hold — unless a killed scan
            # left rows behind without refreshing them.
            touched = counts.new or counts.changed or renamed or deleted or self._after_kill
            live = catalog_sync.live_totals(conn, self.source.id)
            if touched or _folders_stale(conn, self.source.id, live):
                catalog_sync.refresh_folders(conn, self.source.id)
            if touched:
                # a changed file's old hash no longer counts: nor does the hash-set tag it earned
                hashsets.apply_hashset_rules(conn, source_id=self.source.id)
            catalog_sync.refresh_source_totals(conn, self.source.id, now_us(), live)
            return renamed, deleted

        # The finishing write must not be refused because the user hit Ctrl+C
        # a moment ago: it is what keeps the catalog's aggregates honest.
        renamed, deleted = self.db.write("finish a scan", finish)
        counts.seen = []  # up to 8 MB per 10^6 files: not needed any more
        duration = time.monotonic() - self._started
        result = ScanResult(
            source=self.source.name,
            root=self.source.root_display,
            scan_id=scan_id,
            status=status,
            files_found=st.files,
            # A renamed file was inserted as new, then moved onto its old row.
            new=counts.new - renamed,
            changed=counts.changed,
            unchanged=counts.unchanged,
            renamed=renamed,
            deleted=deleted,
            errors=errors,
            duration_s=duration,
            dirs=st.dirs,
            symlinks=st.symlinks,
            special=st.special,
            excluded=st.excluded,
        )
        self.db.write("record a scan", lambda c: _end_run(c, result))
        self.db.set_activity("")
        return result


def _start_run(conn: Connection, source_id: int, excludes: list[str]) -> tuple[int, bool, bool]:
    """The new run's id, how many catalog rows the source has (0: a first scan), and
    whether an earlier run was killed (its batches stand, its end never came).

    Two scans of one source at once would mark each other's files deleted,
    so a scan still running in a live process is refused; a 'running' row
    whose process is gone (killed) is closed as 'interrupted'.
    """
    killed = False
    for run_id, owner in conn.query_all(
        "SELECT id, owner FROM scout_scan_runs WHERE source_id = ? AND status = 'running'", [source_id]
    ):
        host, _, pid = (owner or "").rpartition(":")
        if host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
            raise CasparianError(
                f"This source is being scanned by another process (PID {pid}).",
                hint="Wait for that scan to finish, or stop it.",
            )
        conn.execute("UPDATE scout_scan_runs SET status = 'interrupted' WHERE id = ?", [run_id])
        killed = True
    scan_id = conn.query_value(
        "INSERT INTO scout_scan_runs (source_id, started_at, status, excludes_json, owner)"
        " VALUES (?, ?, 'running', ?, ?) RETURNING id",
        [source_id, now_us(), json.dumps(excludes) if excludes else None, f"{socket.gethostname()}:{os.getpid()}"],
    )
    root = conn.query_value("SELECT root FROM scout_sources WHERE id = ?", [source_id])
    catalog_sync.adopt_adhoc(conn, source_id, root)  # files `run FILES` met before this scan: one row each
    known = conn.query_value("SELECT count(*) FROM scout_files WHERE source_id = ?", [source_id], 0)
    return scan_id, int(known), killed


def _batch_rows(known: int) -> int:
    """Walker batch size for a source with `known` catalog rows. Each batch of a
    rescan is matched against the whole catalog, so a big catalog gets fewer,
    bigger batches; a small one keeps batches small enough to overlap the walk."""
    return min(RESCAN_BATCH_ROWS, max(DEFAULT_BATCH_ROWS, known // 8))


def _folders_stale(conn: Connection, source_id: int, live: tuple[int, int]) -> bool:
    """The folder aggregates disagree with the live rows at the root (a cheap
    check: rows written outside a scan's end, e.g. by a process killed mid-scan)."""
    root = conn.query_one("SELECT file_count, total_bytes FROM scout_folders WHERE source_id = ? AND path = ''", [source_id])
    return root is None or (int(root[0]), int(root[1])) != live


def _end_run(conn: Connection, r: ScanResult) -> None:
    conn.execute(
        "UPDATE scout_scan_runs SET finished_at = ?, status = ?, files_found = ?, new_files = ?,"
        " changed_files = ?, unchanged_files = ?, renamed_files = ?, deleted_files = ?, error_count = ?,"
        " errors_json = ?, dirs_scanned = ?, symlinks_skipped = ?, special_skipped = ?, duration_s = ?"
        " WHERE id = ?",
        [
            now_us(),
            r.status,
            r.files_found,
            r.new,
            r.changed,
            r.unchanged,
            r.renamed,
            r.deleted,
            len(r.errors),
            json.dumps(r.errors[:_MAX_STORED_ERRORS], ensure_ascii=False) if r.errors else None,
            r.dirs,
            r.symlinks,
            r.special,
            r.duration_s,
            r.scan_id,
        ],
    )


def _upsert_and_tag(conn: Connection, source_id: int, scan_id: int, batch, check, first_scan: bool) -> BatchCounts:
    """Merge one batch and tag its new, changed and reappeared files in the
    same transaction, so every committed row carries its tags even when the
    scan is killed or fails before its end."""
    counts = upsert_files(
        conn, source_id, scan_id, now_us(), batch, check=check, assume_new=first_scan, touch_unchanged=False
    )
    if (counts.new or counts.changed) and not rules.nothing_to_apply(conn):
        check()
        with staged(conn, batch.select(["rel_path"]), "_cf_batch_paths") as stage:
            ids = conn.query_arrow(
                f"SELECT f.id FROM scout_files f JOIN {stage} s ON f.rel_path = s.rel_path"
                " WHERE f.source_id = ? AND f.changed_scan_id = ?",
                [source_id, scan_id],
            )
        if ids.num_rows:
            rules.apply_rules(conn, source_id=source_id, file_ids=ids.column("id"))
    return counts


def scan_source(db: Database, source: Source, **kwargs) -> ScanResult:
    """Convenience: one blocking scan."""
    return Scanner(db, source, **kwargs).run()
