"""SQLite connections: the legacy backend (WAL, BEGIN IMMEDIATE for writers)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from casparian_tui.db.connection import Connection, Params
from casparian_tui.db.dialect import SQLITE
from casparian_tui.errors import NotADatabase

if TYPE_CHECKING:  # imported where Arrow data is made, not by every command
    import pyarrow as pa

BUSY_TIMEOUT_MS = 30_000


def is_not_a_database(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and "file is not a database" in str(exc)


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc)


def is_read_only_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "readonly database" in str(exc)


_NONE = type(None)
_ALLOWED = {"int": {int, _NONE}, "float": {float, int, _NONE}, "str": {str, _NONE}, "bool": {int, _NONE}}


def strict_array(values, type_: pa.DataType, column: str) -> pa.Array:
    """Column values as an Arrow array of `type_`, refusing anything that would not round-trip.

    SQLite is dynamically typed, and pyarrow converts quietly (1.5 -> 1 for an
    int64, bytes -> str), so the Python types are checked first: a float in an
    integer column, a blob in a text column, a 2 in a BOOLEAN column (SQLite
    stores booleans as 0/1) are errors, never silent conversions.
    """
    import pyarrow as pa

    if pa.types.is_boolean(type_):
        kind = "bool"
    elif pa.types.is_integer(type_):
        kind = "int"
    elif pa.types.is_floating(type_):
        kind = "float"
    elif pa.types.is_string(type_) or pa.types.is_large_string(type_):
        kind = "str"
    else:
        raise ValueError(f"column {column}: no conversion for type {type_}")
    found = set(map(type, values))
    if not found <= _ALLOWED[kind] or (kind == "bool" and not set(values) <= {0, 1, None}):
        bad = next(v for v in values if type(v) not in _ALLOWED[kind] or (kind == "bool" and v not in (0, 1)))
        raise ValueError(f"column {column}: {bad!r} does not fit {type_}")
    if kind == "bool":
        values = [None if v is None else v == 1 for v in values]
    elif kind == "float" and int in found and any(type(v) is int and abs(v) > 2**53 for v in values):
        raise ValueError(f"column {column}: an integer too large for a double")
    try:
        return pa.array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise ValueError(f"column {column}: {exc}") from exc


class SQLiteConnection(Connection):
    backend = "sqlite"
    dialect = SQLITE

    def __init__(self, path: Path, read_only: bool):
        super().__init__(read_only)
        if read_only:
            uri = f"{path.absolute().as_uri()}?mode=ro"
            self._con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        else:
            self._con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._path = path
        # DuckDB matches globs with RE2 (linear time); SQLite gets the glob
        # dialect's own linear-time matcher, never a backtracking regex.
        from casparian_tui.scout.glob_match import sql_glob_match

        self._con.create_function("cf_glob_match", 3, sql_glob_match, deterministic=True)
        try:
            self._con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._con.execute("SELECT count(*) FROM sqlite_master").fetchall()
            if not read_only:
                self._con.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            self._con.close()
            if is_not_a_database(exc):
                raise NotADatabase(
                    f"Not a SQLite database: {path}",
                    hint="Point --db at a SQLite file, or drop --backend sqlite for DuckDB.",
                ) from exc
            raise

    def prepare_new(self) -> None:
        # WAL lets readers go on while a writer commits; it is a property of
        # the file, so it is set once, when we create or migrate it.
        self._con.execute("PRAGMA journal_mode = WAL").fetchall()

    def execute(self, sql: str, params: Params = ()) -> int:
        cur = self._con.execute(sql, params)
        cur.fetchall()
        return cur.rowcount

    def query_all(self, sql: str, params: Params = ()) -> list[tuple]:
        return self._con.execute(sql, params).fetchall()

    def query_with_columns(self, sql: str, params: Params = ()) -> tuple[list[str], list[tuple]]:
        cur = self._con.execute(sql, params)
        rows = cur.fetchall()
        return [d[0] for d in cur.description or []], rows

    def query_arrow(self, sql: str, params: Params = ()) -> pa.Table:
        import pyarrow as pa

        cols, rows = self.query_with_columns(sql, params)
        return pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)})

    def bulk_insert(self, table: str, data: pa.Table, conflict: str = "") -> None:
        if data.num_rows == 0:
            return
        cols = data.column_names
        marks = ", ".join("?" for _ in cols)
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks}) {conflict}"
        columns = [data.column(c).to_pylist() for c in cols]
        self._con.executemany(sql, zip(*columns))

    def _begin(self, write: bool) -> None:
        self._con.execute("BEGIN IMMEDIATE" if write and not self.read_only else "BEGIN")

    def _commit(self) -> None:
        self._con.execute("COMMIT")

    def _rollback(self) -> None:
        if self._con.in_transaction:
            self._con.execute("ROLLBACK")

    def table_names(self) -> set[str]:
        rows = self.query_all("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    def table_columns(self, table: str) -> list[tuple[str, str]]:
        rows = self.query_all("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", (table,))
        return [(name, type_.upper()) for name, type_ in rows]

    def arrow_batches(
        self, sql: str, schema: pa.Schema, batch_rows: int, params: Params = ()
    ) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        cur = self._con.execute(sql, params)
        while rows := cur.fetchmany(batch_rows):
            columns = list(zip(*rows))
            yield pa.record_batch(
                [strict_array(col, f.type, f.name) for col, f in zip(columns, schema)], schema=schema
            )

    def index_definitions(self) -> list[tuple[str, str]]:
        return self.query_all(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
        )

    def engine_problems(self, tables: set[str]) -> list[dict]:
        found = [r[0] for r in self.query_all("PRAGMA quick_check")]
        if found != ["ok"]:
            return [{"check": "sqlite_quick_check", "count": len(found), "detail": "; ".join(found[:5])}]
        return []

    def set_authorizer(self, fn) -> None:
        """sqlite3's per-statement access check (None removes it); used to keep ad-hoc queries read-only."""
        self._con.set_authorizer(fn)

    def interrupt(self) -> None:
        self._con.interrupt()

    def close(self) -> None:
        self._con.close()
