"""This process's hold on one database file: lease, waiting, opening, closing, serving.

Used by the DB actor thread only. `prepare()` gives the actor a connection
fit for the next request — its own (read-only, or read-write under the writer
lease), or one served by the process that holds the file — and `close()`
lets the file go. The decisions (when to step aside, wait, defer, or read
through a holder) are `SharingPolicy`'s (`db/sharing.py`); the protocol as a
whole is described in `db/lease.py`.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

from casparian_tui.config import Settings
from casparian_tui.db import schema_gate, trace
from casparian_tui.db.connection import Connection
from casparian_tui.db.lease import WriterLease, cannot_write, describe_holder, locked_error, read_holder
from casparian_tui.db.remote_connection import RemoteConnection
from casparian_tui.db.sharing import SharingPolicy
from casparian_tui.db.turns import WaitMarker
from casparian_tui.errors import DatabaseError

if TYPE_CHECKING:
    from casparian_tui.db.read_server import ReadServer

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


class HolderAppeared(Exception):
    """While we waited for the file, its holder began to serve reads."""


class SharedFile:
    def __init__(self, settings: Settings, policy: SharingPolicy | None = None):
        self.settings = settings
        self.policy = policy or SharingPolicy(settings.db_path)
        self.lease = WriterLease(settings.db_path, settings.command)
        self._server: ReadServer | None = None  # made when first needed: a served reader never is one
        self.conn: Connection | None = None
        self.schema_checked = False
        self.waiting_for: str | None = None  # who we wait on, for status lines
        # The holder whose read server answered our last reads (None once we
        # open the file ourselves), for status lines.
        self.reading_through: dict | None = None
        self.opened_at = 0.0
        self.steps_aside = 0  # times we gave the file up for a waiter
        self.opens = 0  # connections opened so far; tests and the bench read it
        self.connect_attempts = 0  # opens plus failed tries (each failed try costs ~20 ms of CPU)
        self._marker = WaitMarker(settings.db_path)
        self._holder_refused: int | None = None  # pid of a published holder that would not take our call
        self._watch_holder = False  # while waiting to read, switch to a holder that begins to serve

    @property
    def server(self) -> "ReadServer":
        if self._server is None:
            from casparian_tui.db.read_server import ReadServer

            self._server = ReadServer(self.settings.db_path, self.settings.command)
        return self._server

    @property
    def served(self) -> bool:
        return isinstance(self.conn, RemoteConnection)

    @property
    def is_open(self) -> bool:
        """Whether this process has the file itself open (a served connection does not count)."""
        return self.conn is not None and not self.served

    # ---- getting a connection ------------------------------------------------------
    def prepare(self, write: bool, use_holder: bool = True) -> None:
        deadline = self.policy.clock() + self.settings.wait_s
        if self.served:
            if not write and self.conn.usable:
                self.conn.deadline = self.policy.served_deadline(deadline)
                return
            self.close("write" if write else "served connection dropped")
        use_holder = (use_holder and not write and self.settings.backend == "duckdb"
                      and self.settings.serve_reads)
        if use_holder and self.conn is None and self._use_holder(deadline):
            return
        while True:
            try:
                return self._prepare_own(write, deadline, watch_holder=use_holder)
            except HolderAppeared:
                if self._use_holder(deadline):
                    return

    def _use_holder(self, deadline: float) -> bool:
        """Read through the process that holds the file, if one serves; False: take turns."""
        if self.policy.holder_to_try(self._holder_refused) is None:
            return False
        remote = RemoteConnection.connect(self.settings.db_path)
        if remote is None:
            record = self.policy.holder_to_try(None)
            self._holder_refused = record["pid"] if record else None
            return False
        remote.deadline = self.policy.served_deadline(deadline)
        if not self.schema_checked:
            if not schema_gate.current_over(remote):  # a migration (or its refusal) needs the file itself
                remote.close()
                return False
            self.schema_checked = True
        self.conn = remote
        self.opened_at = self.policy.clock()
        self.reading_through = remote.holder
        trace.event("served", holder=remote.holder.get("pid"))
        return True

    def _prepare_own(self, write: bool, deadline: float, watch_holder: bool) -> None:
        self._watch_holder = watch_holder
        if not self.schema_checked:
            try:
                schema_gate.ensure(self, deadline)
            except BaseException:
                self.close()
                raise
        if write:
            if not self.lease.held:
                if self.conn is not None and self.conn.backend == "duckdb":
                    self.close()
                self.take_lease(deadline)
            if self.conn is None:
                self.conn = self.open(read_only=False, deadline=deadline)
        elif self.conn is None:
            self.conn = self.open(read_only=self.read_only_connection(), deadline=deadline)

    def read_only_connection(self) -> bool:
        if self.settings.read_only:
            return True
        # A DuckDB reader must not block other processes' writers more than
        # needed; SQLite readers never block anyone, so they stay read-write.
        return self.settings.backend == "duckdb" and not self.lease.held

    def take_lease(self, deadline: float) -> None:
        if self.lease.acquire(timeout=0):
            return
        self._marker.announce(writer=True)
        try:
            while True:
                remaining = deadline - self.policy.clock()
                holder = read_holder(self.settings.db_path)
                self.waiting_for = describe_holder(holder) if holder else "another writer"
                if self.lease.acquire(timeout=min(max(remaining, 0), 0.1)):
                    return
                if remaining <= 0:
                    raise locked_error(self.settings.db_path, holder)
        finally:
            self.waiting_for = None
            self._marker.withdraw()

    def open(self, read_only: bool, deadline: float) -> Connection:
        # Imported here, not above: a process whose reads are served never opens the file.
        if self.settings.backend == "duckdb":
            import duckdb

            from casparian_tui.db.duckdb_backend import DuckDBConnection as factory, is_lock_error
            engine_error: type[Exception] = duckdb.IOException
        else:
            import sqlite3

            from casparian_tui.db.sqlite_backend import SQLiteConnection as factory

            engine_error, is_lock_error = sqlite3.Error, lambda exc: False
        delay = _BACKOFF_START_S
        probe_misses, looked_free = 0, False
        started = time.monotonic()
        try:
            if read_only and self.settings.backend == "duckdb":
                if self._watch_holder and self.policy.holder_to_try(self._holder_refused):
                    raise HolderAppeared
                self._let_waiting_writer_first(deadline)
            while True:
                try:
                    attempt = time.monotonic()
                    self.connect_attempts += 1
                    conn = factory(self.settings.db_path, read_only=read_only)
                    self.opens += 1
                    self.reading_through = None
                    now = time.monotonic()
                    trace.event("open", read_only=read_only, waited=round(attempt - started, 4),
                                connect=round(now - attempt, 4))
                    self.opened_at = self.policy.clock()
                    if not read_only and self.settings.backend == "duckdb" and self.settings.serve_reads:
                        self.server.start(conn.reader_cursor, schema_version=self._settled_version(conn))
                    return conn
                except engine_error as exc:
                    if not is_lock_error(exc):
                        raise _open_error(self.settings.db_path, exc, read_only) from exc
                    self._marker.announce(writer=not read_only)
                    holder, pid = self._lock_holder(exc, read_only)
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
                except OSError as exc:
                    raise cannot_write(self.settings.db_path.parent, exc) from exc
        finally:
            self.waiting_for = None
            self._marker.withdraw()

    def _settled_version(self, conn: Connection) -> int | None:
        """The file's schema version to publish: once our check has passed (before, the
        check may still migrate it, and publishes the version it leaves)."""
        if not self.schema_checked:
            return None
        from casparian_tui.db.migrate import current_version

        return current_version(conn)

    def publish_schema(self, version: int) -> None:
        if self._server is not None:
            self._server.publish_schema(version)

    def _lock_holder(self, exc: BaseException, read_only: bool) -> tuple[dict | None, int | None]:
        """Who holds DuckDB's lock: the lease record if its writer is the one
        (not when the record is our own: we took the lease, someone else has
        the file, e.g. a long read), else the pid DuckDB or F_GETLK names."""
        from casparian_tui.db import lock_probe
        from casparian_tui.db.duckdb_backend import lock_error_pid

        pid = lock_error_pid(exc) or lock_probe.conflicting_pid(
            self.settings.db_path, write=not read_only)
        holder = None if self.lease.held else read_holder(self.settings.db_path)
        if holder is not None and pid is not None and holder.get("pid") != pid:
            holder = None  # the record's writer is not who has the file now
        return holder, pid

    def _let_waiting_writer_first(self, deadline: float) -> None:
        """A reader arriving while a writer has waited a while lets it go first.

        DuckDB's read locks are shared, so without this a stream of readers
        that overlap each other would keep a waiting writer out for ever. A
        reader that comes just after the writer began to wait still joins
        the readers already in (`READERS_JOIN_S`): deferring it would cost it
        the writer's whole next turn for the sake of a few milliseconds.
        """
        if not self.policy.reader_defers():
            return
        self._marker.announce(writer=False)
        since = self.policy.clock()
        while self.policy.still_deferring(since, deadline):
            if self._watch_holder and self.policy.holder_to_try(self._holder_refused):
                raise HolderAppeared  # the writer is in and serves: no need to wait for the file
            time.sleep(0.005)

    def _await_unlocked(self, read_only: bool, until: float) -> bool:
        """Sleep until the holder lets go (True) or `until` passes (False).

        Looking is microseconds (see lock_probe) while a failed connect costs
        ~20 ms, so we look often and connect only when the file looks free:
        the gap a stepping-aside writer leaves is used at once.
        """
        from casparian_tui.db import lock_probe

        path = self.settings.db_path
        while True:
            if lock_probe.conflicting_pid(path, write=not read_only) is None:
                return True
            if read_only and self._watch_holder and self.policy.holder_to_try(self._holder_refused):
                raise HolderAppeared
            if time.monotonic() >= until:
                return False
            time.sleep(_PROBE_S)

    # ---- letting go ------------------------------------------------------------------
    def step_aside_if_due(self) -> None:
        """At a request boundary, give the file up for a waiting process."""
        if not self.is_open or not self.policy.turn_over(self.opened_at):
            return
        self.close("step aside")
        self.steps_aside += 1
        since = self.policy.clock()
        while self.policy.still_yielding(since):
            time.sleep(0.005)

    def hand_over(self, why: str) -> None:
        """Give the file up now for a waiting writer and stay away while it gets in."""
        self.close(why)
        self.steps_aside += 1
        since = self.policy.clock()
        while self.policy.still_yielding(since):
            time.sleep(0.005)

    def close_when_idle(self, idle_since: float, working: bool = False) -> bool:
        """After a quiet slice: close if the grace is used up or a waiter's turn has come."""
        if self.conn is None:
            return False
        close, for_waiter = self.policy.close_when_idle(
            idle_since=idle_since, grace_s=self.settings.idle_grace_s, opened_at=self.opened_at,
            holds_lease=self.lease.held, served=self.served, working=working)
        if close:
            if for_waiter:
                self.steps_aside += 1
            self.close("idle, someone waits" if for_waiter else "idle")
        return close

    def close(self, why: str = "done") -> None:
        # Close, then release the lease, then show us as disconnected: anyone
        # who sees `connected == False` may rely on the lease being free.
        try:
            if self._server is not None:
                self._server.stop()  # before the close: no cursor may be in use when it goes
            if self.conn is not None:
                t = time.monotonic()
                self.conn.close()
                trace.event("close", why=why, s=round(time.monotonic() - t, 4),
                            held=round(self.policy.clock() - self.opened_at, 4))
        finally:
            try:
                self.lease.release()
            finally:
                self.conn = None


def _open_error(path, exc: BaseException, read_only: bool) -> DatabaseError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if read_only:
        return DatabaseError(f"Cannot open {path}: {text}")
    return DatabaseError(f"Cannot open {path} for writing: {text}",
                         hint="If the folder or its filesystem is read-only, read with --read-only.")
