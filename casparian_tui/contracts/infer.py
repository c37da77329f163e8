"""Proposing a contract: from a parser's declared OUTPUTS or from what it really produced.

`observed_columns` turns Arrow schemas seen on sample files (by `schema
propose --from-sample` or by a backtest) into column -> type alias; when
files disagree on a column's type the wider numeric type or `string` wins,
and a column some files lack is still listed (the contract makes it
required; edit the proposal if it should not be).
"""

from __future__ import annotations

import pyarrow as pa

from casparian_tui.contracts.store import Columns
from casparian_tui.outputs.shape import shape, split_outputs
from casparian_tui.sentinel.plugin import ParserSpec


def declared_columns(spec: ParserSpec) -> dict[str, Columns]:
    return {o: {c: str(t) for c, t in cols.items()} for o, cols in spec.outputs.items()}


def alias_of(t: pa.DataType) -> str:
    """A pyarrow alias the runner can read back; types without one become string."""
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.unit}]"  # an alias cannot carry a time zone
    if pa.types.is_null(t):
        return "string"
    text = str(t)
    try:
        pa.type_for_alias(text)
        return text
    except (ValueError, KeyError):
        return "string"


def _wider(a: str, b: str) -> str:
    if a == b:
        return a
    ints = ["int8", "int16", "int32", "int64"]
    floats = ["float", "double"]
    if a in ints and b in ints:
        return max(a, b, key=ints.index)
    if {a, b} <= set(ints + floats + ["halffloat"]):
        return "double"
    return "string"


def merge(into: dict[str, Columns], schemas: dict[str, pa.Schema]) -> dict[str, Columns]:
    """Fold one file's output schemas into the running proposal."""
    for output, schema in schemas.items():
        cols = into.setdefault(output, {})
        for f in schema:
            if f.name.startswith("_cf_"):
                continue
            alias = alias_of(f.type)
            cols[f.name] = _wider(cols[f.name], alias) if f.name in cols else alias
    return into


def sample_schemas(spec: ParserSpec, path: str) -> dict[str, pa.Schema]:
    """Run parse() on one file (in this process) and infer each output's schema."""
    outputs = split_outputs(spec.parse(path), spec.output_names)
    return {name: shape(data, None).good.schema for name, data in outputs.items()}
