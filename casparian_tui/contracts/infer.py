"""Proposing a contract: from a parser's declared OUTPUTS or from what it really produced.

`observed_columns` turns Arrow schemas seen on sample files (by `schema
propose --from-sample` or by a backtest) into column -> type alias; when
files disagree on a column's type the wider numeric type or `string` wins.
From a sample (`sample_file`), a column that some rows leave empty or some
files lack is proposed nullable (`"string?"`).
"""

from __future__ import annotations

import pyarrow as pa

from casparian_tui.contracts.columns import declared_aliases
from casparian_tui.contracts.store import Columns
from casparian_tui.outputs.shape import shape, split_outputs
from casparian_tui.sentinel.plugin import ParserSpec


def declared_columns(spec: ParserSpec) -> dict[str, Columns]:
    return declared_aliases(spec.raw_outputs, spec.outputs)


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
    return sample_file(spec, path)[0]


def sample_file(spec: ParserSpec, path: str) -> tuple[dict[str, pa.Schema], dict[str, set[str]]]:
    """Run parse() on one file: each output's schema, and its columns holding a null."""
    outputs = split_outputs(spec.parse(path), spec.output_names)
    tables = {name: shape(data, None).good for name, data in outputs.items()}
    nulls = {name: {c for c in t.column_names if t.column(c).null_count} for name, t in tables.items()}
    return {name: t.schema for name, t in tables.items()}, nulls


class NullTracker:
    """Which sampled columns must be nullable: null somewhere, or absent from some file."""

    def __init__(self):
        self.seen: dict[str, list[set[str]]] = {}
        self.nulls: dict[str, set[str]] = {}

    def add(self, schemas: dict[str, pa.Schema], nulls: dict[str, set[str]]) -> None:
        for output, schema in schemas.items():
            self.seen.setdefault(output, []).append({f.name for f in schema})
            self.nulls.setdefault(output, set()).update(nulls.get(output, ()))

    def apply(self, proposal: dict[str, Columns]) -> dict[str, Columns]:
        for output, cols in proposal.items():
            files = self.seen.get(output, [])
            for col, alias in cols.items():
                absent = any(col not in names for names in files)
                if (absent or col in self.nulls.get(output, ())) and not alias.endswith("?"):
                    cols[col] = alias + "?"
        return proposal
