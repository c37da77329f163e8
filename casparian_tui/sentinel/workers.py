"""The pool of long-lived worker processes, seen from the coordinator.

Each worker imports the parser once and then handles one job at a time sent
over its pipe. The pool only manages processes and messages; which jobs to
send and what results mean is the runner's business. Workers are started
from a forkserver (spawn elsewhere): the parent has a DB actor thread, and
forking a threaded process is unsafe; the forkserver has preloaded pyarrow,
so replacing a killed worker costs milliseconds, not an interpreter start.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from casparian_tui.sentinel.worker_main import WorkerConfig, worker_main

_PRELOAD = ["casparian_tui.sentinel.worker_main", "pyarrow", "pyarrow.parquet"]
_GUARD = "casparian_tui.sentinel.forkserver_guard"


def _context():
    if sys.platform.startswith("linux"):
        ctx = mp.get_context("forkserver")
        # The parent-death signal follows the thread that started the forkserver,
        # so it is armed only when that is the main thread (a CLI run); a
        # forkserver started from a TUI worker thread must outlive that thread.
        main = threading.current_thread() is threading.main_thread()
        ctx.set_forkserver_preload(([_GUARD] if main else []) + _PRELOAD)
        return ctx
    return mp.get_context("spawn")


_STDERR_SWAP = threading.Lock()


@contextlib.contextmanager
def _real_stderr():
    """multiprocessing hands sys.stderr's fd to its helper processes; inside the
    TUI, Textual has replaced sys.stderr with an object without a real fd."""
    try:
        ok = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        ok = False
    if ok or sys.__stderr__ is None:
        yield
        return
    with _STDERR_SWAP:
        saved, sys.stderr = sys.stderr, sys.__stderr__
        try:
            yield
        finally:
            sys.stderr = saved


@dataclass
class Worker:
    number: int
    process: mp.Process
    conn: object
    ready: bool = False
    job: dict | None = None  # the job being parsed right now
    job_sent_at: float = 0.0
    buffered: dict[int, dict] = field(default_factory=dict)  # parsed, not yet in a part file: id -> job
    flushing: bool = False
    stopped_on_purpose: bool = False

    @property
    def idle(self) -> bool:
        return self.ready and self.job is None and not self.flushing

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def send_job(self, job: dict) -> None:
        self.job = job
        self.job_sent_at = time.monotonic()
        self.conn.send(("job", job))

    def request_flush(self) -> None:
        self.flushing = True
        self.conn.send(("flush",))


class WorkerPool:
    def __init__(self, size: int, cfg: WorkerConfig):
        self.size = size
        self.cfg = cfg
        self._ctx = _context()
        self._numbers = iter(range(1, 1 << 30))
        self.workers: list[Worker] = []
        self.replaced = 0

    def start(self) -> None:
        for _ in range(self.size):
            self.workers.append(self._spawn())

    def _spawn(self) -> Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=worker_main, args=(child, self.cfg), name="casparian-worker", daemon=True
        )
        with _real_stderr():
            proc.start()
        child.close()
        return Worker(next(self._numbers), proc, parent)

    def replace(self, worker: Worker) -> Worker:
        """Kill `worker` (if still alive) and start a fresh one in its place."""
        self.kill(worker)
        fresh = self._spawn()
        self.workers[self.workers.index(worker)] = fresh
        self.replaced += 1
        return fresh

    def kill(self, worker: Worker) -> None:
        worker.stopped_on_purpose = True
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)
        try:
            worker.conn.close()
        except OSError:
            pass

    def poll(self, timeout: float) -> list[tuple[Worker, tuple | None]]:
        """Messages that arrived within `timeout`; (worker, None) means it died."""
        by_conn = {id(w.conn): w for w in self.workers}
        by_sentinel = {w.process.sentinel: w for w in self.workers}
        ready = wait([w.conn for w in self.workers] + list(by_sentinel), timeout)
        out: list[tuple[Worker, tuple | None]] = []
        dead: set[int] = set()
        for obj in ready:
            w = by_conn.get(id(obj))
            if w is not None:
                try:
                    while w.conn.poll():
                        out.append((w, w.conn.recv()))
                except (EOFError, OSError):
                    dead.add(w.number)
        for obj in ready:
            w = by_sentinel.get(obj) if isinstance(obj, int) else None
            if w is not None:
                dead.add(w.number)
        for w in self.workers:
            if w.number in dead:
                out.append((w, None))
        return out

    def shutdown(self, graceful: bool = True) -> None:
        for w in self.workers:
            if graceful and w.process.is_alive():
                try:
                    w.conn.send(("stop",))
                except OSError:
                    pass
        deadline = time.monotonic() + (2.0 if graceful else 0)
        for w in self.workers:
            w.process.join(max(deadline - time.monotonic(), 0))
            self.kill(w)
        self.workers.clear()
