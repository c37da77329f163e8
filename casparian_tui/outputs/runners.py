"""Where a validated read-only statement runs, per backend.

A runner executes SQL that wraps the user's statement (a page, a count, a
frequency table, an export's stream) under the same rules as
`casparian query`: the statement passed `check_duckdb` (or, on SQLite, the
authorizer) and runs in a READ ONLY transaction beside the `outputs.*` views.

- `CatalogDuckDB`: the catalog database itself (DuckDB backend). The output
  views live in an in-memory database attached for each request and dropped
  after it, as `query.run_query` does.
- `CatalogSQLite`: a SQLite statement over the catalog only, behind the
  authorizer of `query`.
- `CatalogServer`: a statement over the catalog only on PostgreSQL, in a
  READ ONLY transaction (DuckDB's parser must have accepted it first).
- `ScratchDuckDB` (outputs/sqlite_outputs.py): an in-memory DuckDB over the
  Parquet with the catalog tables the statement names staged from SQLite.

Runners live on the DB actor thread: made inside a request, never kept by
the UI.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Iterator, Sequence

from casparian_tui.db.connection import Connection
from casparian_tui.outputs import query
from casparian_tui.outputs.query import OutputView, QueryFailed, QueryRefused


def create_views(execute, views: Sequence[OutputView], schema: str = "outputs") -> list[str]:
    """One view per output over its Parquet files; the file patterns are bound variables."""
    variables = []
    for i, v in enumerate(views):
        var = f"cf_output_{i}"
        execute(f"SET VARIABLE {var} = ?", [v.pattern])
        variables.append(var)
        execute(f'CREATE VIEW {schema}."{v.name}" AS SELECT * FROM '
                f"read_parquet(getvariable('{var}'), union_by_name = true)")
    return variables


class CatalogDuckDB:
    engine = "duckdb"

    def __init__(self, conn: Connection, views: Sequence[OutputView]):
        self.conn = conn
        self.views = views

    @contextlib.contextmanager
    def _scope(self) -> Iterator[None]:
        import duckdb

        conn = self.conn
        conn.execute("DETACH DATABASE IF EXISTS outputs")
        conn.execute("ATTACH ':memory:' AS outputs (READ_ONLY false)")
        variables: list[str] = []
        try:
            variables = create_views(conn.execute, self.views)
            conn.execute("BEGIN TRANSACTION READ ONLY")
            try:
                yield
            except duckdb.InterruptException:
                raise  # the actor reports it as QueryInterrupted
            except duckdb.Error as exc:
                raise query._failed(exc) from None
            finally:
                conn.execute("ROLLBACK")
        finally:
            conn.execute("DETACH DATABASE IF EXISTS outputs")
            for var in variables:
                conn.execute(f"RESET VARIABLE {var}")

    def rows(self, sql: str, params: Sequence = ()) -> tuple[list[str], list[tuple]]:
        with self._scope():
            return self.conn.query_with_columns(sql, params)

    def batches(self, sql: str, params: Sequence, batch_rows: int):
        """The result as Arrow record batches (streamed; the request holds the scope while they flow)."""
        with self._scope():
            yield from self.conn.arrow_reader(sql, params, batch_rows)


class _CatalogOnly:
    """A statement over the catalog tables alone, on the catalog's own connection."""

    engine = ""

    def __init__(self, conn: Connection):
        self.conn = conn

    def _scope(self) -> contextlib.AbstractContextManager:
        raise NotImplementedError

    def rows(self, sql: str, params: Sequence = ()) -> tuple[list[str], list[tuple]]:
        with self._scope():
            return self.conn.query_with_columns(sql, params)

    def batches(self, sql: str, params: Sequence, batch_rows: int):
        with self._scope():
            table = self.conn.query_arrow(sql, params)
        yield from table.to_batches(batch_rows)


class CatalogSQLite(_CatalogOnly):
    engine = "sqlite"

    @contextlib.contextmanager
    def _scope(self) -> Iterator[None]:
        self.conn.set_authorizer(query._authorize)
        try:
            yield
        except sqlite3.DatabaseError as exc:
            text = query._first_line(exc)
            if "not authorized" in text:
                raise QueryRefused("Only read-only queries are allowed.",
                                   hint="casparian query runs a single SELECT.") from None
            raise QueryFailed(f"Query failed: {text}") from None
        except sqlite3.Warning as exc:
            raise QueryRefused(f"Give exactly one statement ({query._first_line(exc)}).") from None
        finally:
            self.conn.set_authorizer(None)


class CatalogServer(_CatalogOnly):
    engine = "postgres"

    @contextlib.contextmanager
    def _scope(self) -> Iterator[None]:
        from casparian_tui.errors import CasparianError

        try:
            with self.conn.transaction(write=False):  # BEGIN READ ONLY on this backend
                yield
        except CasparianError:
            raise
        except Exception as exc:  # the driver's errors: the server refused or failed the query
            text = query._first_line(exc)
            if "read-only transaction" in text:
                raise QueryRefused("Refused: the query tried to change the database.",
                                   hint="casparian query only reads.") from None
            raise QueryFailed(f"Query failed: {text}") from None
