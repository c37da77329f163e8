"""The DB actor: the one thread per process that owns the database connection.

Every database call is a request on the actor's queue; the reply is a
`concurrent.futures.Future`. The actor keeps the queue, runs each request on
the connection its `SharedFile` prepares (`db/shared_file.py`: the lease,
waiting, opening and closing, serving other processes' reads), and
interrupts what runs when asked, when shutting down, or when a read of ours
keeps a waiting writer out too long.
"""

from __future__ import annotations

import atexit
import contextlib
import queue
import sys
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from casparian_tui.config import Settings
from casparian_tui.db import trace
from casparian_tui.db.connection import Connection
from casparian_tui.db.lease import locked_error
from casparian_tui.db.remote_connection import NotServed
from casparian_tui.db.shared_file import SharedFile
from casparian_tui.db.sharing import SharingPolicy
from casparian_tui.errors import (
    ActorClosed,
    DatabaseError,
    QueryInterrupted,
    ReadOnlyViolation,
)

# While idle with the file open, look for waiters this often (a scandir).
_IDLE_POLL_S = 0.05
# While a read of ours holds the file, look for a writer kept out this often.
_OVERSTAY_POLL_S = 0.05
# How often a main thread waiting for a reply wakes to run signal handlers.
_MAIN_WAKE_S = 0.2


class DbFuture(Future):
    """A reply from the actor that can also stop its request."""

    def __init__(self, actor: "DbActor"):
        super().__init__()
        self._actor = actor

    def interrupt(self) -> None:
        """Cancel the request if still queued, interrupt it if running."""
        if not self.cancel():
            self._actor._interrupt(self)

    def result(self, timeout: float | None = None) -> Any:
        if timeout is not None or threading.current_thread() is not threading.main_thread():
            return super().result(timeout)
        # The main thread wakes now and then: a signal the kernel hands to
        # another thread (ours, or DuckDB's) runs its Python handler (Ctrl+C,
        # SIGTERM) only when the main thread runs bytecode, never inside an
        # untimed wait, so a blocked CLI would not stop.
        while True:
            try:
                return super().result(_MAIN_WAKE_S)
            except TimeoutError:
                if self.done():  # the request itself raised TimeoutError
                    return super().result()


@dataclass
class _Request:
    fn: Callable[[Connection], Any]
    write: bool
    action: str
    future: DbFuture
    control: bool = False  # runs without a connection (mode switches)


class _Overstayed(Exception):
    """Our read was interrupted because a writer waited for the file too long."""


