"""The interface every backend connection offers to the services.

A `Connection` lives on the DB actor thread only. Services receive one as the
argument of the function they submit to the actor; they never keep it.
"""

from __future__ import annotations

import contextlib
import itertools
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from casparian_tui.db.dialect import Dialect

if TYPE_CHECKING:  # pyarrow is imported where Arrow data is made, not by every command
    import pyarrow as pa


Params = Sequence[Any]

_stage_ids = itertools.count()
# Column types for TEMP tables built from Arrow schemas (SQLite's affinities).
_TEMP_TYPES = {"string": "TEXT", "int64": "INTEGER", "int32": "INTEGER", "double": "REAL"}


class Connection(ABC):
    backend: str = ""  # a name to show; services ask `dialect`, never compare names
    dialect: Dialect

    def __init__(self, read_only: bool):
        self.read_only = read_only
        self._tx_depth = 0

    def prepare_new(self) -> None:
        """File-level settings applied when we create or migrate a database."""

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement to completion; return the affected row count when known."""

    @abstractmethod
    def query_all(self, sql: str, params: Params = ()) -> list[tuple]:
        ...

    def query_one(self, sql: str, params: Params = ()) -> tuple | None:
        rows = self.query_all(sql, params)
        return rows[0] if rows else None

    def query_value(self, sql: str, params: Params = (), default: Any = None) -> Any:
        row = self.query_one(sql, params)
        return default if row is None or row[0] is None else row[0]

    def query_dicts(self, sql: str, params: Params = ()) -> list[dict]:
        cols, rows = self.query_with_columns(sql, params)
        return [dict(zip(cols, r)) for r in rows]

    @abstractmethod
    def query_with_columns(self, sql: str, params: Params = ()) -> tuple[list[str], list[tuple]]:
        ...

    @abstractmethod
    def query_arrow(self, sql: str, params: Params = ()) -> pa.Table:
        ...

    @abstractmethod
    def bulk_insert(self, table: str, data: pa.Table, conflict: str = "") -> None:
        """Insert every row of `data` (columns named as in `table`).

        `conflict` is an optional trailing ``ON CONFLICT ...`` clause written by
        the owning service; the rows themselves are always bound or staged.
        """

    @contextlib.contextmanager
    def staged(self, data: pa.Table, prefix: str = "_cf_stage") -> Iterator[str]:
        """`data` as a table SQL can join or UPDATE … FROM, under the yielded name, for the block.

        This default copies it into a TEMP table; backends override it with
        their fast path (DuckDB reads the Arrow table in place, PostgreSQL COPYs).
        """
        name = f"{prefix}_{next(_stage_ids)}"
        cols = ", ".join(f"{c} {_TEMP_TYPES.get(str(t), 'TEXT')}" for c, t in zip(data.column_names, data.schema.types))
        self.execute(f"CREATE TEMP TABLE {name} ({cols})")
        try:
            self.bulk_insert(f"temp.{name}", data)
            yield name
        finally:
            self.execute(f"DROP TABLE IF EXISTS temp.{name}")

    def claim_ids(self, subquery: str) -> str:
        """The condition on `id` that takes the rows `subquery` picks, for UPDATE … WHERE id <this>.

        Embedded backends have one writer at a time: a plain IN. A server
        locks the picked rows and lets concurrent claimers skip them.
        """
        return f"IN ({subquery})"

    def insert_ids(self, table: str, data: pa.Table) -> list[int]:
        """Insert the rows of `data` into `table`; return their new ids, ascending.

        Embedded backends have one writer at a time, so the new rows are
        exactly those above the max(id) seen before (call inside a write
        transaction); a server overrides this with RETURNING.
        """
        before = self.query_value(f"SELECT max(id) FROM {table}", default=0)
        self.bulk_insert(table, data)
        return [r[0] for r in self.query_all(f"SELECT id FROM {table} WHERE id > ? ORDER BY id", [before])]

    def set_authorizer(self, authorizer: Any) -> None:
        """Vet every action of the next statements (sqlite3's callback; None stops).

        Only where `dialect.own_dialect_queries`: user SQL in the engine's own
        dialect runs behind it.
        """
        raise NotImplementedError

    def notify(self, channel: str) -> None:
        """Wake processes waiting in `wait_notified(channel)` once this transaction commits (servers only)."""

    def wait_notified(self, channel: str, timeout: float) -> bool:
        """Wait up to `timeout` for a `notify(channel)` from any process; False at once where unsupported."""
        return False

    @abstractmethod
    def _begin(self, write: bool) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @contextlib.contextmanager
    def transaction(self, write: bool = True) -> Iterator["Connection"]:
        """A transaction; nested use joins the outer one."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self
            finally:
                self._tx_depth -= 1
            return
        self._begin(write)
        self._tx_depth = 1
        try:
            yield self
        except BaseException:
            self._tx_depth = 0
            self._rollback()
            raise
        self._tx_depth = 0
        try:
            self._commit()
        except BaseException:
            # An interrupt aimed at the last statement can land on COMMIT
            # instead; without a rollback the next BEGIN finds it aborted.
            self._rollback()
            raise

    @property
    def in_transaction(self) -> bool:
        return self._tx_depth > 0

    @abstractmethod
    def table_names(self) -> set[str]: ...

    # The whole-table paths `casparian db migrate|export|check` need (db/transfer.py).
    def table_columns(self, table: str) -> list[tuple[str, str]]:
        """(column name, declared type) of `table`, in table order."""
        raise NotImplementedError

    def arrow_batches(
        self, sql: str, schema: pa.Schema, batch_rows: int, params: Params = ()
    ) -> Iterator[pa.RecordBatch]:
        """The result of `sql` as record batches of exactly `schema`; lossy values raise."""
        raise NotImplementedError

    def index_definitions(self) -> list[tuple[str, str]]:
        """(name, CREATE statement) of the explicit secondary indexes."""
        raise NotImplementedError

    def sequences(self) -> list[tuple[str, int | None, int]]:
        """(name, last value or None, start value) of the `seq_<table>` id sequences; none by default."""
        return []

    def continue_sequence(self, seq: str, top: int) -> None:
        """Make `seq` hand out `top + 1` next."""
        raise NotImplementedError

    def engine_problems(self, tables: set[str]) -> list[dict]:
        """What the engine's own integrity check finds (`db check`); nothing by default."""
        return []

    @abstractmethod
    def interrupt(self) -> None:
        """Stop the running statement; safe to call from another thread."""

    # Engines a request runs its statements on besides this connection (an
    # in-memory DuckDB over staged catalog rows, say). The actor stops a
    # request with `interrupt_all`, so such a statement stops with it.
    _also_interrupt: tuple = ()

    @contextlib.contextmanager
    def interrupting_too(self, engine: Any) -> Iterator[None]:
        """For the block, `interrupt_all` also calls `engine.interrupt()`."""
        self._also_interrupt = (*self._also_interrupt, engine)
        try:
            yield
        finally:
            self._also_interrupt = tuple(e for e in self._also_interrupt if e is not engine)

    def interrupt_all(self) -> None:
        """Stop what the running request executes, here or on an engine it runs on; any thread."""
        self.interrupt()
        for engine in self._also_interrupt:
            engine.interrupt()

    @abstractmethod
    def close(self) -> None: ...
