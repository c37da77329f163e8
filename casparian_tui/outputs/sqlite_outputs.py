"""Parser outputs on the SQLite backend: an in-memory DuckDB over the Parquet.

SQLite cannot read Parquet, and DuckDB is always installed. A statement
that names an output view (`outputs.<parser>_<output>`), a Parquet file or
anything that is not a catalog table runs on a scratch in-memory DuckDB: the
output views are created there exactly as on the DuckDB backend, and the
catalog tables the statement names are staged into it as Arrow, read from
SQLite through the actor, so outputs can be joined with the catalog. A
statement over catalog tables only stays on SQLite (its own dialect).

Staging copies whole tables through Python (SQLite hands out Python rows),
so it has a ceiling: MAX_STAGED_ROWS rows over all staged tables. Measured
with /tmp scripts on this machine (2 shared cores, load average about 11):
scout_files (18 columns) staged 200,000 rows in 3.8 s (peak RSS +290 MB) and
1,000,000 rows in 23.7 s (+500 MB); fetching the rows from sqlite3 alone is
about half of that. So the ceiling is 200,000 rows, a few seconds at worst;
above it the statement is refused with a hint (query the catalog alone, or
use the DuckDB backend, which joins without copying).
"""

from __future__ import annotations

import re
from typing import Sequence

import pyarrow as pa

from casparian_tui.db.connection import Connection
from casparian_tui.outputs import query
from casparian_tui.outputs.query import OutputView, QueryRefused
from casparian_tui.outputs.runners import create_views

MAX_STAGED_ROWS = 200_000
_STAGE_BATCH = 100_000
_ARROW_TYPES = {"BIGINT": pa.int64(), "INTEGER": pa.int64(), "TEXT": pa.string(), "DOUBLE": pa.float64(),
                "REAL": pa.float64(), "BOOLEAN": pa.bool_()}


def named_tables(sql: str) -> tuple[set[str], bool]:
    """(unqualified table names the statement reads, whether it names an `outputs.` view)."""
    import duckdb

    try:
        names = {n.lower() for n in duckdb.get_table_names(sql)}
        qualified = duckdb.get_table_names(sql, qualified=True)
    except duckdb.Error:
        # Binding a read_parquet() whose files do not exist fails here;
        # every identifier-like word is then a candidate name.
        words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
        return words, "outputs" in words
    return names, any(q.lower().lstrip('"').startswith("outputs") for q in qualified)


def runs_on_sqlite(sql: str, catalog_tables: set[str]) -> bool:
    """True when `sql` reads catalog tables only (SQLite runs it itself)."""
    names, outputs = named_tables(sql)
    return bool(names) and not outputs and names <= {t.lower() for t in catalog_tables}


def stage_catalog(conn: Connection, sql: str) -> dict[str, pa.Table]:
    """The catalog tables `sql` names, read from SQLite as Arrow (within MAX_STAGED_ROWS)."""
    names, _ = named_tables(sql)
    tables = sorted(t for t in conn.table_names() if t.lower() in names)
    counts = {t: conn.query_value(f'SELECT count(*) FROM "{t}"', default=0) for t in tables}
    total = sum(counts.values())
    if total > MAX_STAGED_ROWS:
        big = ", ".join(f"{t} ({n:,} rows)" for t, n in counts.items() if n)
        raise QueryRefused(
            f"Joining outputs with {big} would copy {total:,} catalog rows out of SQLite "
            f"(the limit is {MAX_STAGED_ROWS:,}).",
            hint="Query the catalog tables alone, or use the DuckDB backend (casparian db migrate).")
    with conn.transaction(write=False):  # one snapshot (and a server's cursors need a transaction)
        return _stage(conn, tables)


def _stage(conn: Connection, tables: list[str]) -> dict[str, pa.Table]:
    staged = {}
    for t in tables:
        schema = pa.schema([(c, _ARROW_TYPES.get(kind.split("(")[0], pa.string()))
                            for c, kind in conn.table_columns(t)])
        try:
            batches = list(conn.arrow_batches(f'SELECT * FROM "{t}"', schema, _STAGE_BATCH))
            staged[t] = pa.Table.from_batches(batches, schema=schema)
        except ValueError:  # a value SQLite stored against its declared type: let Arrow infer
            staged[t] = conn.query_arrow(f'SELECT * FROM "{t}"')
    return staged


class ScratchDuckDB:
    """An in-memory DuckDB with the output views and the staged catalog tables; lives for one result."""

    engine = "duckdb-scratch"

    def __init__(self, views: Sequence[OutputView], staged: dict[str, pa.Table]):
        import duckdb

        from casparian_tui.db.duckdb_backend import quiet

        self._con = quiet(duckdb.connect(":memory:"))
        self._con.execute("CREATE SCHEMA outputs")
        create_views(lambda s, p=(): self._con.execute(s, p).fetchall(), views)
        self._staged = staged  # kept alive: registered tables are views over these
        for name, table in staged.items():
            self._con.register(name, table)

    def _run(self, fn):
        import duckdb

        self._con.execute("BEGIN TRANSACTION READ ONLY")
        try:
            return fn()
        except duckdb.InterruptException:
            raise
        except duckdb.Error as exc:
            raise query._failed(exc) from None
        finally:
            try:
                self._con.execute("ROLLBACK")
            except duckdb.Error:
                pass

    def rows(self, sql: str, params: Sequence = ()) -> tuple[list[str], list[tuple]]:
        def run():
            cur = self._con.execute(sql, list(params))
            rows = cur.fetchall()
            return [d[0] for d in cur.description or []], rows

        return self._run(run)

    def batches(self, sql: str, params: Sequence, batch_rows: int):
        import duckdb

        self._con.execute("BEGIN TRANSACTION READ ONLY")
        try:
            reader = self._con.sql(sql, params=list(params) or None).to_arrow_reader(batch_rows)
            try:
                yield from reader
            finally:
                reader.close()
        except duckdb.InterruptException:
            raise
        except duckdb.Error as exc:
            raise query._failed(exc) from None
        finally:
            try:
                self._con.execute("ROLLBACK")
            except duckdb.Error:
                pass

    def interrupt(self) -> None:
        self._con.interrupt()

    def close(self) -> None:
        self._con.close()
