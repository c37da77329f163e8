"""Read-only SQL over the catalog and the parser outputs (`casparian query`).

DuckDB: one SELECT (or EXPLAIN) statement, checked with DuckDB's own parser
(no ATTACH, COPY, INSTALL/LOAD, SET, PRAGMA, CALL or writes; only one
statement), run inside a READ ONLY transaction (so even nextval() is
refused). Every published output is a view `outputs.<parser>_<output>` over
the Parquet files of its latest version; `read_parquet(...)` works too.
The views live in a scratch in-memory database attached for the query and
their file patterns are bound values, never SQL text.

SQLite: the catalog only (SQLite cannot read Parquet). An authorizer allows
reading and functions and refuses everything else.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError

DEFAULT_LIMIT = 1000
_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")


class QueryRefused(CasparianError):
    """The statement is not a read-only query."""


class QueryFailed(CasparianError):
    """The database rejected the query (syntax, unknown table, ...)."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    truncated: bool  # more rows exist beyond the limit


@dataclass(frozen=True)
class OutputView:
    name: str  # <parser>_<output>
    parser: str
    version: str
    output: str
    pattern: str  # folder/*.parquet


def output_views(output_root: Path) -> list[OutputView]:
    """Each (parser, output)'s latest version folder that holds Parquet parts."""
    latest: dict[tuple[str, str], tuple[float, OutputView]] = {}
    root = Path(output_root)
    if not root.is_dir():
        return []
    for folder in root.glob("*/*/*"):
        parser, version, output = folder.parts[-3:]
        if not (folder.is_dir() and _IDENT.match(parser) and _IDENT.match(output)):
            continue
        parts = list(folder.glob("*.parquet"))
        if not parts:
            continue
        newest = max(p.stat().st_mtime for p in parts)
        view = OutputView(f"{parser}_{output}", parser, version, output, str(folder / "*.parquet"))
        if (parser, output) not in latest or newest > latest[(parser, output)][0]:
            latest[(parser, output)] = (newest, view)
    return sorted((v for _, v in latest.values()), key=lambda v: v.name)


def run_query(conn: Connection, sql: str, output_root: Path, limit: int = DEFAULT_LIMIT) -> QueryResult:
    sql = sql.strip().rstrip(";").strip()
    if not sql:
        raise QueryRefused("Empty query.")
    if conn.backend == "duckdb":
        return _duckdb(conn, sql, output_root, limit)
    if conn.backend == "postgres":
        return _postgres(conn, sql, limit)
    return _sqlite(conn, sql, limit)


def read_parquet(conn: Connection, pattern: str, limit: int = DEFAULT_LIMIT) -> QueryResult:
    """Rows of Parquet files matching `pattern` (a bound value, never SQL text). DuckDB only."""
    if conn.backend != "duckdb":
        raise QueryRefused("Reading Parquet needs the DuckDB backend.")
    cols, rows = conn.query_with_columns("SELECT * FROM read_parquet(?, union_by_name = true) LIMIT ?",
                                         [pattern, limit + 1])
    return QueryResult(cols, rows[:limit], len(rows) > limit)


