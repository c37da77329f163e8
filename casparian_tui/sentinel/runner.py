"""The coordinator of a run: claims jobs, feeds the worker pool, completes and publishes.

Lives in the main process and is the only one talking to the database (via
the DB actor, in batches). Workers only parse. A job's life here:
claimed (RUNNING, our lease) -> pending -> sent to a worker -> parsed and
buffered in that worker -> its rows land in a temporary part -> completed in
the database, fenced -> part renamed into place. A job the worker failed
is recorded as a failed attempt (retry later or dead letter). When a worker
dies or is killed at the timeout, the job it was parsing counts as failed and
the jobs it had buffered go back to pending (their rows died with it).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from casparian_tui.db import Database
from casparian_tui.errors import CasparianError
from casparian_tui.outputs import parquet
from casparian_tui.scout.pathcodec import decode_name
from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel import supersede
from casparian_tui.sentinel.hosts import host_name
from casparian_tui.sentinel.plugin import ParserInvalid, ParserSpec
from casparian_tui.sentinel.worker_main import WorkerConfig
from casparian_tui.sentinel.workers import Worker, WorkerPool

DEFAULT_TIMEOUT_S = 300.0


@dataclass
class RunOptions:
    output_root: Path
    workers: int = max(os.cpu_count() or 1, 1)
    timeout_s: float = DEFAULT_TIMEOUT_S
    lease_s: float = q.DEFAULT_LEASE_S
    retry_base_s: float = q.DEFAULT_RETRY_BASE_S
    claim_size: int = 256
    quarantine_max: float | None = None  # None: the parser's MAX_QUARANTINE, else 0.10
    schemas: dict[str, dict[str, str]] | None = None  # None: the parser's declared OUTPUTS
    flush_s: float = 2.0
    # A run waits for this parser's jobs that others hold (it reports on them);
    # a `casparian worker` does not: it moves on and lets the reaper cover them.
    wait_for_others: bool = True


@dataclass
class RunStats:
    done: int = 0  # jobs finished for good (completed or given up) seen by this run
    completed: int = 0
    dead_lettered: int = 0
    failed_attempts: int = 0
    rows: int = 0
    quarantined: int = 0
    outputs: list[str] = field(default_factory=list)
    interrupted: bool = False


class Runner:
    def __init__(self, db: Database, spec: ParserSpec, opts: RunOptions,
                 progress: Callable[[RunStats], None] | None = None):
        self.db = db
        self.spec = spec
        self.opts = opts
        self.progress = progress or (lambda stats: None)
        self.token = uuid.uuid4().hex[:8]
        self.owner = f"{host_name()}:{os.getpid()}:{self.token}"
        schemas = opts.schemas
        if schemas is None:
            schemas = {o: {c: str(t) for c, t in cols.items()} for o, cols in spec.outputs.items()}
        self.cfg = WorkerConfig(
            parser_path=str(spec.path), fingerprint=spec.fingerprint, output_root=str(opts.output_root),
            run_token=self.token, schemas=schemas, quarantine_max=opts.quarantine_max, flush_s=opts.flush_s,
        )
        self.pool = WorkerPool(max(opts.workers, 1), self.cfg)
        self.stats = RunStats()
        self.pending: deque[dict] = deque()
        self.held: dict[int, q.ClaimedJob] = {}
        self.failures: list[q.Failure] = []
        self.started: list[tuple[int, int, int]] = []  # (job id, when sent to a worker, worker pid), not yet recorded
        self.next_started_flush = 0.0
        self.queue_drained = False
        self.others_running = 0  # jobs of this parser another run holds, seen when nothing was left to claim
        self.next_claim_at = 0.0
        self.next_heartbeat = 0.0
        self.next_reap = 0.0
        self.stop_requested = False
        self.startup_failures = 0

    # ---- the loop ----------------------------------------------------
    def run(self) -> RunStats:
        with self.db.working():  # the file stays open while parsers work between our writes
            return self._run()

    def _run(self) -> RunStats:
        previous = self._trap_sigint()
        self.pool.start()
        try:
            self._reap()
            while not self.stop_requested:
                self._maybe_claim()
                self._dispatch()
                for worker, msg in self.pool.poll(0.05):
                    self._handle(worker, msg)
                self._check_timeouts()
                self._flush_when_drained()
                self._apply_failures()
                self._keep_leases()
                if self._finished():
                    break
            if self.stop_requested:
                self._abandon()
        except BaseException:
            self._abandon()
            raise
        finally:
            self.pool.shutdown(graceful=not self.stop_requested)
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return self.stats

    def _trap_sigint(self):
        """First Ctrl+C: stop cleanly (requeue, no partial output). Second: stop now."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def on_sigint(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            self.stats.interrupted = True

        return signal.signal(signal.SIGINT, on_sigint)

    def request_stop(self) -> None:
        self.stop_requested = True
        self.stats.interrupted = True

    # ---- claiming and dispatching ----------------------------------------
    def _maybe_claim(self) -> None:
        now = time.monotonic()
        low_water = self.pool.size * 4
        if len(self.pending) >= low_water or now < self.next_claim_at:
            return
        spec, owner, opts = self.spec, self.owner, self.opts

        which = [spec.name, spec.fingerprint]

        def claim(conn):
            # Another `casparian run` of this parser may share the queue: take
            # a quarter of what is left (at least what our pool uses soon), so
            # the last jobs are not all parked with one of us. Counting stops
            # where a quarter would be a full claim anyway: a big queue is not
            # counted whole once per claim.
            queued = conn.query_value(
                f"SELECT count(*) FROM (SELECT 1 FROM {q.Q} WHERE status = 'QUEUED' AND parser_name = ? "
                "AND parser_fingerprint = ? LIMIT ?) AS waiting", [*which, 4 * opts.claim_size])
            size = min(opts.claim_size, max(low_water, queued // 4))
            jobs = q.claim_batch(conn, owner, size, opts.lease_s, parser_name=spec.name, fingerprint=spec.fingerprint)
            if not jobs:
                wait_us, others = conn.query_one(
                    f"SELECT min(CASE WHEN status = 'QUEUED' THEN run_after END), "
                    f"count(CASE WHEN status = 'RUNNING' AND lease_owner <> ? THEN 1 END) FROM {q.Q} "
                    "WHERE parser_name = ? AND parser_fingerprint = ? AND status IN ('QUEUED', 'RUNNING')",
                    [owner, *which])
                return [], {}, wait_us, others
            return jobs, file_paths(conn, [j.file_id for j in jobs]), None, 0

        jobs, paths, wait_us, others = self.db.write("claim jobs", claim)
        if not jobs:
            # Jobs another run holds are part of ours too: wait for them (the
            # reaper hands them to us if that run dies).
            self.queue_drained = wait_us is None
            self.others_running = others
            delay = 0.2 if wait_us is None else min(max((wait_us - q.now_us()) / 1e6, 0.02), 1.0)
            self.next_claim_at = now + delay
            return
        self.queue_drained = False
        self.others_running = 0
        for j in jobs:
            self.held[j.id] = j
            os_path, stored = paths.get(j.file_id, (None, None))
            self.pending.append({"id": j.id, "attempts": j.attempts, "path": os_path or "",
                                 "source_path": stored or f"<file {j.file_id} not in catalog>"})

    def _dispatch(self) -> None:
        for w in self.pool.workers:
            if not self.pending:
                return
            if w.idle:
                job = self.pending.popleft()
                w.send_job(job)
                self.started.append((job["id"], q.now_us(), w.pid or 0))

    # ---- worker messages -------------------------------------------------
    def _handle(self, w: Worker, msg: tuple | None) -> None:
        if msg is None:
            if w in self.pool.workers and not w.stopped_on_purpose:
                self._worker_died(w)
            return
        kind = msg[0]
        if kind == "ready":
            w.ready = True
            self.startup_failures = 0
        elif kind == "load_error":
            raise ParserInvalid(msg[1])
        elif kind == "done":
            result, flush = msg[1], msg[2]
            job, w.job = w.job, None
            if result["ok"]:
                w.buffered[job["id"]] = (job, result)
            else:
                self._fail(job, result["error"], result["traceback"], result["permanent"], result.get("output_tail"))
            if flush:
                self._on_flush(w, flush)
        elif kind == "flushed":
            w.flushing = False
            if msg[1]:
                self._on_flush(w, msg[1])

    def _on_flush(self, w: Worker, flush: dict) -> None:
        entries = {jid: w.buffered.pop(jid) for jid in flush["jobs"] if jid in w.buffered}
        if "error" in flush:
            for job, _ in entries.values():
                self._fail(job, flush["error"], None, False)
            return
        parts: list[parquet.Part] = flush["parts"]
        done = []
        for jid, (job, result) in entries.items():
            outs = set(flush["jobs"][jid])
            paths = [p.final for p in parts if Path(p.final).parent.name in outs]
            done.append(q.Completion(jid, job["attempts"], result["rows"], result["quarantined"], json.dumps(paths),
                                     result.get("output_tail"), job["source_path"]))

        started = self._take_started()

        def complete(c):
            record_started(c, started)
            accepted = q.complete_batch(c, self.owner, done)
            return accepted, q.supersede_older(c, sorted(accepted))

        try:
            accepted, superseded = self.db.write("complete jobs", complete)
        except BaseException:
            parquet.discard(parts)
            raise
        lost = {d.id for d in done} - accepted
        self.stats.outputs.extend(parquet.publish(parts, drop_job_ids=lost))
        supersede.retire(self.db, superseded)  # after publishing: never a moment without the file's rows
        for d in done:
            self.held.pop(d.id, None)
            if d.id in accepted:
                self.stats.completed += 1
                self.stats.done += 1
                self.stats.rows += d.rows_out
                self.stats.quarantined += d.rows_quarantined
        self.progress(self.stats)

    def _worker_died(self, w: Worker) -> None:
        code = w.process.exitcode
        if code is None:
            w.process.join(1)
            code = w.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        if not w.ready:
            self.startup_failures += 1
            if self.startup_failures >= 3:
                raise CasparianError(f"Worker processes keep dying while starting ({how}).",
                                     hint="Run the parser on one file by hand to see why.")
        if w.job is not None:
            self._fail(w.job, f"worker process died while parsing ({how})", None, False)
        self._requeue_buffered(w)
        self.pool.replace(w)

    def _check_timeouts(self) -> None:
        limit = self.opts.timeout_s
        now = time.monotonic()
        for w in list(self.pool.workers):
            if w.job is not None and now - w.job_sent_at > limit:
                job = w.job
                self._fail(job, f"timed out after {limit:g} s of parsing (worker killed)", None, False)
                self._requeue_buffered(w)
                self.pool.replace(w)

    def _requeue_buffered(self, w: Worker) -> None:
        # Their rows died with the worker; we still hold their leases, so redo them.
        for job, _ in reversed(list(w.buffered.values())):
            self.pending.appendleft(job)
        w.buffered.clear()

    def _fail(self, job: dict, error: str, tb: str | None, permanent: bool, output_tail: str | None = None) -> None:
        self.failures.append(q.Failure(job["id"], job["attempts"], error or "failed", tb, permanent, output_tail))

    def _apply_failures(self) -> None:
        if not self.failures:
            return
        batch, self.failures = self.failures, []
        started = self._take_started()

        def fail(c):
            record_started(c, started)
            return q.fail_batch(c, self.owner, batch, self.opts.retry_base_s)

        outcome = self.db.write("record failed jobs", fail)
        for f in batch:
            self.held.pop(f.id, None)
        if any(s == q.QUEUED for s in outcome.values()):
            self.queue_drained = False  # a retry is scheduled: look again before finishing
            self.next_claim_at = 0.0
        self.stats.failed_attempts += len(batch)
        dead = sum(1 for s in outcome.values() if s == q.FAILED)
        self.stats.dead_lettered += dead
        self.stats.done += dead
        self.progress(self.stats)

    def _flush_when_drained(self) -> None:
        if self.pending or not self.queue_drained:
            return
        for w in self.pool.workers:
            if w.idle and w.buffered:
                w.request_flush()

    def _take_started(self) -> list[tuple[int, int, int]]:
        started, self.started = self.started, []
        self.next_started_flush = time.monotonic() + 1.0
        return started

    def _keep_leases(self) -> None:
        now = time.monotonic()
        if self.started and now >= self.next_started_flush:
            started = self._take_started()
            self.db.write("record started jobs", lambda c: record_started(c, started))
        if self.held and now >= self.next_heartbeat:
            self.db.write("extend job leases", lambda c: q.heartbeat(c, self.owner, self.opts.lease_s))
            self.next_heartbeat = now + self.opts.lease_s / 3
        if now >= self.next_reap:
            self._reap()

    def _reap(self) -> None:
        self.db.write("requeue expired jobs", lambda c: q.reap(c, self.opts.retry_base_s))
        self.next_reap = time.monotonic() + max(self.opts.lease_s / 2, 1.0)

    def _finished(self) -> bool:
        return (self.queue_drained and not (self.others_running and self.opts.wait_for_others) and not self.pending and not self.held and not self.failures
                and all(w.job is None and not w.buffered for w in self.pool.workers))

    def _abandon(self) -> None:
        """Stop: give held jobs back (no attempt counted) and leave no partial output."""
        self.pool.shutdown(graceful=False)
        try:
            started = self._take_started()

            def release(c):
                record_started(c, started)
                return q.release(c, self.owner)

            self.db.write("requeue interrupted jobs", release)
        finally:
            root = parquet.output_dir(self.opts.output_root, self.spec.name, self.spec.version, "")
            for tmp in root.glob(f"*/{parquet.TMP_PREFIX}*-{self.token}*{parquet.TMP_SUFFIX}"):
                tmp.unlink(missing_ok=True)


def record_started(conn, started: list[tuple[int, int, int]]) -> None:
    """A `started` event per job at the moment a worker got it: its time limit counts from there."""
    if not started:
        return
    import pyarrow as pa

    conn.bulk_insert("cf_job_events", pa.table({
        "job_id": pa.array([s[0] for s in started], pa.int64()),
        "event_at": pa.array([s[1] for s in started], pa.int64()),
        "event": pa.array(["started"] * len(started), pa.string()),
        "detail": pa.array([f"worker pid {s[2]}" for s in started], pa.string()),
    }))


def file_paths(conn, file_ids: list[int]) -> dict[int, tuple[str, str]]:
    """file id -> (OS path to open, stored path text for lineage)."""
    if not file_ids:
        return {}
    marks = ", ".join("?" for _ in file_ids)
    rows = conn.query_all(
        "SELECT f.id, s.root, f.rel_path FROM scout_files f JOIN scout_sources s ON s.id = f.source_id "
        f"WHERE f.id IN ({marks})", list(file_ids))
    out = {}
    for fid, root, rel in rows:
        stored = join_stored(root, rel)
        out[fid] = (decode_name(stored), stored)
    return out


def join_stored(root: str, rel: str) -> str:
    return root.rstrip("/") + "/" + rel if rel else root
