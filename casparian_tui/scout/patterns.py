"""The one glob dialect (rules, `files --glob`, `rule test`, the TUI preview).

Dialect (matched against a file's `rel_path`, '/'-separated):
- `*` any run of characters within one folder name, `?` one character (never '/');
- `**` crosses folders: `**/` is zero or more folders, a trailing `/**` is
  everything below; `**` inside a name acts like a `*` that may cross '/';
- `[abc]`, `[a-z]`, `[!abc]` / `[^abc]` classes (never match '/'), with
  POSIX classes inside (`[[:digit:]_]`, ASCII as in the C locale) and `\\-`
  for a literal dash; `\\x` matches x literally (`\\*`, `\\[`, `\\\\`);
- like .gitignore, a pattern with no '/' except a trailing one matches at any
  depth (as if prefixed by `**/`); a leading '/' anchors at the source root;
  a trailing '/' means "everything under that folder";
- case-insensitive unless asked otherwise; a leading `!` negates (excludes).

Case-insensitivity is defined here, not by a database: two characters are
equal when their single-character lowercase is (`str.lower`, ignoring
lowercasings that expand to several characters). Each literal letter becomes
an explicit character class, so DuckDB's RE2 evaluates the regex without
relying on its own case-folding tables; on SQLite (and for `scan --exclude`)
the tokens are matched by scout/glob_match.py with the same definitions, in
linear time — never by a backtracking regex engine.

SQL shape: a LIKE prefilter (cheap, a superset of the matches) and, unless
the LIKE is already exact, the full match (RE2 on DuckDB, cf_glob_match on
SQLite). The LIKE pattern only ever contains
'%', '_' and plain ASCII characters — literal '%', '_' and '\\' of a pattern
become '_' — so no ESCAPE clause is needed and file names can never act as
wildcards. Every value is bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

from casparian_tui.errors import UsageError
from casparian_tui.scout.casefold import case_variants, lower1  # noqa: F401 (lower1: part of this module's API)
from casparian_tui.scout.pathcodec import ESC, encode_name

# ASCII characters a LIKE may carry verbatim, per backend: where the engine's
# case-insensitive LIKE agrees exactly with our folding. DuckDB's ILIKE does
# for all ASCII ('i' ~ 'İ', 'k' ~ Kelvin sign, like ours); SQLite's LIKE
# folds ASCII only, so not for 'i' and 'k'. '%', '_' and '\\' would be
# wildcards or escapes.
_ASCII = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("%_\\")
_LIKE_SAFE = {"duckdb": _ASCII, "sqlite": _ASCII - set("iIkK"), "postgres": _ASCII - set("iIkK")}


# ---- parsing ---------------------------------------------------------------
# Tokens: ("lit", unit) · ("star",) · ("qmark",) · ("any",) = may cross '/'
# · ("dirs",) = zero or more whole folders · ("class", negated, ranges, pairs).
# A unit is one character of a name: a plain char or an ESC pair (one byte of
# a non-UTF-8 name, see pathcodec).


@dataclass(frozen=True)
class Glob:
    text: str
    tokens: tuple
    negate: bool = False
    target: str = "rel_path"  # "name" when the pattern has no '/': cheaper, same meaning
    case_sensitive: bool = False
    regex: str = field(default="", compare=False)
    extension: str | None = field(default=None, compare=False)  # every match has it (or '')


def compile_glob(text: str, *, case_sensitive: bool = False) -> Glob:
    """Parse one pattern; raises UsageError with the reason when it is invalid."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError("Empty pattern.", hint="Try a pattern like '*.log' or 'logs/**/*.csv'.")
    body = text
    negate = body.startswith("!")
    if negate:
        body = body[1:]
    body = encode_name(body)
    if not body:
        raise UsageError(f"Invalid pattern {text!r}: nothing after '!'.", hint="Write e.g. '!*.tmp'.")
    anchored = body.startswith("/")
    body = body.lstrip("/")
    under_folder = body.endswith("/")
    body = body.rstrip("/")
    if not body:
        raise UsageError(f"Invalid pattern {text!r}: no file name part.", hint="Use '**' to match every file.")
    anchored = anchored or "/" in body
    if under_folder:
        body += "/**"
    tokens = _tokenize(body, text)
    target = "rel_path"
    if not anchored:
        if under_folder:
            tokens = (("dirs",),) + tokens
        else:
            target = "name"
    elif tokens[:1] == (("dirs",),) and not any(t[0] in ("dirs", "any") or t == ("lit", "/") for t in tokens[1:]):
        # `**/NAME` means exactly what a bare `NAME` means: match the name only,
        # which is cheaper (shorter strings, the extension fast path).
        tokens, target = tokens[1:], "name"
    regex = _to_regex(tokens, case_sensitive)
    return Glob(text, tokens, negate, target, case_sensitive, regex, _extension(tokens))


