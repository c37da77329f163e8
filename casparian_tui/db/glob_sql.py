"""The SQL that matches globs (scout/patterns.py) against scout_files, per backend.

Shape: a LIKE prefilter (cheap, a superset of the matches) and, unless the
LIKE is already exact, the full match (RE2's regexp_matches on DuckDB, a
POSIX ARE on PostgreSQL, cf_glob_match on SQLite). The LIKE pattern only
ever contains '%', '_' and plain ASCII characters — literal '%', '_' and '\\'
of a pattern become '_' — so no ESCAPE clause is needed and file names can
never act as wildcards. Every value is bound.

Functions take the connection's `dialect` (a backend name works too).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from casparian_tui.db.dialect import Dialect, dialect_for
from casparian_tui.scout.patterns import Glob, to_regex


# ---- LIKE (the fast path) --------------------------------------------------


@lru_cache(maxsize=1024)
def _to_like(tokens: tuple, target: str, like_safe: frozenset) -> tuple[str, bool]:
    """A LIKE pattern matching a superset, and whether it is exactly the glob.

    On `name` (no '/' inside) `*` is exactly '%'; on `rel_path` '%' would
    also cross '/', so `*` and `?` make it inexact. Exactness is further lost
    by any character outside the dialect's `like_safe`, by classes and by
    '?' (a non-UTF-8 byte is two stored characters).
    """
    parts: list[str] = []
    exact = True
    for tok in tokens:
        kind = tok[0]
        if kind == "lit":
            unit = tok[1]
            if len(unit) == 1 and unit in like_safe:
                parts.append(unit)
            else:
                parts.append("_" * len(unit))
                exact = False
        elif kind == "star":
            parts.append("%")
            exact = exact and target == "name"
        elif kind == "any":
            parts.append("%")
        elif kind == "dirs":
            parts.append("%")
            exact = False  # '(?:.*/)?' is not one LIKE
        else:  # qmark, class
            parts.append("%")
            exact = False
    like = re.sub("%+", "%", "".join(parts))
    return like, exact


def anchored_regex(glob: Glob) -> str:
    """`glob.regex` for a regex search (DuckDB's regexp_matches, PostgreSQL's `~`) instead of a full match.

    The same language ('^' and '$' anchor at the text's ends in RE2 without
    (?m)), except that a trailing `.*` (a pattern ending in '**') is dropped:
    under (?s) "a prefix matches" is the same test, and RE2 can stop at the
    end of the prefix instead of reading the rest of every path.
    """
    if glob.tokens and glob.tokens[-1] == ("any",):
        return "(?s)^(?:" + to_regex(glob.tokens[:-1], glob.case_sensitive)[4:] + ")"
    return "(?s)^(?:" + glob.regex[4:] + ")$"


def like_operator(dialect: Dialect | str, case_sensitive: bool) -> str:
    # SQLite's LIKE ignores ASCII case already (and has no ILIKE); DuckDB's and
    # PostgreSQL's LIKE are case-sensitive.
    return "ILIKE" if dialect_for(dialect).has_ilike and not case_sensitive else "LIKE"


def glob_condition(glob: Glob, dialect: Dialect | str, alias: str = "f") -> tuple[str, list]:
    """SQL condition (and its parameters) true for rows of scout_files matching `glob`."""
    a = f"{alias}." if alias else ""
    match, params = _match_condition(glob, dialect_for(dialect), a)
    if glob.extension is not None and _is_star_dot_ext(glob):
        # `*.evtx`: the extension column alone decides, except for names that
        # are only dots + "evtx" (extension ''). Reading one small dictionary
        # column is ~10x cheaper than any string test on the name.
        sql = f"({a}extension = ? OR ({a}extension = '' AND {match}))"
        params = [glob.extension, *params]
    elif glob.extension is not None:
        sql = f"{a}extension IN (?, '') AND {match}"  # cheap, and indexed on SQLite
        params = [glob.extension, *params]
    else:
        sql = match
    if glob.negate:
        sql = f"NOT coalesce(({sql}), FALSE)"  # a NULL extension must not hide a file
    return sql, params


def extension_branches(glob: Glob, dialect: Dialect | str, alias: str = "f") -> list[tuple[str, list]] | None:
    """`glob_condition` of a positive glob with a known extension, as two
    disjoint conditions (extension = EXT, extension = '') whose OR it is.

    Where the dialect says `split_extension_branches` (DuckDB pushes a plain
    `extension = ?` into the table scan and then reads the other columns only
    for the rows that pass, which it cannot do for the OR / IN of
    glob_condition), a query that reads many columns of the matches (the
    pattern preview) is cheaper as a UNION ALL of the two branches.
    None when the glob has no such split.
    """
    if glob.negate or glob.extension is None:
        return None
    a = f"{alias}." if alias else ""
    match, params = _match_condition(glob, dialect_for(dialect), a)
    if _is_star_dot_ext(glob):
        first = (f"{a}extension = ?", [glob.extension])
    else:
        first = (f"{a}extension = ? AND {match}", [glob.extension, *params])
    return [first, (f"{a}extension = '' AND {match}", list(params))]


def _match_condition(glob: Glob, d: Dialect, a: str) -> tuple[str, list]:
    """The LIKE prefilter and, unless the LIKE is exact, the regex on the glob's column."""
    col = a + glob.target
    like, exact = _to_like(glob.tokens, glob.target, d.like_safe)
    if glob.case_sensitive and not d.has_ilike:
        exact = False  # a LIKE that ignores ASCII case: a superset only
    conds: list[str] = []
    params: list = []
    if like != "%":
        op = like_operator(d, glob.case_sensitive)
        like_sql = f"{col} {op} ?"
        # DuckDB keeps a bare `col ILIKE 'abc%'` (no leading '%') in a filter
        # above the table scan, so every column the query reads is decoded for
        # every row; wrapped, it is pushed into the scan, which then decodes
        # the other columns only for the rows that pass (measured 2-3x less
        # CPU for a rare prefix over 10^6 names). NULL and FALSE filter alike.
        # A case-sensitive LIKE stays bare: DuckDB prunes row groups by their
        # min/max with a literal prefix, which the wrapper would prevent.
        conds.append(f"coalesce({like_sql}, FALSE)" if op == "ILIKE" else like_sql)
        params.append(like)
    if not exact:
        if d.regex_sql:
            conds.append(d.regex_sql.format(col=col))
            params.append(anchored_regex(glob))
        else:  # a Python function the backend registers (scout/glob_match.py)
            # The pattern as a BLOB: its text may hold surrogate escapes (a
            # non-UTF-8 name typed exactly), which SQLite text cannot carry.
            conds.append(f"cf_glob_match({col}, ?, ?)")
            params.extend([glob.text.encode("utf-8", "surrogatepass"), int(glob.case_sensitive)])
    return " AND ".join(conds) or "TRUE", params


def _is_star_dot_ext(glob: Glob) -> bool:
    t = glob.tokens
    return (
        glob.target == "name"
        and not glob.case_sensitive
        and len(t) >= 3
        and t[0] == ("star",)
        and t[1] == ("lit", ".")
        and all(tok[0] == "lit" and tok[1] != "." for tok in t[2:])
    )


def patterns_condition(globs: Sequence[Glob], dialect: Dialect | str, alias: str = "f") -> tuple[str, list]:
    """Several patterns: any positive one matches (all files if none), no negated one does."""
    pos = [g for g in globs if not g.negate]
    neg = [g for g in globs if g.negate]
    parts: list[str] = []
    params: list = []
    if pos:
        sqls = []
        for g in pos:
            s, p = glob_condition(g, dialect, alias)
            sqls.append(f"({s})")
            params.extend(p)
        parts.append("(" + " OR ".join(sqls) + ")")
    for g in neg:
        s, p = glob_condition(g, dialect, alias)
        parts.append(f"({s})")
        params.extend(p)
    return (" AND ".join(parts) if parts else "TRUE"), params


