"""A `Connection` whose reads are answered by the process that holds the DuckDB file.

Services keep their SQL: `query_all`, `query_with_columns`, `query_arrow` and
read transactions go over the holder's socket (`db/read_server.py`) with their
bound parameters, and rows or Arrow tables come back. Anything that would
write, or that the holder refuses, raises `NotServed`; a holder that closes,
dies or does not answer raises `HolderGone`. The actor catches both and runs
the request on a connection of its own, taking turns as before.
"""

from __future__ import annotations

import pickle
import threading
import time
from multiprocessing.connection import AuthenticationError, Client, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Iterator

from casparian_tui.db import read_wire
from casparian_tui.db.connection import Connection, Params
from casparian_tui.db.dialect import DUCKDB
from casparian_tui.db.lease import pid_alive
from casparian_tui.errors import DatabaseError, QueryInterrupted

# While waiting for an answer, look whether we were interrupted this often.
_SLICE_S = 0.05


class NotServed(Exception):
    """The holder cannot run this request for us; run it on our own connection."""


class HolderGone(NotServed):
    """The holder closed, died or stopped answering."""


class RemoteConnection(Connection):
    backend = "duckdb"
    dialect = DUCKDB

    def __init__(self, conn, holder: dict):
        super().__init__(read_only=True)
        self._conn = conn
        self.holder = holder  # pid, command: for status lines
        self.deadline = float("inf")  # the current request's; set by the actor
        self._interrupted = threading.Event()
        self._broken = False

    @classmethod
    def connect(cls, db_path: Path) -> "RemoteConnection | None":
        """A served connection to the published holder of `db_path`, or None."""
        record = read_wire.read_record(db_path)
        if record is None:
            return None
        try:
            key = bytes.fromhex(record["key"])
            conn = Client(str(record["socket"]), family="AF_UNIX")
        except (OSError, ValueError, TypeError):
            return None  # a stale socket, or none: take turns
        try:
            if not conn.poll(read_wire.CONNECT_TIMEOUT_S):
                raise TimeoutError
            answer_challenge(conn, key)
            deliver_challenge(conn, key)
        except (OSError, EOFError, AuthenticationError, TimeoutError):
            conn.close()
            return None
        return cls(conn, record)

    @property
    def usable(self) -> bool:
        """False once the connection was dropped (interrupted, holder gone): ask for a new one."""
        return not self._broken

    # ---- reads -----------------------------------------------------------------
    def query_all(self, sql: str, params: Params = ()) -> list[tuple]:
        return self._ask(("all", sql, tuple(params)))

    def query_with_columns(self, sql: str, params: Params = ()) -> tuple[list[str], list[tuple]]:
        cols, rows = self._ask(("columns", sql, tuple(params)))
        return list(cols), rows

    def query_arrow(self, sql: str, params: Params = ()):
        import pyarrow as pa

        return pa.ipc.open_stream(self._ask(("arrow", sql, tuple(params)))).read_all()

    def arrow_batches(self, sql: str, schema, batch_rows: int, params: Params = ()) -> Iterator:
        for batch in self.query_arrow(sql, params).to_batches(batch_rows):
            yield batch if batch.schema.equals(schema) else batch.cast(schema)

    def table_names(self) -> set[str]:
        rows = self.query_all("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")
        return {r[0] for r in rows}

    def table_columns(self, table: str) -> list[tuple[str, str]]:
        return self.query_all(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )

    def index_definitions(self) -> list[tuple[str, str]]:
        return self.query_all("SELECT index_name, sql FROM duckdb_indexes() WHERE sql IS NOT NULL")

    # ---- what stays with the turns ---------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> int:
        raise NotServed("statements that may write run on our own connection")

    def bulk_insert(self, table: str, data, conflict: str = "") -> None:
        raise NotServed("writes run on our own connection")

    def _begin(self, write: bool) -> None:
        if write:
            raise NotServed("write transactions run on our own connection")
        self._ask(("begin",))

    def _commit(self) -> None:
        self._ask(("end",))

    def _rollback(self) -> None:
        if not self._broken:
            try:
                self._ask(("end",))
            except (NotServed, DatabaseError):
                pass

    # ---- plumbing --------------------------------------------------------------
    def _ask(self, request: tuple):
        if self._broken:
            raise HolderGone("connection to the holder is closed")
        self._interrupted.clear()
        try:
            self._conn.send_bytes(read_wire.dumps(request))
            asked_to_stop = False
            while not self._conn.poll(_SLICE_S):
                if self._interrupted.is_set() and not asked_to_stop:
                    # The holder stops the statement and answers "interrupted"
                    # (or its result, if it was done): the connection stays in step.
                    self._conn.send_bytes(read_wire.dumps(("interrupt",)))
                    asked_to_stop = True
                if time.monotonic() >= self.deadline or not pid_alive(self.holder["pid"]):
                    raise HolderGone("the holder did not answer")
            data = self._conn.recv_bytes()
        except (OSError, EOFError) as exc:
            self._broken = True
            raise HolderGone(str(exc)) from exc
        except HolderGone:
            self._broken = True
            raise
        try:
            reply = read_wire.loads(data)
        except pickle.UnpicklingError as exc:  # a value type we do not carry (e.g. a time zone)
            raise NotServed(str(exc)) from exc
        status = reply[0]
        if status == "ok":
            return reply[1]
        if status == "refused":
            raise NotServed(reply[1])
        if status == "error":
            if reply[1] == "interrupted":
                raise QueryInterrupted("The query was interrupted.")
            raise DatabaseError(f"Database error: {reply[2]}")
        self._broken = True
        raise HolderGone("the holder is closing")

    def interrupt(self) -> None:
        self._interrupted.set()

    def close(self) -> None:
        self._broken = True
        try:
            self._conn.close()
        except OSError:
            pass
