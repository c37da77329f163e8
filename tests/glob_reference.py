"""The tests' referee for the glob dialect, written apart from the product.

It reads the pattern text itself (its own tokenizer and class parser, no
token from scout/patterns.py) and matches by plain memoised recursion over
the pattern's characters and the subject's units. Only the storage encoding
(pathcodec) and the definition of one-character lowercase (lower1) are
shared: they define what is matched, not how a pattern is read.
"""

from __future__ import annotations

from functools import lru_cache

from casparian_tui.scout.pathcodec import ESC, encode_name
from casparian_tui.scout.patterns import lower1

_POSIX = {
    "alnum": str.isalnum, "alpha": str.isalpha, "digit": str.isdigit, "lower": str.islower,
    "upper": str.isupper, "space": lambda c: c in " \t\n\r\x0b\x0c", "blank": lambda c: c in " \t",
    "xdigit": lambda c: c in "0123456789abcdefABCDEF", "cntrl": lambda c: ord(c) < 32 or ord(c) == 127,
    "punct": lambda c: c.isprintable() and not c.isalnum() and c != " ",
    "print": lambda c: c.isprintable(), "graph": lambda c: c.isprintable() and c != " ",
}


@lru_cache(maxsize=1)
def _fold_classes() -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for cp in range(0x110000):
        if not 0xD800 <= cp < 0xE000:
            groups.setdefault(lower1(chr(cp)), set()).add(chr(cp))
    return {k: frozenset(v) for k, v in groups.items()}


def _same_ignoring_case(ch: str) -> frozenset[str]:
    return _fold_classes().get(lower1(ch), frozenset({ch}))


def _split(text: str) -> list[str]:
    """Units: a character, or an ESC pair (one byte of a non-UTF-8 name)."""
    out, i = [], 0
    while i < len(text):
        n = 2 if text[i] == ESC and i + 1 < len(text) else 1
        out.append(text[i : i + n])
        i += n
    return out


def reference_match(glob, rel_path: str, case_sensitive: bool | None = None) -> bool:
    """Does the stored `rel_path` match? `glob` is a pattern's text or a Glob (its text is used)."""
    if not isinstance(glob, str):
        glob, case_sensitive = glob.text, glob.case_sensitive
    cs = bool(case_sensitive)
    text = glob
    negate = text.startswith("!")
    if negate:
        text = text[1:]
    text = encode_name(text)
    anchored = text.startswith("/")
    text = text.lstrip("/")
    folder = text.endswith("/")
    text = text.rstrip("/")
    anchored = anchored or "/" in text
    if folder:
        text += "/**"
        if not anchored:
            text = "**/" + text
    subject = rel_path if anchored or folder else rel_path.split("/")[-1]
    hit = _Matcher(_split(text), _split(subject), cs).run()
    return hit != negate


class _Matcher:
    def __init__(self, pat: list[str], subj: list[str], cs: bool):
        self.p, self.s, self.cs = pat, subj, cs
        self.memo: dict[tuple[int, int], bool] = {}

    def run(self) -> bool:
        return self.at(0, 0)

    def at(self, pi: int, si: int) -> bool:
        key = (pi, si)
        if key not in self.memo:
            self.memo[key] = self._at(pi, si)
        return self.memo[key]

    def _at(self, pi: int, si: int) -> bool:
        p, s = self.p, self.s
        if pi == len(p):
            return si == len(s)
        c = p[pi]
        if c == "*":
            run_end = pi
            while run_end < len(p) and p[run_end] == "*":
                run_end += 1
            if run_end - pi == 1:  # within one name
                return any(self.at(pi + 1, j) for j in range(si, self._name_end(si) + 1))
            starts_name = pi == 0 or p[pi - 1] == "/"
            if starts_name and run_end < len(p) and p[run_end] == "/":  # '**/': zero or more folders
                after = run_end + 1
                return self.at(after, si) or any(self.at(after, j + 1) for j in range(si, len(s)) if s[j] == "/")
            return any(self.at(run_end, j) for j in range(si, len(s) + 1))
        if si >= len(s):
            return False
        unit = s[si]
        if c == "?":
            return unit != "/" and self.at(pi + 1, si + 1)
        if c == "[":
            test, after = self._bracket(pi)
            return unit != "/" and test(unit) and self.at(after, si + 1)
        if c == "\\":
            c = p[pi + 1]
            pi += 1
        return self._same(c, unit) and self.at(pi + 1, si + 1)

    def _name_end(self, si: int) -> int:
        while si < len(self.s) and self.s[si] != "/":
            si += 1
        return si

    def _same(self, a: str, b: str) -> bool:
        if a == b:
            return True
        return not self.cs and len(a) == 1 and len(b) == 1 and b in _same_ignoring_case(a)

    def _bracket(self, pi: int):
        """A predicate on one unit for the bracket expression at pi, and the index after it."""
        p = self.p
        i = pi + 1
        negated = p[i] in "!^"
        if negated:
            i += 1
        elements: list[tuple] = []  # ("char", unit, escaped) | ("named", predicate)
        first = True
        while first or p[i] != "]":
            first = False
            if p[i] == "[" and p[i + 1] == ":":
                close = next((k for k in range(i + 2, len(p) - 1) if p[k] == ":" and p[k + 1] == "]"), None)
                if close is not None:
                    elements.append(("named", _POSIX["".join(p[i + 2 : close])]))
                    i = close + 2
                    continue
            if p[i] == "\\":
                elements.append(("char", p[i + 1], True))
                i += 2
            else:
                elements.append(("char", p[i], False))
                i += 1
        singles: set[str] = set()
        spans: list[tuple[str, str]] = []
        named = []
        k = 0
        while k < len(elements):
            e = elements[k]
            if e[0] == "named":
                named.append(e[1])
                k += 1
                continue
            nxt = elements[k + 1 : k + 3]
            if (len(nxt) == 2 and nxt[0] == ("char", "-", False) and nxt[1][0] == "char"
                    and len(e[1]) == 1 and len(nxt[1][1]) == 1):
                spans.append((e[1], nxt[1][1]))
                k += 3
                continue
            singles.add(e[1])
            k += 1

        def member(ch: str) -> bool:
            if ch in singles or any(lo <= ch <= hi for lo, hi in spans):
                return True
            return ch.isascii() and any(f(ch) for f in named)

        def test(unit: str) -> bool:
            if len(unit) == 2:
                hit = unit in singles
            else:
                cands = {unit} if self.cs else _same_ignoring_case(unit)
                hit = any(member(ch) for ch in cands)
            return hit != negated

        return test, i + 1
