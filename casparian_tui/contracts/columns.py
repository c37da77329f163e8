"""Column types of a contract: a pyarrow alias, optionally nullable.

A column is required (NOT NULL) unless it says otherwise, in either spelling:
`"string?"` or `{"type": "string", "nullable": True}`. Contracts store the
short spelling, so two proposals that mean the same compare equal.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

NULLABLE_MARK = "?"


class BadColumnType(ValueError):
    pass


def split_alias(alias: Any) -> tuple[Any, bool]:
    """(the bare type alias or DataType, nullable) of a column declaration."""
    if isinstance(alias, dict):
        extra = set(alias) - {"type", "nullable"}
        if "type" not in alias or extra:
            raise BadColumnType(f"a column given as a dict needs 'type' (and optionally 'nullable'), got {alias!r}")
        nullable = alias.get("nullable", False)
        if not isinstance(nullable, bool):
            raise BadColumnType(f"'nullable' must be true or false, got {nullable!r}")
        bare, marked = split_alias(alias["type"])
        return bare, nullable or marked
    if isinstance(alias, str) and alias.endswith(NULLABLE_MARK):
        return alias[: -len(NULLABLE_MARK)].strip(), True
    return alias, False


def is_nullable(alias: Any) -> bool:
    return split_alias(alias)[1]


def normalize(alias: Any) -> str:
    """The stored spelling: 'int64', or 'int64?' for a nullable column."""
    bare, nullable = split_alias(alias)
    text = str(bare)
    return text + NULLABLE_MARK if nullable else text


def nullable_columns(columns: dict[str, Any]) -> frozenset[str]:
    return frozenset(c for c, alias in columns.items() if is_nullable(alias))


def declared_aliases(raw_outputs: Any, typed: dict[str, dict[str, pa.DataType]]) -> dict[str, dict[str, str]]:
    """A parser's declared OUTPUTS as stored spellings (nullability kept),
    from its raw OUTPUTS (already validated into `typed`)."""
    out: dict[str, dict[str, str]] = {}
    for output, cols in typed.items():
        raw = raw_outputs.get(output, {}) if isinstance(raw_outputs, dict) else {}
        out[output] = {c: str(t) + (NULLABLE_MARK if is_nullable(raw.get(c)) else "") for c, t in cols.items()}
    return out
