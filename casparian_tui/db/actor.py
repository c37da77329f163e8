"""The DB actor: the one thread per process that owns the database connection.

Every database call is a request on the actor's queue; the reply is a
`concurrent.futures.Future`. The actor opens the connection when work
arrives and closes it (releasing the writer lease) once its queue has been
empty for the idle grace period, so other processes can open the file
between our bursts of work.
"""

from __future__ import annotations

import atexit
import queue
import random
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable

import duckdb
import sqlite3

from casparian_tui.config import Settings
from casparian_tui.db import duckdb_backend, lock_probe, sqlite_backend, trace
from casparian_tui.db.connection import Connection
from casparian_tui.db.lease import WriterLease, describe_holder, locked_error, read_holder
from casparian_tui.db.migrate import check_not_newer, current_version, migrate
from casparian_tui.db.schema import LATEST_VERSION
from casparian_tui.db.turns import WaitMarker, others_waiting, waiter_ages
from casparian_tui.errors import (
    ActorClosed,
    DatabaseError,
    NoDatabase,
    QueryInterrupted,
    ReadOnlyViolation,
)

_BACKOFF_START_S = 0.01
# Between connect attempts when the lock probe cannot see the lock (a failed
# connect costs ~20 ms of CPU, so otherwise we only watch: _await_unlocked).
_BACKOFF_MAX_S = 0.1
# While waiting for DuckDB's lock, look whether it is free this often.
_PROBE_S = 0.005
# Connect anyway this often while the probe says "locked" (a safety net only).
_RECHECK_S = 5.0
# A probe that said "free" this many times in one wait while the connect
# still failed cannot see the lock (e.g. a network filesystem), or others keep
# winning the race: back off blindly for the rest of that wait.
_PROBE_MISSES_MAX = 5
# A writer steps aside for waiting processes once it has held the file
# TURN_S, or sooner — but not before MIN_TURN_S — once their waits add up to
# TURN_S: ten readers arriving together are let in after ~0.5 s instead of
# each waiting a whole turn, while a single waiter sees the same turn as
# before. Each step aside costs the writer ~0.1-0.3 s (a checkpoint, the
# waiters' turn, a reopen), so TURN_S sets the trade between how long a
# waiter waits and how much a long writer slows down, and MIN_TURN_S how much
# progress a writer keeps under a crowd (figures: db/lease.py, rule 4).
TURN_S = 1.25
MIN_TURN_S = 0.5
# A reader that finds a writer waiting (for longer than READERS_JOIN_S) lets
# it go first, for at most MAX_DEFER_S.
READERS_JOIN_S = 0.3
MAX_DEFER_S = 2.0
# How long a writer that stepped aside stays away if the waiter is slow.
MAX_YIELD_S = 1.0
# While idle with the file open, look for waiters this often (a scandir).
_IDLE_POLL_S = 0.05


class DbFuture(Future):
    """A reply from the actor that can also stop its request."""

    def __init__(self, actor: "DbActor"):
        super().__init__()
        self._actor = actor

    def interrupt(self) -> None:
        """Cancel the request if still queued, interrupt it if running."""
        if not self.cancel():
            self._actor._interrupt(self)


@dataclass
class _Request:
    fn: Callable[[Connection], Any]
    write: bool
    action: str
    future: DbFuture
    control: bool = False  # runs without a connection (mode switches)