def _bad(text: str, why: str, hint: str | None = None) -> UsageError:
    return UsageError(f"Invalid pattern {text!r}: {why}.", hint=hint)


def _units(body: str) -> list[str]:
    units, i = [], 0
    while i < len(body):
        if body[i] == ESC and i + 1 < len(body):
            units.append(body[i : i + 2])
            i += 2
        else:
            units.append(body[i])
            i += 1
    return units


def _tokenize(body: str, text: str) -> tuple:
    u = _units(body)
    out: list[tuple] = []
    i, n = 0, len(u)
    while i < n:
        c = u[i]
        if c == "\\":
            if i + 1 >= n:
                raise _bad(text, "it ends with a lone '\\'", "Write '\\\\' to match a backslash.")
            out.append(("lit", u[i + 1]))
            i += 2
        elif c == "*":
            j = i
            while j < n and u[j] == "*":
                j += 1
            if j - i == 1:
                out.append(("star",))
            else:
                seg_start = i == 0 or u[i - 1] == "/"
                if seg_start and j < n and u[j] == "/":
                    out.append(("dirs",))
                    j += 1
                else:
                    out.append(("any",))
            i = j
        elif c == "?":
            out.append(("qmark",))
            i += 1
        elif c == "[":
            tok, i = _parse_class(u, i, text)
            out.append(tok)
        else:
            out.append(("lit", c))
            i += 1
    return tuple(out)


# POSIX classes as ASCII ranges (the C locale). None matches '/': no class does.
_POSIX = {
    "alnum": (("0", "9"), ("A", "Z"), ("a", "z")),
    "alpha": (("A", "Z"), ("a", "z")),
    "blank": ((" ", " "), ("\t", "\t")),
    "cntrl": (("\x00", "\x1f"), ("\x7f", "\x7f")),
    "digit": (("0", "9"),),
    "graph": (("!", "."), ("0", "~")),
    "lower": (("a", "z"),),
    "print": ((" ", "."), ("0", "~")),
    "punct": (("!", "."), (":", "@"), ("[", "`"), ("{", "~")),
    "space": (("\t", "\r"), (" ", " ")),
    "upper": (("A", "Z"),),
    "xdigit": (("0", "9"), ("A", "F"), ("a", "f")),
}


def _parse_class(u: list[str], start: int, text: str) -> tuple[tuple, int]:
    """`[...]` from the '[' at `start`: (token, index after the ']').

    Items are (unit, escaped); an escaped '-' (`[a\\-z]`) is a plain dash,
    never a range. `[:name:]` inside is a POSIX class; `[=x=]` and `[.x.]`
    are refused rather than misread as sets of characters.
    """
    i = start + 1
    negated = i < len(u) and u[i] in ("!", "^")
    if negated:
        i += 1
    items: list[tuple[str, bool]] = []
    ranges: list[tuple[str, str]] = []
    first = True
    while True:
        if i >= len(u):
            raise _bad(text, f"'[' at position {start + 1} is never closed", "Write '[[]' or '\\[' to match a literal '['.")
        c = u[i]
        if c == "]" and not first:
            break
        first = False
        if c == "[" and i + 1 < len(u) and u[i + 1] in (":", "=", "."):
            kind = u[i + 1]
            close = next((k for k in range(i + 2, len(u) - 1) if u[k] == kind and u[k + 1] == "]"), None)
            if close is not None:
                name = "".join(u[i + 2 : close])
                if kind != ":":
                    raise _bad(text, f"'[{kind}{name}{kind}]' (equivalence classes and collating symbols) "
                               "is not supported", "List the characters instead, e.g. [aA].")
                if name not in _POSIX:
                    raise _bad(text, f"unknown class '[:{name}:]'",
                               "Known: " + ", ".join(f"[:{n}:]" for n in _POSIX) + ".")
                ranges.extend(_POSIX[name])
                i = close + 2
                continue
        escaped = c == "\\" and i + 1 < len(u)
        if escaped:
            i += 1
            c = u[i]
        items.append((c, escaped))
        i += 1
    pairs: list[str] = []
    k = 0
    while k < len(items):
        c, _ = items[k]
        if (k + 2 < len(items) and items[k + 1] == ("-", False) and len(c) == 1 and len(items[k + 2][0]) == 1):
            lo, hi = c, items[k + 2][0]
            if lo > hi:
                raise _bad(text, f"range '{lo}-{hi}' is reversed")
            ranges.append((lo, hi))
            k += 3
            continue
        if len(c) == 2:
            pairs.append(c)
        else:
            ranges.append((c, c))
        k += 1
    if any(lo <= "/" <= hi for lo, hi in ranges):
        raise _bad(text, "a [...] class cannot match '/'", "Use '**' or a '/' outside the class.")
    return ("class", negated, tuple(ranges), tuple(pairs)), i + 1


