"""Matching a glob in Python in linear time (SQLite's glob function, `scan --exclude`).

A glob compiled to a backtracking regex (Python's `re`) can take exponential
time: `*[a]*[a]...[b]` against a long name tries every way of splitting it
between the stars, and it does so in C holding the GIL, so not even SIGTERM
gets through. Here the glob's tokens are the states of an automaton that is
simulated over the subject's units, one unit at a time, and the sets of
states met are cached as a DFA built lazily: each unit costs a dict lookup
once its transition is known and at most O(tokens) when it is new, so a
match costs O(len(subject) x len(tokens)) at worst, whatever the pattern.

The semantics are the dialect's (scout/patterns.py), over units: a
non-UTF-8 byte's ESC pair is one character of a name.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from casparian_tui.scout.pathcodec import ESC
from casparian_tui.scout.patterns import Glob, _units, case_variants, compile_glob, lower1

# A cache this large is cleared rather than grown: memory stays bounded and
# each transition is recomputed in O(tokens), so the bound still holds.
_MAX_TRANSITIONS = 50_000


class GlobMatcher:
    """`fullmatch(subject)` for one glob's tokens (its `negate` is the caller's business)."""

    def __init__(self, tokens: tuple, case_sensitive: bool):
        self._tokens = tokens
        self._cs = case_sensitive
        self._n = len(tokens)
        self._ids: dict[frozenset, int] = {}
        self._sets: list[frozenset] = []
        self._accepting: list[bool] = []
        self._table: list[dict[str, int]] = []  # per state: unit -> next state
        self._known = 0  # transitions in _table
        self._start = self._intern(self._closure({0}))
        self._dead = self._intern(frozenset())

    def fullmatch(self, subject: str) -> bool:
        state = self._start
        table = self._table
        dead = self._dead
        for unit in (_units(subject) if ESC in subject else subject):
            nxt = table[state].get(unit)
            if nxt is None:
                nxt = self._step(state, unit)
            state = nxt
            if state == dead:
                return False
        return self._accepting[state]

    # States: i (0..n) is "before token i", n accepts; -(i + 1) is "inside
    # the `.*/` of the dirs token i".
    def _closure(self, states) -> frozenset:
        out = set()
        todo = list(states)
        while todo:
            s = todo.pop()
            if s in out:
                continue
            out.add(s)
            if 0 <= s < self._n and self._tokens[s][0] in ("star", "any", "dirs"):
                todo.append(s + 1)  # zero repetitions
        return frozenset(out)

    def _intern(self, states: frozenset) -> int:
        sid = self._ids.get(states)
        if sid is None:
            sid = len(self._sets)
            self._ids[states] = sid
            self._sets.append(states)
            self._accepting.append(self._n in states)
            self._table.append({})
        return sid

    def _step(self, sid: int, unit: str) -> int:
        if self._known >= _MAX_TRANSITIONS:
            for row in self._table:
                row.clear()
            self._known = 0
        nxt: set[int] = set()
        for s in self._sets[sid]:
            if s < 0:  # inside a dirs token: any unit, and '/' may end it
                nxt.add(s)
                if unit == "/":
                    nxt.add(-s)  # -(i + 1) -> i + 1
                continue
            if s == self._n:
                continue
            tok = self._tokens[s]
            kind = tok[0]
            if kind == "lit":
                if self._eq(tok[1], unit):
                    nxt.add(s + 1)
            elif kind == "qmark":
                if unit != "/":
                    nxt.add(s + 1)
            elif kind == "class":
                if _in_class(tok, unit, self._cs):
                    nxt.add(s + 1)
            elif kind == "star":
                if unit != "/":
                    nxt.add(s)
            elif kind == "any":
                nxt.add(s)
            else:  # dirs: '/' can close an empty `.*`, anything else opens it
                nxt.add(-(s + 1))
                if unit == "/":
                    nxt.add(s + 1)
        result = self._intern(self._closure(nxt))
        self._table[sid][unit] = result
        self._known += 1
        return result

    def _eq(self, lit: str, unit: str) -> bool:
        if lit == unit:
            return True
        return not self._cs and len(lit) == 1 and len(unit) == 1 and lower1(lit) == lower1(unit)


def _in_class(tok: tuple, unit: str, cs: bool) -> bool:
    _, negated, ranges, pairs = tok
    if unit == "/":
        return False
    if len(unit) == 2:
        hit = unit in pairs
    else:
        cands = unit if cs else case_variants(unit)
        hit = any(lo <= c <= hi for c in cands for lo, hi in ranges)
    return hit != negated


@lru_cache(maxsize=256)
def _matcher(tokens: tuple, case_sensitive: bool) -> GlobMatcher:
    return GlobMatcher(tokens, case_sensitive)


def glob_matcher(glob: Glob) -> Callable[[str], bool]:
    """A linear-time full match of the glob's tokens against its target text."""
    return _matcher(glob.tokens, glob.case_sensitive).fullmatch


@lru_cache(maxsize=256)
def _matcher_for_pattern(pattern: bytes, case_sensitive: bool) -> Callable[[str], bool]:
    text = pattern.decode("utf-8", "surrogatepass")
    return glob_matcher(compile_glob(text, case_sensitive=case_sensitive))


def sql_glob_match(value, pattern, case_sensitive) -> int | None:
    """SQLite's `cf_glob_match(value, pattern, case_sensitive)`: 1/0, NULL for NULL.

    The pattern is the glob's text as UTF-8 bytes (surrogates passed through);
    its negation is applied in SQL.
    """
    if value is None or pattern is None:
        return None
    return 1 if _matcher_for_pattern(bytes(pattern), bool(case_sensitive))(value) else 0
