"""Case-insensitive equality of characters, as the glob dialect defines it.

Two characters are equal ignoring case when their single-character lowercase
is: Python's `str.lower`, ignoring lowercasings that expand to several
characters, with 'İ' -> 'i' as Unicode's simple mapping says.
"""

from __future__ import annotations

# Characters x with lower1(x) == key besides key and key.upper() (computed over
# all of Unicode; tests/test_patterns.py recomputes and checks it).
_EXTRA_CASE = {
    "\u0069": "\u0130", "\u006b": "\u212a", "\u00e5": "\u212b", "\u00df": "\u1e9e", "\u01c6": "\u01c5",
    "\u01c9": "\u01c8", "\u01cc": "\u01cb", "\u01f3": "\u01f2", "\u03b8": "\u03f4",
    "\u03c9": "\u2126", "\u1f80": "\u1f88", "\u1f81": "\u1f89", "\u1f82": "\u1f8a",
    "\u1f83": "\u1f8b", "\u1f84": "\u1f8c", "\u1f85": "\u1f8d", "\u1f86": "\u1f8e",
    "\u1f87": "\u1f8f", "\u1f90": "\u1f98", "\u1f91": "\u1f99", "\u1f92": "\u1f9a",
    "\u1f93": "\u1f9b", "\u1f94": "\u1f9c", "\u1f95": "\u1f9d", "\u1f96": "\u1f9e",
    "\u1f97": "\u1f9f", "\u1fa0": "\u1fa8", "\u1fa1": "\u1fa9", "\u1fa2": "\u1faa",
    "\u1fa3": "\u1fab", "\u1fa4": "\u1fac", "\u1fa5": "\u1fad", "\u1fa6": "\u1fae",
    "\u1fa7": "\u1faf", "\u1fb3": "\u1fbc", "\u1fc3": "\u1fcc", "\u1ff3": "\u1ffc",
}


def lower1(ch: str) -> str:
    """The simple (one-character) lowercase, as Unicode's UnicodeData defines it.

    Python's str.lower uses the full mapping, which differs only for 'İ'
    (U+0130 → 'i' + combining dot); the simple mapping gives 'i', as DuckDB's
    ILIKE and Arrow's utf8_lower (which computes scout_files.extension) do.
    """
    if ch == "\u0130":
        return "i"
    low = ch.lower()
    return low if len(low) == 1 else ch


def case_variants(ch: str) -> str:
    """Every character equal to `ch` ignoring case (including `ch`)."""
    key = lower1(ch)
    out = {ch, key}
    up = key.upper()
    if len(up) == 1 and lower1(up) == key:
        out.add(up)
    out.update(_EXTRA_CASE.get(key, ""))
    return "".join(sorted(out))