# ---- regex (the authority) -------------------------------------------------

_UNIT = f"(?:{ESC}.|[^/{ESC}])"  # one character of a name, never '/'


def _rx_char(ch: str) -> str:
    """One literal character, safe inside or outside a class, in RE2 and Python re."""
    if ch.isascii() and not ch.isalnum() and ch not in " \n\t":
        return "\\" + ch if ch.isprintable() else f"\\x{ord(ch):02x}"
    return ch


def _rx_lit(unit: str, case_sensitive: bool) -> str:
    if len(unit) == 2:  # ESC pair: exact bytes
        return _rx_char(unit[0]) + _rx_char(unit[1])
    variants = unit if case_sensitive else case_variants(unit)
    if len(variants) == 1:
        return _rx_char(unit)
    return "[" + "".join(_rx_char(v) for v in variants) + "]"


def _class_chars(ranges: tuple, case_sensitive: bool) -> str:
    parts = []
    extra: set[str] = set()
    for lo, hi in ranges:
        parts.append(_rx_char(lo) if lo == hi else f"{_rx_char(lo)}-{_rx_char(hi)}")
        if not case_sensitive:
            for cp in range(ord(lo), ord(hi) + 1):
                if not 0xD800 <= cp < 0xE000:
                    extra.update(case_variants(chr(cp)))
    for ch in sorted(extra):
        if not any(lo <= ch <= hi for lo, hi in ranges):
            parts.append(_rx_char(ch))
    return "".join(parts)


def _to_regex(tokens: tuple, case_sensitive: bool) -> str:
    out = ["(?s)"]
    for tok in tokens:
        kind = tok[0]
        if kind == "lit":
            out.append(_rx_lit(tok[1], case_sensitive))
        elif kind == "star":
            out.append(_UNIT + "*")
        elif kind == "qmark":
            out.append(_UNIT)
        elif kind == "any":
            out.append(".*")
        elif kind == "dirs":
            out.append("(?:.*/)?")
        else:
            _, negated, ranges, pairs = tok
            chars = _class_chars(ranges, case_sensitive)
            pair_alts = [_rx_char(p[0]) + _rx_char(p[1]) for p in pairs]
            if negated:  # RE2 has no lookahead: exclude listed bytes by their second char
                seconds = "".join(_rx_char(p[1]) for p in pairs)
                pair_alts = [f"{ESC}[^{seconds}]" if seconds else f"{ESC}."]
                single = f"[^{chars}/{ESC}]"
            else:
                single = f"[{chars}]" if chars else ""
            alts = [a for a in [*pair_alts, single] if a]
            out.append("(?:" + "|".join(alts) + ")")
    return "".join(out)


# ---- LIKE (the fast path) --------------------------------------------------


@lru_cache(maxsize=1024)
def _to_like(tokens: tuple, target: str, backend: str) -> tuple[str, bool]:
    """A LIKE pattern matching a superset, and whether it is exactly the glob.

    On `name` (no '/' inside) `*` is exactly '%'; on `rel_path` '%' would
    also cross '/', so `*` and `?` make it inexact. Exactness is further lost
    by any character outside _LIKE_SAFE, by classes and by '?' (a non-UTF-8
    byte is two stored characters).
    """
    parts: list[str] = []
    exact = True
    for tok in tokens:
        kind = tok[0]
        if kind == "lit":
            unit = tok[1]
            if len(unit) == 1 and unit in _LIKE_SAFE[backend]:
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


def _extension(tokens: tuple) -> str | None:
    """The extension every match must have, when the glob ends in '.LIT'.

    scout_files.extension is the text after the last dot as os.path.splitext
    sees it, lower-cased ('' when none, e.g. for '.evtx' itself), see
    scout/walker.py. An indexed-like equality on it is ~20x cheaper than any
    LIKE, so `*.evtx` first narrows to `extension IN ('evtx', '')`. ASCII
    only: for ASCII every case variant lower-cases to the same text.
    """
    tail: list[str] = []
    for tok in reversed(tokens):
        if tok[0] != "lit":
            return None
        unit = tok[1]
        if unit == ".":
            break
        if len(unit) != 1 or not unit.isascii() or not unit.isprintable() or unit == "/":
            return None
        tail.append(unit)
    else:
        return None
    return "".join(reversed(tail)).lower() or None


