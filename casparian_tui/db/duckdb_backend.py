"""DuckDB connections: the default, embedded backend."""

from __future__ import annotations

import contextlib
import itertools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import duckdb

from casparian_tui.db.connection import Connection, Params
from casparian_tui.db.dialect import DUCKDB
from casparian_tui.errors import NotADatabase

if TYPE_CHECKING:  # DuckDB hands Arrow data over itself: a reading command needs no pyarrow
    import pyarrow as pa

_LOCK_PID = re.compile(r"\(PID (\d+)\)")
_stage_ids = itertools.count()
# Air-gapped machines are the norm for our users: never reach for the network.
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """DuckDB draws its own progress bar on stdout for statements over ~2 s,
    which corrupts `--json` output (seen on a loaded machine during a scan's
    final statements); we report progress ourselves. A per-session setting."""
    con.execute("SET enable_progress_bar = false").fetchall()
    return con


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "Could not set lock" in str(exc)


def lock_error_pid(exc: BaseException) -> int | None:
    m = _LOCK_PID.search(str(exc))
    return int(m.group(1)) if m else None


def is_read_only_error(exc: BaseException) -> bool:
    text = str(exc)
    return "read-only mode" in text or "read only mode" in text


class DuckDBConnection(Connection):
    backend = "duckdb"
    dialect = DUCKDB

    def __init__(self, path: Path, read_only: bool):
        super().__init__(read_only)
        if _looks_like_sqlite(path):
            # DuckDB would try to download its sqlite extension to read it.
            raise NotADatabase(
                f"Not a DuckDB database: {path}", hint="It looks like a SQLite database: add --backend sqlite."
            )
        try:
            self._con = quiet(duckdb.connect(str(path), read_only=read_only, config=_CONFIG))
        except duckdb.IOException as exc:
            if "not a valid DuckDB database" in str(exc):
                hint = "Point --db at a DuckDB file, or a new path to create one."
                raise NotADatabase(f"Not a DuckDB database: {path}", hint=hint) from exc
            raise

    def execute(self, sql: str, params: Params = ()) -> int:
        rel = self._con.execute(sql, params)
        rows = rel.fetchall()
        # DML statements report their affected-row count as a one-row result.
        if len(rows) == 1 and len(rows[0]) == 1 and isinstance(rows[0][0], int) and rel.description and rel.description[0][0] == "Count":
            return rows[0][0]
        return -1

    def query_all(self, sql: str, params: Params = ()) -> list[tuple]:
        return self._con.execute(sql, params).fetchall()

    def query_with_columns(self, sql: str, params: Params = ()) -> tuple[list[str], list[tuple]]:
        cur = self._con.execute(sql, params)
        rows = cur.fetchall()
        return [d[0] for d in cur.description or []], rows

    def query_arrow(self, sql: str, params: Params = ()) -> pa.Table:
        # duckdb 2.x: fetch_arrow_table is gone and Arrow from an execute()
        # result copies (and warns); a relation converts directly.
        return self._con.sql(sql, params=list(params) or None).to_arrow_table()

    def bulk_insert(self, table: str, data: pa.Table, conflict: str = "") -> None:
        if data.num_rows == 0:
            return
        # Staging the Arrow table and inserting from it is ~100x faster than executemany.
        name = f"_cf_stage_{next(_stage_ids)}"
        cols = ", ".join(data.column_names)
        self._con.register(name, data)
        try:
            self._con.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {name} {conflict}"
            ).fetchall()
        finally:
            self._con.unregister(name)

    @contextlib.contextmanager
    def staged(self, data: pa.Table, prefix: str = "_cf_stage") -> Iterator[str]:
        # Zero copy: DuckDB reads the registered Arrow table where it lies.
        name = f"{prefix}_{next(_stage_ids)}"
        self._con.register(name, data)
        try:
            yield name
        finally:
            self._con.unregister(name)

    def sequences(self) -> list[tuple[str, int | None, int]]:
        return self.query_all(
            "SELECT sequence_name, last_value, start_value FROM duckdb_sequences() WHERE sequence_name LIKE 'seq_%'"
        )

    def continue_sequence(self, seq: str, top: int) -> None:
        last = next(((last if last is not None else start - 1) for name, last, start in self.sequences()
                     if name == seq), None)
        steps = top - last if last is not None else 0
        if steps > 0:
            # DuckDB has no ALTER SEQUENCE … RESTART and cannot replace a sequence
            # a table depends on; drawing the values is ~25 ms per million.
            self.execute(f"SELECT max(nextval('{seq}')) FROM range(?)", (steps,))

    def _begin(self, write: bool) -> None:
        self._con.execute("BEGIN TRANSACTION").fetchall()

    def _commit(self) -> None:
        self._con.execute("COMMIT").fetchall()

    def _rollback(self) -> None:
        try:
            self._con.execute("ROLLBACK").fetchall()
        except duckdb.Error:
            pass  # a failed statement may already have ended the transaction

    def table_names(self) -> set[str]:
        rows = self.query_all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        )
        return {r[0] for r in rows}

    def table_columns(self, table: str) -> list[tuple[str, str]]:
        return self.query_all(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )

    def arrow_batches(
        self, sql: str, schema: pa.Schema, batch_rows: int, params: Params = ()
    ) -> Iterator[pa.RecordBatch]:
        reader = self._con.sql(sql, params=list(params) or None).to_arrow_reader(batch_rows)
        for batch in reader:
            yield batch if batch.schema.equals(schema) else batch.cast(schema)

    def index_definitions(self) -> list[tuple[str, str]]:
        return self.query_all("SELECT index_name, sql FROM duckdb_indexes() WHERE sql IS NOT NULL")

    def reader_cursor(self) -> duckdb.DuckDBPyConnection:
        """Another session on this open database, for a thread that serves reads beside ours."""
        return quiet(self._con.cursor())

    def arrow_reader(self, sql: str, params: Params, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The result of `sql` streamed as record batches of its own schema."""
        reader = self._con.sql(sql, params=list(params) or None).to_arrow_reader(batch_rows)
        try:
            yield from reader
        finally:
            reader.close()

    def interrupt(self) -> None:
        self._con.interrupt()

    def close(self) -> None:
        self._con.close()


def _looks_like_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False