# ---- DuckDB --------------------------------------------------------------
def check_duckdb(sql: str) -> str:
    """The statement type, if `sql` is one read-only statement; QueryRefused otherwise."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(f"Query does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryRefused("Give exactly one statement.", hint="casparian query runs a single SELECT.")
    kind = statements[0].type
    if kind not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
        raise QueryRefused(f"Only read-only queries are allowed, not {kind.name}.",
                           hint="Use SELECT (DESCRIBE, SHOW, SUMMARIZE and EXPLAIN work too).")
    return kind.name


def _duckdb(conn: Connection, sql: str, output_root: Path, limit: int) -> QueryResult:
    import duckdb

    kind = check_duckdb(sql)
    views = output_views(output_root)
    conn.execute("DETACH DATABASE IF EXISTS outputs")
    conn.execute("ATTACH ':memory:' AS outputs (READ_ONLY false)")
    variables = []
    try:
        for i, v in enumerate(views):
            var = f"cf_output_{i}"
            conn.execute(f"SET VARIABLE {var} = ?", [v.pattern])
            variables.append(var)
            conn.execute(f'CREATE VIEW outputs."{v.name}" AS SELECT * FROM '
                         f"read_parquet(getvariable('{var}'), union_by_name = true)")
        conn.execute("BEGIN TRANSACTION READ ONLY")
        try:
            if kind == "SELECT":
                cols, rows = conn.query_with_columns(f"SELECT * FROM (\n{sql}\n) LIMIT ?", [limit + 1])
            else:
                cols, rows = conn.query_with_columns(sql)
        except duckdb.Error as exc:
            raise _failed(exc) from None
        finally:
            conn.execute("ROLLBACK")
    finally:
        conn.execute("DETACH DATABASE IF EXISTS outputs")
        for var in variables:
            conn.execute(f"RESET VARIABLE {var}")
    return QueryResult(cols, rows[:limit], len(rows) > limit)


def _failed(exc: Exception) -> CasparianError:
    text = _first_line(exc)
    if "read-only mode" in text or "read only mode" in text:
        # (not quoting DuckDB's text: the actor would take it for its own read-only refusal)
        return QueryRefused("Refused: the query tried to change the database (e.g. nextval).",
                            hint="casparian query only reads.")
    return QueryFailed(f"Query failed: {text}", hint="List outputs with: casparian query \"SHOW ALL TABLES\"")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---- SQLite -------------------------------------------------------------
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}


def _authorize(action, arg1, arg2, db_name, source):
    return sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY


def _sqlite(conn: Connection, sql: str, limit: int) -> QueryResult:
    conn.set_authorizer(_authorize)
    try:
        cols, rows = conn.query_with_columns(f"SELECT * FROM (\n{sql}\n) LIMIT ?", [limit + 1])
    except sqlite3.DatabaseError as exc:
        text = _first_line(exc)
        if "not authorized" in text:
            raise QueryRefused("Only read-only queries are allowed.",
                               hint="casparian query runs a single SELECT.") from None
        if "read_parquet" in text or "outputs" in text or "one statement" in text:
            raise QueryFailed(f"Query failed: {text}", hint="On SQLite, casparian query covers the catalog only; "
                              "querying parser outputs needs the DuckDB backend (--backend duckdb).") from None
        raise QueryFailed(f"Query failed: {text}") from None
    except sqlite3.Warning as exc:  # "You can only execute one statement at a time."
        raise QueryRefused(f"Give exactly one statement ({_first_line(exc)}).") from None
    finally:
        conn.set_authorizer(None)
    return QueryResult(cols, rows[:limit], len(rows) > limit)


# ---- PostgreSQL ---------------------------------------------------------
def _postgres(conn: Connection, sql: str, limit: int) -> QueryResult:
    """The catalog only, like SQLite: one statement DuckDB's parser calls read-only, in a READ ONLY transaction."""
    kind = check_duckdb(sql)
    try:
        with conn.transaction(write=False):  # BEGIN READ ONLY on this backend
            if kind == "SELECT":
                cols, rows = conn.query_with_columns(f"SELECT * FROM (\n{sql}\n) AS q LIMIT ?", [limit + 1])
            else:
                cols, rows = conn.query_with_columns(sql)
    except CasparianError:
        raise
    except Exception as exc:  # the driver's errors: the server refused or failed the query
        text = _first_line(exc)
        if "read-only transaction" in text:
            raise QueryRefused("Refused: the query tried to change the database.",
                               hint="casparian query only reads.") from None
        raise QueryFailed(f"Query failed: {text}", hint="On PostgreSQL, casparian query covers the catalog only; "
                          "querying parser outputs needs the DuckDB backend (--backend duckdb).") from None
    return QueryResult(cols, rows[:limit], len(rows) > limit)