# ---- SQL -------------------------------------------------------------------


def anchored_regex(glob: Glob) -> str:
    """`glob.regex` for DuckDB's regexp_matches (a search) instead of a full match.

    The same language ('^' and '$' anchor at the text's ends in RE2 without
    (?m)), except that a trailing `.*` (a pattern ending in '**') is dropped:
    under (?s) "a prefix matches" is the same test, and RE2 can stop at the
    end of the prefix instead of reading the rest of every path.
    """
    if glob.tokens and glob.tokens[-1] == ("any",):
        return "(?s)^(?:" + _to_regex(glob.tokens[:-1], glob.case_sensitive)[4:] + ")"
    return "(?s)^(?:" + glob.regex[4:] + ")$"


def like_operator(backend: str, case_sensitive: bool) -> str:
    # SQLite's LIKE ignores ASCII case already (and has no ILIKE); DuckDB's LIKE
    # is case-sensitive. SQLite's LIKE cannot be exact for case-sensitive globs.
    if backend in ("duckdb", "postgres"):
        return "LIKE" if case_sensitive else "ILIKE"
    return "LIKE"


def glob_condition(glob: Glob, backend: str, alias: str = "f") -> tuple[str, list]:
    """SQL condition (and its parameters) true for rows of scout_files matching `glob`."""
    a = f"{alias}." if alias else ""
    match, params = _match_condition(glob, backend, a)
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


def extension_branches(glob: Glob, backend: str, alias: str = "f") -> list[tuple[str, list]] | None:
    """`glob_condition` of a positive glob with a known extension, as two
    disjoint conditions (extension = EXT, extension = '') whose OR it is.

    DuckDB pushes a plain `extension = ?` into the table scan and then reads
    the other columns only for the rows that pass, which it cannot do for the
    OR / IN of glob_condition: a query that reads many columns of the matches
    (the pattern preview) is cheaper as a UNION ALL of the two branches.
    None when the glob has no such split.
    """
    if glob.negate or glob.extension is None:
        return None
    a = f"{alias}." if alias else ""
    match, params = _match_condition(glob, backend, a)
    if _is_star_dot_ext(glob):
        first = (f"{a}extension = ?", [glob.extension])
    else:
        first = (f"{a}extension = ? AND {match}", [glob.extension, *params])
    return [first, (f"{a}extension = '' AND {match}", list(params))]


def _match_condition(glob: Glob, backend: str, a: str) -> tuple[str, list]:
    """The LIKE prefilter and, unless the LIKE is exact, the regex on the glob's column."""
    col = a + glob.target
    like, exact = _to_like(glob.tokens, glob.target, backend)
    if glob.case_sensitive and backend == "sqlite":
        exact = False  # SQLite's LIKE ignores ASCII case: a superset only
    conds: list[str] = []
    params: list = []
    if like != "%":
        op = like_operator(backend, glob.case_sensitive)
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
        if backend == "duckdb":
            conds.append(f"regexp_matches({col}, ?)")
            params.append(anchored_regex(glob))
        elif backend == "postgres":  # an ARE takes the same anchored text
            conds.append(f"{col} ~ ?")
            params.append(anchored_regex(glob))
        else:  # SQLite: a Python function registered by the SQLite backend (scout/glob_match.py)
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


def patterns_condition(globs: Sequence[Glob], backend: str, alias: str = "f") -> tuple[str, list]:
    """Several patterns: any positive one matches (all files if none), no negated one does."""
    pos = [g for g in globs if not g.negate]
    neg = [g for g in globs if g.negate]
    parts: list[str] = []
    params: list = []
    if pos:
        sqls = []
        for g in pos:
            s, p = glob_condition(g, backend, alias)
            sqls.append(f"({s})")
            params.extend(p)
        parts.append("(" + " OR ".join(sqls) + ")")
    for g in neg:
        s, p = glob_condition(g, backend, alias)
        parts.append(f"({s})")
        params.extend(p)
    return (" AND ".join(parts) if parts else "TRUE"), params


def compile_many(texts: Sequence[str], *, case_sensitive: bool = False) -> list[Glob]:
    return [compile_glob(t, case_sensitive=case_sensitive) for t in texts]


@lru_cache(maxsize=256)
def compiled_regex(regex: str) -> re.Pattern:
    """Python's `re` for a glob's regex: for inspecting it only. Matching with
    it can backtrack exponentially; match names with glob_match.glob_matcher."""
    return re.compile(regex)
