"""What the services need to know about a backend's SQL, one object per backend.

Services never compare backend names: they ask `conn.dialect` (or
`dialect_for(name)` where they hold a name, not a connection) what the
engine can do, and the glob SQL (db/glob_sql.py) is written from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

# ASCII characters a LIKE may carry verbatim: where the engine's
# case-insensitive LIKE agrees exactly with our folding (scout/casefold.py).
# '%', '_' and '\\' would be wildcards or escapes.
_ASCII = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("%_\\")

# Ids bound one by one per IN (...): under SQLite's default variable limit.
IN_CHUNK = 500


@dataclass(frozen=True)
class Dialect:
    name: str
    # Characters a LIKE pattern may hold as themselves (see _ASCII above).
    like_safe: frozenset
    # The engine has ILIKE and a case-sensitive LIKE; without it (SQLite) LIKE
    # ignores ASCII case and can only ever be a superset of a case-sensitive glob.
    has_ilike: bool
    # The full glob test, `{col}` and one bound anchored RE2-compatible regex;
    # "" when the backend registers cf_glob_match(col, pattern, case_sensitive) instead.
    regex_sql: str
    # The planner pushes `extension = ?` into the scan but not an OR of it,
    # so a query reading many columns of the matches is cheaper as a UNION ALL.
    split_extension_branches: bool
    # One list parameter for "id among these" (binding ids one by one is slow there).
    list_param_sql: str
    # User SQL (casparian query, the Query screen): the catalog's engine is
    # DuckDB, so the parser outputs join in place as views ...
    outputs_in_place: bool
    # ... or, failing that, SQL DuckDB's parser refuses may still run on the
    # catalog in the engine's own dialect, behind an authorizer.
    own_dialect_queries: bool
    # A server reached by a connection string, not a file (no lease, no turns).
    is_server: bool
    # The rows 0..n-1 as column `i` of a FROM item named `r` (`{n}` is an int we make).
    series_sql: str

    def place(self, text: str) -> str | Path:
        """A `--db`/`--to` value as the backend opens it: a connection string or a path."""
        return text if self.is_server else Path(text).expanduser()

    def id_conditions(self, column: str, ids: Sequence[int]) -> list[tuple[str, list]]:
        """Conditions (with their parameters) whose union selects rows with `column` among `ids`."""
        ids = list(ids)
        if self.list_param_sql:
            return [(self.list_param_sql.format(col=column), [ids])] if ids else []
        out = []
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i : i + IN_CHUNK]
            out.append((f"{column} IN ({', '.join('?' * len(chunk))})", chunk))
        return out

    def series(self, n: int) -> str:
        return self.series_sql.format(n=int(n))


DUCKDB = Dialect(
    name="duckdb",
    like_safe=_ASCII,  # ILIKE folds 'i' ~ 'İ' and 'k' ~ Kelvin sign, like ours
    has_ilike=True,
    regex_sql="regexp_matches({col}, ?)",
    split_extension_branches=True,
    list_param_sql="{col} = ANY(?::BIGINT[])",
    outputs_in_place=True,
    own_dialect_queries=False,
    is_server=False,
    series_sql="range({n}) r(i)",
)
SQLITE = Dialect(
    name="sqlite",
    like_safe=_ASCII - set("iIkK"),  # LIKE folds ASCII only
    has_ilike=False,
    regex_sql="",  # cf_glob_match, registered by the SQLite backend (scout/glob_match.py)
    split_extension_branches=False,
    list_param_sql="",
    outputs_in_place=False,
    own_dialect_queries=True,
    is_server=False,
    series_sql="(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {n}) SELECT i FROM s) r",
)
POSTGRES = Dialect(
    name="postgres",
    like_safe=_ASCII - set("iIkK"),
    has_ilike=True,
    regex_sql="{col} ~ ?",  # an ARE takes the same anchored text
    split_extension_branches=False,
    list_param_sql="",
    outputs_in_place=False,
    own_dialect_queries=False,
    is_server=True,
    series_sql="generate_series(0, {n} - 1) r(i)",
)

DIALECTS = {d.name: d for d in (DUCKDB, SQLITE, POSTGRES)}


def dialect_for(backend: "str | Dialect") -> Dialect:
    """The dialect of a backend name (a Dialect passes through)."""
    return backend if isinstance(backend, Dialect) else DIALECTS[backend]
