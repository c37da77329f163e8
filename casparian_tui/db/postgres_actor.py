"""The DB actor for PostgreSQL: one connection, no writer lease, no turns.

The server's MVCC and row locks let every process read and write at once, so
the file-sharing policy of `DbActor` (lease, waiter markers, stepping aside,
closing when idle) does not apply: the actor connects on first use and keeps
the connection until shutdown (reconnecting after the server dropped it).
Creating or migrating the schema is serialised between processes and hosts
by an advisory lock.
"""

from __future__ import annotations

import os
import time

from casparian_tui.db.actor import DbActor, _Request
from casparian_tui.db.connection import Connection
from casparian_tui.db.migrate import check_not_newer, current_version, migrate
from casparian_tui.db.postgres_backend import PostgresConnection, load_psycopg
from casparian_tui.db.schema import LATEST_VERSION
from casparian_tui.errors import CasparianError, DatabaseError, QueryInterrupted, ReadOnlyViolation

# pg_advisory_lock key for "changing the schema" (any constant; 'cfschema' in ASCII).
_SCHEMA_LOCK = 0x6366736368656D61


class PgActor(DbActor):
    @property
    def is_writer(self) -> bool:
        return not self.settings.read_only

    def _idle_timeout(self) -> float | None:
        return None  # nobody waits for us: keep the connection

    def _idle_over(self) -> bool:
        return False

    def _maybe_step_aside(self) -> None:
        return None

    def _prepare(self, write: bool) -> None:
        if self._conn is not None and self._conn.raw.closed:
            self._close("server closed the connection")
        if self._conn is None:
            self._conn = self._open(read_only=self.settings.read_only, deadline=0.0)
        if not self._schema_checked:
            try:
                self._check_schema(0.0)
            except BaseException:
                self._close()
                raise

    def _check_schema(self, deadline: float) -> None:
        conn = self._conn
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
        self._schema_checked = True

    def _open(self, read_only: bool, deadline: float) -> Connection:
        # Not the command line: a --db URL in it may carry a password.
        conn = PostgresConnection(self.settings.dsn, read_only=read_only, application_name=f"casparian {os.getpid()}")
        self.opens += 1
        self.connect_attempts += 1
        self._opened_at = time.monotonic()
        return conn

    def _translate(self, exc: BaseException, req: _Request) -> BaseException:
        if isinstance(exc, CasparianError):
            return exc
        psycopg = load_psycopg()
        if not isinstance(exc, psycopg.Error):
            return exc
        if isinstance(exc, psycopg.errors.QueryCanceled):
            err = QueryInterrupted("The query was interrupted.")
        elif isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            err = ReadOnlyViolation(req.action)
        else:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            err = DatabaseError(f"Database error: {first}")
        if self._conn is not None and self._conn.raw.closed:
            self._close("connection lost")
        err.__cause__ = exc
        return err
