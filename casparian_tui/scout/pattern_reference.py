"""A second, independent matcher for the glob dialect: the tests' referee.

`scout/patterns.py` compiles a glob to a regex and to SQL; the hypothesis tests
check both against this plain backtracking matcher over the same tokens, so a
mistake in the regex or SQL translation cannot also be in the expectation.
"""

from __future__ import annotations

from casparian_tui.scout.patterns import Glob, _units, case_variants, lower1


def reference_match(glob: Glob, rel_path: str) -> bool:
    """Does `rel_path` (stored form) match? A plain backtracking matcher."""
    subject = rel_path.rsplit("/", 1)[-1] if glob.target == "name" else rel_path
    units = _units(subject)
    hit = _ref(glob.tokens, 0, units, 0, glob.case_sensitive, {})
    return hit != glob.negate


def _eq(a: str, b: str, cs: bool) -> bool:
    if a == b:
        return True
    return not cs and len(a) == 1 and len(b) == 1 and lower1(a) == lower1(b)


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


def _ref(tokens, ti, units, ui, cs, memo) -> bool:
    key = (ti, ui)
    if key in memo:
        return memo[key]
    if ti == len(tokens):
        res = ui == len(units)
    else:
        tok = tokens[ti]
        kind = tok[0]
        if kind == "lit":
            res = ui < len(units) and _eq(tok[1], units[ui], cs) and _ref(tokens, ti + 1, units, ui + 1, cs, memo)
        elif kind == "qmark":
            res = ui < len(units) and units[ui] != "/" and _ref(tokens, ti + 1, units, ui + 1, cs, memo)
        elif kind == "class":
            res = ui < len(units) and _in_class(tok, units[ui], cs) and _ref(tokens, ti + 1, units, ui + 1, cs, memo)
        elif kind == "star":
            res = False
            j = ui
            while True:
                if _ref(tokens, ti + 1, units, j, cs, memo):
                    res = True
                    break
                if j >= len(units) or units[j] == "/":
                    break
                j += 1
        elif kind == "any":
            res = any(_ref(tokens, ti + 1, units, j, cs, memo) for j in range(ui, len(units) + 1))
        else:  # dirs: zero or more "name/" groups
            starts = [ui] + [j + 1 for j in range(ui, len(units)) if units[j] == "/"]
            res = any(_ref(tokens, ti + 1, units, j, cs, memo) for j in starts)
    memo[key] = res
    return res