class _OverstayWatch:
    """Interrupts a read on our own DuckDB connection once a writer has waited too long."""

    def __init__(self, policy: SharingPolicy, conn: Connection):
        self.fired = False
        self._stop = threading.Event()
        self._policy, self._conn = policy, conn
        self._thread = threading.Thread(target=self._run, name="casparian-db-overstay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = self._policy.clock()
        while not self._stop.wait(_OVERSTAY_POLL_S):
            if self._policy.read_overstayed(started):
                self.fired = True
                self._conn.interrupt_all()
                return

    def stop(self) -> None:
        self._stop.set()


def _from_duckdb(exc: BaseException, kind: str) -> bool:
    """`exc` is DuckDB's `kind` of error. A process that has not loaded duckdb
    cannot have one, and a read served by another process never loads it
    (importing it costs a CLI call ~0.1 s)."""
    return _from_engine("duckdb", exc, kind)


def _from_engine(module: str, exc: BaseException, kind: str) -> bool:
    engine = sys.modules.get(module)
    return engine is not None and isinstance(exc, getattr(engine, kind))


def _sqlite_backend():
    """The SQLite backend, or None where sqlite3 was never loaded (so no error is
    SQLite's): a read served by another process loads neither."""
    if "sqlite3" not in sys.modules:
        return None
    from casparian_tui.db import sqlite_backend

    return sqlite_backend


def _duckdb_read_only(exc: BaseException) -> bool:
    if "casparian_tui.db.duckdb_backend" not in sys.modules:
        return False
    from casparian_tui.db import duckdb_backend

    return duckdb_backend.is_read_only_error(exc)


class DbActor:
    def __init__(self, settings: Settings, policy: SharingPolicy | None = None):
        self.file = SharedFile(settings, policy)
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._current_lock = threading.Lock()
        self._current: _Request | None = None
        self._closed = threading.Event()
        self._idle_since: float | None = None  # when the queue went quiet with the file open
        self._jobs = 0  # long jobs under way (see working())
        self._jobs_lock = threading.Lock()

    # ---- what others read --------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.file.settings

    @property
    def lease(self):
        return self.file.lease

    @property
    def server(self):
        return self.file.server

    @property
    def waiting_for(self) -> str | None:
        return self.file.waiting_for

    @property
    def reading_through(self) -> dict | None:
        return self.file.reading_through

    @property
    def opens(self) -> int:
        return self.file.opens

    @property
    def connect_attempts(self) -> int:
        return self.file.connect_attempts

    @property
    def steps_aside(self) -> int:
        return self.file.steps_aside

    @property
    def connected(self) -> bool:
        """Whether this process has the database file open (a served connection does not count)."""
        return self.file.is_open

    @property
    def is_writer(self) -> bool:
        return self.file.lease.held

    # ---- caller side -------------------------------------------------
    def submit(
        self, fn: Callable[[Connection], Any], *, write: bool = False, action: str = "write to the database"
    ) -> DbFuture:
        fut = DbFuture(self)
        if self._closed.is_set():
            fut.set_exception(ActorClosed("The database connection is shut down."))
            return fut
        if write and self.settings.read_only:
            fut.set_exception(ReadOnlyViolation(action))
            return fut
        self._ensure_started()
        self._queue.put(_Request(fn, write, action, fut))
        return fut

    def set_read_only(self, read_only: bool) -> DbFuture:
        """Switch mode between requests; the connection reopens in the new mode."""

        def switch(_conn):
            self.file.close()
            self.file.settings = self.file.settings.with_(read_only=read_only)

        fut = DbFuture(self)
        if self._closed.is_set():
            fut.set_exception(ActorClosed("The database connection is shut down."))
            return fut
        self._ensure_started()
        self._queue.put(_Request(switch, False, "switch mode", fut, control=True))
        return fut

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop serving: fail what is queued, interrupt what runs, close, release."""
        if self._closed.is_set():
            return
        self._closed.set()
        atexit.unregister(self.shutdown)
        with self._current_lock:
            conn = self.file.conn
            if self._current is not None and conn is not None:
                conn.interrupt_all()
        self._fail_pending()
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            if thread is not threading.current_thread():
                # Interrupt again until the thread ends: a request that was
                # still opening the file, or between two statements, when the
                # first interrupt came would otherwise run on unstopped.
                deadline = time.monotonic() + timeout
                while thread.is_alive() and time.monotonic() < deadline:
                    with self._current_lock:
                        conn = self.file.conn
                        if self._current is not None and conn is not None:
                            conn.interrupt_all()
                    thread.join(0.05)
                if thread.is_alive():
                    # Stuck in Python code we cannot interrupt; the OS drops the
                    # lock when we exit, but the record would say we still write.
                    self.lease.forget_record()

    # ---- actor side --------------------------------------------------
    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Keep the file open through the quiet spells of one long job (see JOB_GRACE_S)."""
        with self._jobs_lock:
            self._jobs += 1
        try:
            yield
        finally:
            with self._jobs_lock:
                self._jobs -= 1

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="casparian-db-actor", daemon=True)
                self._thread.start()
                atexit.register(self.shutdown)

    def _loop(self) -> None:
        try:
            while True:
                try:
                    req = self._queue.get(timeout=self._idle_timeout())
                except queue.Empty:
                    if self._idle_since is not None:
                        self.file.close_when_idle(self._idle_since, working=self._jobs > 0)
                    continue
                if req is None or self._closed.is_set():
                    if req is not None and req.future.set_running_or_notify_cancel():
                        req.future.set_exception(ActorClosed("The database connection is shutting down."))
                    if req is None:
                        break
                    continue
                if not req.future.set_running_or_notify_cancel():
                    continue  # cancelled while queued: never runs
                if not req.control:
                    self.file.step_aside_if_due()
                t = time.monotonic()
                self._serve(req)
                trace.event("request", action=req.action, write=req.write, s=round(time.monotonic() - t, 4))
                self._idle_since = None  # the grace counts from the end of the last request
        finally:
            self._fail_pending()
            self.file.close()

    def _idle_timeout(self) -> float | None:
        """How long to wait for the next request before looking again.

        With the file open and nothing to do we wake every `_IDLE_POLL_S` to
        look for waiters: a process that starts waiting in the middle of our
        grace period gets in within that slice, not after the whole grace.
        """
        if self.file.conn is None:
            self._idle_since = None
            return None
        if self._idle_since is None:
            self._idle_since = self.file.policy.clock()
        return min(_IDLE_POLL_S, self.settings.idle_grace_s)

    def _serve(self, req: _Request) -> None:
        if req.control:
            try:
                req.future.set_result(req.fn(None))
            except BaseException as exc:
                req.future.set_exception(exc)
            return
        try:
            result = self._run(req)
        except BaseException as exc:  # every failure goes back to the caller
            self._fail(req, exc)
        else:
            req.future.set_result(result)

    def _run(self, req: _Request) -> Any:
        use_holder, watch = True, True
        while True:
            try:
                return self._attempt(req, use_holder, watch)
            except NotServed as exc:
                if not use_holder:
                    raise
                # Reads only so far, so running it again on our own connection is safe.
                trace.event("not_served", action=req.action, why=str(exc))
                self.file.close("not served")
                use_holder = False
            except _Overstayed:
                # A writer waited for the file while our read ran on: let it
                # in, then ask again (its read server may answer at once).
                self.file.hand_over("a writer waits")
                use_holder, watch = True, False

    def _fail(self, req: _Request, exc: BaseException) -> None:
        if isinstance(exc, NotServed):  # a second refusal: should not happen, never leak it
            exc = DatabaseError(f"Database error: {exc}")
        req.future.set_exception(self._translate(exc, req))
        if _from_duckdb(exc, "FatalException"):
            self.file.close()

    def _attempt(self, req: _Request, use_holder: bool, watch: bool) -> Any:
        self.file.prepare(req.write, use_holder)
        conn = self.file.conn
        watcher = None
        if watch and not req.write and self.file.is_open and conn.read_only and conn.backend == "duckdb":
            watcher = _OverstayWatch(self.file.policy, conn)
        with self._current_lock:
            self._current = req
        try:
            return req.fn(conn)
        except Exception as exc:
            if not (isinstance(exc, QueryInterrupted) or _from_duckdb(exc, "InterruptException")):
                raise
            if watcher is not None and watcher.fired:
                raise _Overstayed from None
            raise
        finally:
            if watcher is not None:
                watcher.stop()
            with self._current_lock:
                self._current = None
            if self.file.conn is not None and self.file.conn.in_transaction:
                self.file.conn._tx_depth = 0
                self.file.conn._rollback()

    def _translate(self, exc: BaseException, req: _Request) -> BaseException:
        if isinstance(exc, DatabaseError):
            return exc
        sqlite = _sqlite_backend()
        if _from_duckdb(exc, "InterruptException") or (
            _from_engine("sqlite3", exc, "OperationalError") and "interrupted" in str(exc)
        ):
            err = QueryInterrupted("The query was interrupted.")
        elif _duckdb_read_only(exc) or (sqlite is not None and sqlite.is_read_only_error(exc)):
            err = ReadOnlyViolation(req.action)
        elif sqlite is not None and sqlite.is_lock_error(exc):
            err = locked_error(self.settings.db_path, None)
        elif _from_duckdb(exc, "Error") or _from_engine("sqlite3", exc, "Error"):
            err = DatabaseError(f"Database error: {exc}")
        else:
            return exc
        err.__cause__ = exc
        return err

    def _fail_pending(self) -> None:
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                return
            if req is not None and req.future.set_running_or_notify_cancel():
                req.future.set_exception(ActorClosed("The database connection was shut down."))

    def _interrupt(self, fut: DbFuture) -> None:
        with self._current_lock:
            if self._current is not None and self._current.future is fut and self.file.conn is not None:
                self.file.conn.interrupt_all()
