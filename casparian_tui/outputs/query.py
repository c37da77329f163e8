"""Read-only SQL over the catalog and the parser outputs (`casparian query`).

DuckDB: one SELECT (or EXPLAIN of one) statement, checked by `check_duckdb`
with DuckDB's own parser (no ATTACH, COPY, INSTALL/LOAD, SET, PRAGMA, CALL,
CHECKPOINT or writes, at any EXPLAIN depth; no side-effect functions such as
checkpoint() or setseed()), run inside a READ ONLY transaction (so the
catalog cannot change, not even a sequence) on a connection set up by
`restrict_duckdb` (no extension download). The same check guards reads that
other processes forward to the process holding the database.

Why no file-system barrier: DuckDB 2.0.1 offers `enable_external_access =
false` (with `allowed_directories` / `allowed_paths` exceptions and
`lock_configuration`), but it is one-way for the whole database instance,
blocks reading Parquet outside the allowed folders, and leaves the allowed
folders writable (COPY ... TO an allowed folder succeeds). A holder that keeps
working after answering a query cannot live with that, and an exception for
the outputs folder would let a missed COPY forge outputs. So writes are
stopped by the statement check (COPY and EXPORT are statements, refused at
any depth) and the read-only transaction.

Reading files is allowed: `read_csv('/etc/passwd')` or `glob('/root/**')`
read what the user running the query may read, as any DuckDB shell would.
A forwarded read runs with the holder's rights, so the holder answers only
processes of its own user: the rule is the same on both paths. Every published output is a view `outputs.<parser>_<output>` over
the Parquet files of its latest version; `read_parquet(...)` works too.
The views live in a scratch in-memory database attached for the query and
their file patterns are bound values, never SQL text.

SQLite: the catalog only (SQLite cannot read Parquet). An authorizer allows
reading and functions and refuses everything else.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

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
    if conn.dialect.outputs_in_place:
        return _duckdb(conn, sql, output_root, limit)
    if conn.dialect.own_dialect_queries:
        return _sqlite(conn, sql, limit)
    return _postgres(conn, sql, limit)


def read_parquet(conn: Connection, pattern: str, limit: int = DEFAULT_LIMIT) -> QueryResult:
    """Rows of Parquet files matching `pattern` (a bound value, never SQL text). DuckDB only."""
    if not conn.dialect.outputs_in_place:
        raise QueryRefused("Reading Parquet needs the DuckDB backend.")
    cols, rows = conn.query_with_columns("SELECT * FROM read_parquet(?, union_by_name = true) LIMIT ?",
                                         [pattern, limit + 1])
    return QueryResult(cols, rows[:limit], len(rows) > limit)


# ---- DuckDB --------------------------------------------------------------
# Table and scalar functions that change state even inside a SELECT (a
# checkpoint, the session's random seed, DuckDB's log and profiler, Python
# objects by pointer), and the ones that run SQL given as a string, which
# would hide a statement from this check.
_SIDE_EFFECTS = frozenset({
    "checkpoint", "force_checkpoint", "setseed", "nextval", "setval", "write_log", "truncate_duckdb_logs",
    "enable_logging", "disable_logging", "enable_profiling", "disable_profiling",
    "query", "query_table", "json_execute_serialized_sql",
    "arrow_scan", "arrow_scan_dumb", "python_arrow_scan", "pandas_scan", "python_map_function",
    "add_grammar_extension", "remove_grammar_extension", "create_external_resource",
    "register_external_resource", "register_external_resource_type", "deregister_external_resource",
    "destroy_external_resource",
})
_EXPLAIN = re.compile(r"explain\b", re.IGNORECASE)
_ANALYZE = re.compile(r"analy[sz]e\b", re.IGNORECASE)
_parser_lock = threading.Lock()
_parser_con = None


def check_duckdb(sql: str) -> str:
    """The statement type (SELECT or EXPLAIN), if `sql` is one read-only statement; QueryRefused otherwise.

    What is checked is what runs: DuckDB's own parser splits and types the
    statement; an EXPLAIN is checked again on the statement it wraps (EXPLAIN
    ANALYZE executes it); a SELECT's syntax tree (json_serialize_sql) must
    call no function in _SIDE_EFFECTS. Bound parameters ('?') are fine.
    """
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryFailed(f"Query does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise QueryRefused("Give exactly one statement.", hint="casparian query runs a single SELECT.")
    kind = statements[0].type
    if kind == duckdb.StatementType.EXPLAIN:
        _check_explained(statements[0].query)
        return "EXPLAIN"
    if kind != duckdb.StatementType.SELECT:
        raise _not_read_only(kind.name)
    _check_functions(statements[0].query)
    return "SELECT"


def _not_read_only(what: str) -> QueryRefused:
    return QueryRefused(f"Only read-only queries are allowed, not {what}.",
                        hint="Use SELECT (DESCRIBE, SHOW, SUMMARIZE and EXPLAIN work too).")


def _check_explained(text: str) -> None:
    """Check the statement an EXPLAIN wraps: `EXPLAIN [ANALYZE] [(options)] stmt`.

    `EXPLAIN (SELECT 1)` and `EXPLAIN (FORMAT json) SELECT 1` look alike, so
    both readings are tried: every reading that parses must be a read.
    """
    import duckdb

    i = _skip_blank(text, 0)
    m = _EXPLAIN.match(text, i)
    if not m:
        raise _not_read_only("this EXPLAIN")
    i = _skip_blank(text, m.end())
    m = _ANALYZE.match(text, i)
    if m:
        i = _skip_blank(text, m.end())
    readings = [text[i:]]
    if text.startswith("(", i):
        close = _close_paren(text, i)
        if close is not None:
            readings.append(text[close + 1:])
    parsed = 0
    for reading in readings:
        try:
            statements = duckdb.extract_statements(reading)
        except duckdb.Error:
            continue
        if not statements:
            continue
        parsed += 1
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise _not_read_only("EXPLAIN of " + (statements[0].type.name if len(statements) == 1 else "several"))
        _check_functions(statements[0].query)
    if not parsed:
        raise _not_read_only("this EXPLAIN")


def _skip_blank(text: str, i: int) -> int:
    """Past whitespace and comments (`-- ...`, nested `/* ... */`)."""
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text.startswith("--", i):
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl + 1
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < len(text) and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        else:
            break
    return i


def _close_paren(text: str, i: int) -> int | None:
    """Index of the ')' closing the '(' at i, skipping quoted text."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c in "'\"":
            end = text.find(c, i + 1)
            if end < 0:
                return None
            i = end + 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _check_functions(select_sql: str) -> None:
    global _parser_con
    import duckdb

    with _parser_lock:
        if _parser_con is None:
            _parser_con = duckdb.connect(":memory:")
        try:
            tree = json.loads(_parser_con.execute("SELECT json_serialize_sql(?)", [select_sql]).fetchone()[0])
        except duckdb.Error as exc:
            raise QueryFailed(f"Query does not parse: {_first_line(exc)}") from None
    if tree.get("error"):
        raise QueryRefused(f"Cannot check this query: {tree.get('error_message', 'unknown statement')}.",
                           hint="casparian query runs a single SELECT.")
    for name in _function_names(tree):
        if name.lower() in _SIDE_EFFECTS:
            raise QueryRefused(f"Only read-only queries are allowed: {name}() changes state.",
                               hint="casparian query only reads.")


def _function_names(node) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("function_name")
            if isinstance(name, str):
                yield name
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def restrict_duckdb(conn: Connection) -> None:
    """Settings for a connection that runs other people's SQL: no extension is
    downloaded or loaded on demand, and no Python variable is scanned as a table.

    Idempotent and harmless for Casparian's own SQL (it needs neither).
    """
    conn.execute("SET autoinstall_known_extensions = false")
    conn.execute("SET python_enable_replacements = false")


def _duckdb(conn: Connection, sql: str, output_root: Path, limit: int) -> QueryResult:
    import duckdb

    kind = check_duckdb(sql)
    restrict_duckdb(conn)
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
