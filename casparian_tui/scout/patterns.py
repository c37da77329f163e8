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

The SQL that matches a glob in the catalog is written per backend by
db/glob_sql.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

from casparian_tui.errors import UsageError
from casparian_tui.scout.casefold import case_variants, lower1  # noqa: F401 (lower1: part of this module's API)
from casparian_tui.scout.pathcodec import ESC, encode_name

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
    regex = to_regex(tokens, case_sensitive)
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


def to_regex(tokens: tuple, case_sensitive: bool) -> str:
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


def compile_many(texts: Sequence[str], *, case_sensitive: bool = False) -> list[Glob]:
    return [compile_glob(t, case_sensitive=case_sensitive) for t in texts]


@lru_cache(maxsize=256)
def compiled_regex(regex: str) -> re.Pattern:
    """Python's `re` for a glob's regex: for inspecting it only. Matching with
    it can backtrack exponentially; match names with glob_match.glob_matcher."""
    return re.compile(regex)
