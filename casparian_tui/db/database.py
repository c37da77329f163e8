"""`Database`: what services hold to talk to the database.

A thin, blocking-or-future facade over the process's DB actor. Functions given
to `read`/`write` run on the actor thread with the live `Connection`; they must
not keep it.
"""

from __future__ import annotations

from typing import Any, Callable

from casparian_tui.config import Settings
from casparian_tui.db.actor import DbActor, DbFuture
from casparian_tui.db.change_signal import CHANNEL, ChangeSignal, FileWatch, ServerWatch
from casparian_tui.db.connection import Connection, Params


class Database:
    def __init__(self, settings: Settings):
        if settings.backend == "postgres":
            from casparian_tui.db.postgres_actor import PgActor

            self.actor: DbActor = PgActor(settings)
        else:
            self.actor = DbActor(settings)
        self.changes = ChangeSignal(settings.db_path)

    @property
    def settings(self) -> Settings:
        return self.actor.settings

    @property
    def backend(self) -> str:
        return self.settings.backend

    @property
    def path(self):
        return self.settings.db_path

    @property
    def location(self) -> str:
        """The file, or host:port/dbname: safe to show (never credentials)."""
        return self.settings.location

    @property
    def shared(self) -> bool:
        """A server many processes write at once: no writer lease, no turns."""
        return self.settings.backend == "postgres"

    @property
    def read_only(self) -> bool:
        return self.settings.read_only

    # futures, for the TUI and for callers that overlap work
    def submit_read(self, fn: Callable[[Connection], Any]) -> DbFuture:
        return self.actor.submit(fn, write=False)

    def submit_write(self, action: str, fn: Callable[[Connection], Any]) -> DbFuture:
        """Run `fn` in one write transaction; `action` names it in read-only refusals."""

        def in_transaction(conn: Connection) -> Any:
            with conn.transaction(write=True):
                result = fn(conn)
                conn.notify(CHANNEL)  # a server tells every host's views at commit
            self.changes.bump()  # committed: views in other processes may reload
            return result

        return self.actor.submit(in_transaction, write=True, action=action)

    def change_watch(self) -> FileWatch | ServerWatch:
        """What a view polls to learn that any process (on any host, for a server) committed a write."""
        return ServerWatch(self) if self.shared else FileWatch(self.path)

    # blocking helpers, for the CLI and for tests
    def read(self, fn: Callable[[Connection], Any]) -> Any:
        return self.submit_read(fn).result()

    def write(self, action: str, fn: Callable[[Connection], Any]) -> Any:
        return self.submit_write(action, fn).result()

    def query_all(self, sql: str, params: Params = ()) -> list[tuple]:
        return self.read(lambda c: c.query_all(sql, params))

    def query_one(self, sql: str, params: Params = ()) -> tuple | None:
        return self.read(lambda c: c.query_one(sql, params))

    def query_value(self, sql: str, params: Params = (), default: Any = None) -> Any:
        return self.read(lambda c: c.query_value(sql, params, default))

    def query_dicts(self, sql: str, params: Params = ()) -> list[dict]:
        return self.read(lambda c: c.query_dicts(sql, params))

    def query_arrow(self, sql: str, params: Params = ()):
        return self.read(lambda c: c.query_arrow(sql, params))

    def execute(self, action: str, sql: str, params: Params = ()) -> int:
        return self.write(action, lambda c: c.execute(sql, params))

    def set_read_only(self, read_only: bool) -> DbFuture:
        """Become read-only (never take the lease) or leave read-only mode."""
        return self.actor.set_read_only(read_only)

    def request_write_access(self) -> bool:
        """Leave read-only mode once the writer lease can be had (blocking; waits up to --wait).

        On failure the database stays read-only and the error (e.g. DatabaseLocked) is raised.
        """
        self.set_read_only(False).result()
        try:
            self.write("take the writer lease", lambda c: None)
        except BaseException:
            self.set_read_only(True).result()
            raise
        return True

    def working(self):
        """A context in which the file stays open through quiet spells between
        the steps of one long job (a scan's batches); waiters still get turns."""
        return self.actor.working()

    def set_activity(self, activity: str) -> None:
        """Publish what this process is doing (e.g. `scanning 12,345 files`) in the lease record."""
        self.actor.lease.set_activity(activity)

    def close(self) -> None:
        self.actor.shutdown()
        self.changes.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
