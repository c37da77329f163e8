"""The DB actor for PostgreSQL: one connection, no writer lease, no turns.

The server's MVCC and row locks let every process read and write at once, so
the file-sharing policy of `SharedFile` (lease, waiter markers, stepping
aside, closing when idle, serving reads) does not apply: `ServerSession`
takes its place in the actor, connects on first use and keeps the connection
until shutdown (reconnecting after the server dropped it). Creating or
migrating the schema is serialised between processes and hosts by an
advisory lock.
"""

from __future__ import annotations

import os
import time

from casparian_tui.config import Settings
from casparian_tui.db.actor import DbActor, _Request
from casparian_tui.db.connection import Connection
from casparian_tui.db.lease import WriterLease
from casparian_tui.db.migrate import check_not_newer, current_version, migrate
from casparian_tui.db.postgres_backend import PostgresConnection, load_psycopg
from casparian_tui.db.schema import LATEST_VERSION
from casparian_tui.db.sharing import SharingPolicy
from casparian_tui.errors import CasparianError, DatabaseError, QueryInterrupted, ReadOnlyViolation

# pg_advisory_lock key for "changing the schema" (any constant; 'cfschema' in ASCII).
_SCHEMA_LOCK = 0x6366736368656D61


class ServerSession:
    """What `SharedFile` is to a database file, for a server: a connection kept open."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = SharingPolicy(settings.db_path)  # its clock; nothing here is shared by turns
        self.lease = WriterLease(settings.db_path, settings.command)  # never taken: activity stays local
        self.server = None
        self.conn: Connection | None = None
        self.schema_checked = False
        self.waiting_for: str | None = None
        self.reading_through: dict | None = None
        self.opened_at = 0.0
        self.steps_aside = 0
        self.opens = 0
        self.connect_attempts = 0

    @property
    def is_open(self) -> bool:
        return self.conn is not None

    def prepare(self, write: bool, use_holder: bool = True) -> None:
        if self.conn is not None and self.conn.raw.closed:
            self.close("server closed the connection")
        if self.conn is None:
            self.conn = self._open()
        if not self.schema_checked:
            try:
                self._check_schema()
            except BaseException:
                self.close()
                raise

    def _check_schema(self) -> None:
        conn = self.conn
        where = self.settings.location
        version = current_version(conn)
        if version != LATEST_VERSION:
            check_not_newer(version, where)
            if self.settings.read_only:
                raise DatabaseError(
                    f"Database {where} has schema version {version}; this Casparian needs {LATEST_VERSION}.",
                    hint="Run any command once without --read-only to migrate it.",
                )
            conn.query_all("SELECT pg_advisory_lock(?)", (_SCHEMA_LOCK,))
            try:
                version = current_version(conn)  # another host may have migrated meanwhile
                check_not_newer(version, where)
                if version < LATEST_VERSION:
                    migrate(conn)
            finally:
                conn.query_all("SELECT pg_advisory_unlock(?)", (_SCHEMA_LOCK,))
        self.schema_checked = True

    def _open(self) -> Connection:
        # Not the command line: a --db URL in it may carry a password.
        conn = PostgresConnection(self.settings.dsn, read_only=self.settings.read_only,
                                  application_name=f"casparian {os.getpid()}")
        self.opens += 1
        self.connect_attempts += 1
        self.opened_at = time.monotonic()
        return conn

    def step_aside_if_due(self) -> None:
        return None

    def hand_over(self, why: str) -> None:
        return None

    def close_when_idle(self, idle_since: float, working: bool = False) -> bool:
        return False

    def close(self, why: str = "done") -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


class PgActor(DbActor):
    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.file = ServerSession(settings)

    @property
    def is_writer(self) -> bool:
        return not self.settings.read_only

    def _idle_timeout(self) -> float | None:
        return None  # nobody waits for us: keep the connection

    def _translate(self, exc: BaseException, req: _Request) -> BaseException:
        if isinstance(exc, CasparianError):
            return exc
        psycopg = load_psycopg()
        if not isinstance(exc, psycopg.Error):
            return super()._translate(exc, req)  # e.g. an in-memory DuckDB's interrupt (outputs queries)
        if isinstance(exc, psycopg.errors.QueryCanceled):
            err = QueryInterrupted("The query was interrupted.")
        elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            err = ReadOnlyViolation(req.action)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            err = DatabaseError(f"Database error: {first}")
        if self.file.conn is not None and self.file.conn.raw.closed:
            self.file.close("connection lost")
        err.__cause__ = exc
        return err
