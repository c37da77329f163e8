"""`casparian worker`: a long-running process that runs queued jobs of registered parsers.

Any number of workers, on any hosts, share one queue (one database). A
worker finds parsers with jobs ready, loads each one's registered source (the
exact version that was queued) and runs a `Runner` for it until nothing of
that parser is left to claim; then it looks again. With nothing to do it
sleeps until a job is queued (PostgreSQL NOTIFY wakes it; embedded backends
are polled) and meanwhile reaps expired leases, so the jobs of a worker that
died go back to the queue and are finished by the others. A stop request
(SIGTERM, SIGINT) ends the current run the way Ctrl+C ends `casparian run`:
held jobs go back to the queue, no partial output is published.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from casparian_tui.contracts import store as contracts
from casparian_tui.db import Database
from casparian_tui.errors import CasparianError
from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel import registry
from casparian_tui.sentinel.hosts import host_name
from casparian_tui.sentinel.runner import DEFAULT_TIMEOUT_S, RunOptions, Runner


@dataclass
class WorkerOptions:
    home: Path
    output_root: Path
    parsers: list[str] = field(default_factory=list)  # empty: every registered parser
    concurrency: int = 1
    once: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    lease_s: float = q.DEFAULT_LEASE_S
    retry_base_s: float = q.DEFAULT_RETRY_BASE_S
    poll_s: float = 2.0


@dataclass
class WorkerStats:
    completed: int = 0
    failed_attempts: int = 0
    runs: int = 0


def check_output_root(root: Path, host: str) -> None:
    """The output root must be writable here, or the worker must not claim anything."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".casparian-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CasparianError(
            f"Host {host} cannot write the output root {root}: {exc.strerror or exc}",
            hint="Mount the shared output folder here (or pass --output-root / CASPARIAN_OUTPUT).",
        ) from None


class WorkerService:
    def __init__(self, db: Database, opts: WorkerOptions, log: Callable[[str], None] = lambda _m: None):
        self.db = db
        self.opts = opts
        self.log = log
        self.host = host_name()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._runner: Runner | None = None
        self._status = "idle"
        self._skipped: set[str] = set()  # fingerprints queued but never registered

    def request_stop(self) -> None:
        """Safe from a signal handler: the current run releases its jobs, then the loop ends."""
        self._stop.set()
        runner = self._runner
        if runner is not None:
            runner.request_stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> WorkerStats:
        check_output_root(self.opts.output_root, self.host)
        self.db.write("register the worker", lambda c: registry.worker_started(
            c, self.owner, self.host, os.getpid(), self.opts.parsers))
        beat = threading.Thread(target=self._heartbeats, name="casparian-worker-heartbeat", daemon=True)
        beat.start()
        try:
            while not self._stop.is_set():
                self.db.write("requeue expired jobs", lambda c: q.reap(c, self.opts.retry_base_s))
                work = [w for w in self.db.read(lambda c: registry.runnable(c, self.opts.parsers))
                        if w[1] not in self._skipped]
                if not work:
                    if self.opts.once:
                        break
                    self._idle()
                    continue
                for name, fingerprint in work:
                    if self._stop.is_set():
                        break
                    self._run_parser(name, fingerprint)
        finally:
            self._stop.set()
            beat.join(registry.HEARTBEAT_S + 5)
            self.db.write("unregister the worker", lambda c: registry.worker_stopped(c, self.owner, self.stats.completed))
        return self.stats

    def _idle(self) -> None:
        self._status = "idle"
        if self.db.shared:  # the server wakes us when jobs are queued (NOTIFY); the timeout is the fallback poll
            self.db.read(lambda c: c.wait_notified(q.JOBS_CHANNEL, self.opts.poll_s))
        else:
            self._stop.wait(self.opts.poll_s)

    def _run_parser(self, name: str, fingerprint: str) -> None:
        stored = self.db.read(lambda c: registry.fetch_source(c, fingerprint))
        if stored is None:
            self._skipped.add(fingerprint)
            self.log(f"skipping parser {name} {fingerprint}: its source is not registered "
                     "(casparian parser register FILE)")
            return
        spec = registry.materialize(self.opts.home, fingerprint, *stored)
        schemas = self.db.read(lambda c: contracts.effective_schemas(c, spec))
        run_opts = RunOptions(
            output_root=self.opts.output_root, workers=self.opts.concurrency, timeout_s=self.opts.timeout_s,
            lease_s=self.opts.lease_s, retry_base_s=self.opts.retry_base_s, schemas=schemas,
            wait_for_others=False,
        )
        runner = Runner(self.db, spec, run_opts)
        self._runner = runner
        self._status = f"running {name}"
        if self._stop.is_set():
            runner.request_stop()
        try:
            stats = runner.run()
        finally:
            self._runner = None
            self._status = "idle"
        self.stats.runs += 1
        self.stats.completed += stats.completed
        self.stats.failed_attempts += stats.failed_attempts
        self.log(f"{name} {spec.version}: {stats.completed} completed, {stats.failed_attempts} failed attempts")

    def _heartbeats(self) -> None:
        while not self._stop.wait(registry.HEARTBEAT_S):
            runner = self._runner
            try:
                current = min(runner.held, default=None) if runner is not None else None
            except RuntimeError:  # the run changed its jobs as we looked: say nothing this beat
                current = None
            try:
                self.db.write("worker heartbeat", lambda c: registry.worker_heartbeat(
                    c, self.owner, self._status, current, self.stats.completed))
            except CasparianError:
                pass  # a busy or briefly unreachable database: the next beat tries again