class DbActor:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.lease = WriterLease(settings.db_path, settings.command)
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._current_lock = threading.Lock()
        self._current: _Request | None = None
        self._closed = threading.Event()
        self._conn: Connection | None = None
        self._schema_checked = False
        self.waiting_for: str | None = None  # who we wait on, for status lines
        self._marker = WaitMarker(settings.db_path)
        self._opened_at = 0.0
        self.steps_aside = 0  # times we gave the file up for a waiter
        self._yielding = False
        self._idle_since: float | None = None  # when the queue went quiet with the file open
        self.opens = 0  # connections opened so far; tests and the bench read it
        self.connect_attempts = 0  # opens plus failed tries (each failed try costs ~20 ms of CPU)

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
            self._close()
            self.settings = self.settings.with_(read_only=read_only)

        fut = DbFuture(self)
        if self._closed.is_set():
            fut.set_exception(ActorClosed("The database connection is shut down."))
            return fut
        self._ensure_started()
        self._queue.put(_Request(switch, False, "switch mode", fut, control=True))
        return fut

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def is_writer(self) -> bool:
        return self.lease.held

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop serving: fail what is queued, interrupt what runs, close, release."""
        if self._closed.is_set():
            return
        self._closed.set()
        atexit.unregister(self.shutdown)
        with self._current_lock:
            if self._current is not None and self._conn is not None:
                self._conn.interrupt()
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
                        if self._current is not None and self._conn is not None:
                            self._conn.interrupt()
                    thread.join(0.05)
                if thread.is_alive():
                    # Stuck in Python code we cannot interrupt; the OS drops the
                    # lock when we exit, but the record would say we still write.
                    self.lease.forget_record()

    # ---- actor side --------------------------------------------------
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
                    if self._idle_over():
                        if self._yielding:
                            self.steps_aside += 1
                        self._close("idle, someone waits" if self._yielding else "idle")
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
                    self._maybe_step_aside()
                t = time.monotonic()
                self._serve(req)
                trace.event("request", action=req.action, write=req.write, s=round(time.monotonic() - t, 4))
                self._idle_since = None  # the grace counts from the end of the last request
        finally:
            self._fail_pending()
            self._close()

    def _idle_timeout(self) -> float | None:
        """How long to wait for the next request before looking again.

        With the file open and nothing to do we wake every `_IDLE_POLL_S` to
        look for waiters: a process that starts waiting in the middle of our
        grace period gets in within that slice, not after the whole grace.
        """
        if self._conn is None:
            self._idle_since = None
            return None
        if self._idle_since is None:
            self._idle_since = time.monotonic()
        return min(_IDLE_POLL_S, self.settings.idle_grace_s)

    def _idle_over(self) -> bool:
        """After a quiet slice: close now? (grace used up, or someone waits and it is their turn)."""
        if self._conn is None:
            return False
        now = time.monotonic()
        if self._idle_since is not None and now - self._idle_since >= self.settings.idle_grace_s:
            self._yielding = False
            return True
        if not self.lease.held:
            # a reader with nothing to do: let any waiter in now
            self._yielding = others_waiting(self.settings.db_path)
            return self._yielding
        self._yielding = self._turn_over(now)
        return self._yielding

    def _turn_over(self, now: float) -> bool:
        """Have the processes waiting for us waited long enough? (see TURN_S)"""
        held = now - self._opened_at
        if held < MIN_TURN_S:
            return False
        ages = waiter_ages(self.settings.db_path)
        return bool(ages) and (held >= TURN_S or sum(ages) >= TURN_S)

    def _maybe_step_aside(self) -> None:
        """At a request boundary, give the file up for a waiting process."""
        if self._conn is None or not self._turn_over(time.monotonic()):
            return
        self._close("step aside")
        self.steps_aside += 1
        deadline = time.monotonic() + MAX_YIELD_S
        while time.monotonic() < deadline and others_waiting(self.settings.db_path):
            time.sleep(0.005)

    def _serve(self, req: _Request) -> None:
        if req.control:
            try:
                req.future.set_result(req.fn(None))
            except BaseException as exc:
                req.future.set_exception(exc)
            return
        try:
            self._prepare(req.write)
            with self._current_lock:
                self._current = req
            try:
                result = req.fn(self._conn)
            finally:
                with self._current_lock:
                    self._current = None
                if self._conn is not None and self._conn.in_transaction:
                    self._conn._rollback()
                    self._conn._tx_depth = 0
        except BaseException as exc:  # every failure goes back to the caller
            req.future.set_exception(self._translate(exc, req))
            if isinstance(exc, (duckdb.FatalException,)):
                self._close()
        else:
            req.future.set_result(result)

    def _translate(self, exc: BaseException, req: _Request) -> BaseException:
        if isinstance(exc, DatabaseError):
            return exc
        if isinstance(exc, duckdb.InterruptException) or (
            isinstance(exc, sqlite3.OperationalError) and "interrupted" in str(exc)
        ):
            err = QueryInterrupted("The query was interrupted.")
        elif duckdb_backend.is_read_only_error(exc) or sqlite_backend.is_read_only_error(exc):
            err = ReadOnlyViolation(req.action)
        elif sqlite_backend.is_lock_error(exc):
            err = locked_error(self.settings.db_path, None)
        elif isinstance(exc, (duckdb.Error, sqlite3.Error)):
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
            if self._current is not None and self._current.future is fut and self._conn is not None:
                self._conn.interrupt()

    # ---- connection management ---------------------------------------
    def _prepare(self, write: bool) -> None:
        deadline = time.monotonic() + self.settings.wait_s
        if not self._schema_checked:
            try:
                self._check_schema(deadline)
            except BaseException:
                self._close()
                raise
        if write:
            if not self.lease.held:
                if self._conn is not None and self._conn.backend == "duckdb":
                    self._close()
                self._take_lease(deadline)
            if self._conn is None:
                self._conn = self._open(read_only=False, deadline=deadline)
        elif self._conn is None:
            self._conn = self._open(read_only=self._read_only_connection(), deadline=deadline)

    def _read_only_connection(self) -> bool:
        if self.settings.read_only:
            return True
        # A DuckDB reader must not block other processes' writers more than
        # needed; SQLite readers never block anyone, so they stay read-write.
        return self.settings.backend == "duckdb" and not self.lease.held

    def _check_schema(self, deadline: float) -> None:
        path = self.settings.db_path
        exists = path.exists() and path.stat().st_size > 0
        if exists:
            conn = self._open(read_only=self._read_only_connection(), deadline=deadline)
            self._conn = conn
            version = current_version(conn)
            if version == LATEST_VERSION:
                self._schema_checked = True
                return
            check_not_newer(version, path)
            if self.settings.read_only:
                self._close()
                raise DatabaseError(
                    f"Database {path} has schema version {version}; this Casparian needs {LATEST_VERSION}.",
                    hint="Run any command once without --read-only to migrate it.",
                )
        elif self.settings.read_only:
            raise NoDatabase(
                f"No database at {path}.",
                hint="Run a command without --read-only once to create it, or point --db at an existing file.",
            )
        if self._conn is not None and self._conn.read_only:
            self._close()
        self._take_lease(deadline)
        if self._conn is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = self._open(read_only=False, deadline=deadline)
        version = current_version(self._conn)
        check_not_newer(version, path)
        if version < LATEST_VERSION:
            self._conn.prepare_new()
            migrate(self._conn)
        self._schema_checked = True

    def _take_lease(self, deadline: float) -> None:
        if self.lease.acquire(timeout=0):
            return
        self._marker.announce(writer=True)
        try:
            while True:
                remaining = deadline - time.monotonic()
                holder = read_holder(self.settings.db_path)
                self.waiting_for = describe_holder(holder) if holder else "another writer"
                if self.lease.acquire(timeout=min(max(remaining, 0), 0.1)):
                    return
                if remaining <= 0:
                    raise locked_error(self.settings.db_path, holder)
        finally:
            self.waiting_for = None
            self._marker.withdraw()

    def _open(self, read_only: bool, deadline: float) -> Connection:
        factory = duckdb_backend.DuckDBConnection if self.settings.backend == "duckdb" else sqlite_backend.SQLiteConnection
        delay = _BACKOFF_START_S
        probe_misses, looked_free = 0, False
        started = time.monotonic()
        try:
            if read_only and self.settings.backend == "duckdb":
                self._let_waiting_writer_first(deadline)
            while True:
                try:
                    attempt = time.monotonic()
                    self.connect_attempts += 1
                    conn = factory(self.settings.db_path, read_only=read_only)
                    self.opens += 1
                    now = time.monotonic()
                    trace.event("open", read_only=read_only, waited=round(attempt - started, 4),
                                connect=round(now - attempt, 4))
                    self._opened_at = now
                    return conn
                except duckdb.IOException as exc:
                    if not duckdb_backend.is_lock_error(exc):
                        raise DatabaseError(f"Cannot open {self.settings.db_path}: {exc}") from exc
                    self._marker.announce(writer=not read_only)
                    holder = read_holder(self.settings.db_path)
                    pid = duckdb_backend.lock_error_pid(exc)
                    self.waiting_for = describe_holder(holder) if holder else f"PID {pid}"
                    if time.monotonic() >= deadline:
                        raise locked_error(self.settings.db_path, holder, pid) from exc
                    if looked_free:
                        probe_misses += 1  # it looked free, yet the connect failed
                    if probe_misses < _PROBE_MISSES_MAX:
                        # "Locked" from the probe is reliable, so no blind
                        # connects while it says so: ten waiters retrying every
                        # 0.1 s used a whole core of two, slowing the writer
                        # they wait for (measured: 4.5 CPU-s in a 4 s wait).
                        looked_free = self._await_unlocked(read_only, min(time.monotonic() + _RECHECK_S, deadline))
                    else:
                        looked_free = False
                        time.sleep(delay * random.uniform(0.5, 1.5))  # the probe cannot see this lock
                        delay = min(delay * 1.6, _BACKOFF_MAX_S)
                except sqlite3.Error as exc:
                    raise DatabaseError(f"Cannot open {self.settings.db_path}: {exc}") from exc
        finally:
            self.waiting_for = None
            self._marker.withdraw()

    def _let_waiting_writer_first(self, deadline: float) -> None:
        """A reader arriving while a writer has waited a while lets it go first.

        DuckDB's read locks are shared, so without this a stream of readers
        that overlap each other would keep a waiting writer out for ever. A
        reader that comes just after the writer began to wait still joins
        the readers already in (`READERS_JOIN_S`): deferring it would cost it
        the writer's whole next turn for the sake of a few milliseconds.
        """
        path = self.settings.db_path
        if not others_waiting(path, writers_only=True, for_at_least=READERS_JOIN_S):
            return
        self._marker.announce(writer=False)
        until = min(deadline, time.monotonic() + MAX_DEFER_S)
        while time.monotonic() < until and others_waiting(path, writers_only=True):
            time.sleep(0.005)

    def _await_unlocked(self, read_only: bool, until: float) -> bool:
        """Sleep until the holder lets go (True) or `until` passes (False).

        Looking is microseconds (see lock_probe) while a failed connect costs
        ~20 ms, so we look often and connect only when the file looks free:
        the gap a stepping-aside writer leaves is used at once.
        """
        path = self.settings.db_path
        while True:
            if lock_probe.conflicting_pid(path, write=not read_only) is None:
                return True
            if time.monotonic() >= until:
                return False
            time.sleep(_PROBE_S)

    def _close(self, why: str = "done") -> None:
        # Close, then release the lease, then show us as disconnected: anyone
        # who sees `connected == False` may rely on the lease being free.
        try:
            if self._conn is not None:
                t = time.monotonic()
                self._conn.close()
                trace.event("close", why=why, s=round(time.monotonic() - t, 4),
                            held=round(time.monotonic() - self._opened_at, 4))
        finally:
            try:
                self.lease.release()
            finally:
                self._conn = None

