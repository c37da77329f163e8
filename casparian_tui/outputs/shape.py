"""Turning what parse() returned into typed Arrow tables, splitting off quarantined rows.

parse() may return an iterable of dicts, a pyarrow Table, or a dict of output
name -> rows/Table. Declared OUTPUTS (or an approved contract) are the schema:
a row missing a declared column, or whose value cannot be converted to the
declared type, goes to quarantine with the reason; a column declared nullable
may be missing or None. Without a declared schema
the types are inferred and nothing is quarantined. Columns a row carries that
the contract does not declare are dropped: the contract is what the output is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

import pyarrow as pa

Schema = dict[str, pa.DataType]


class ShapeError(Exception):
    """parse() returned something that cannot become the declared outputs."""


@dataclass
class Shaped:
    good: pa.Table
    bad: list[tuple[dict, str]] = field(default_factory=list)  # (row, reason)

    @property
    def bad_columns(self) -> dict[str, int]:
        """column -> number of quarantined rows, for the policy message."""
        counts: dict[str, int] = {}
        for _, reason in self.bad:
            col = reason.split(":", 1)[0].rsplit(" ", 1)[-1]
            counts[col] = counts.get(col, 0) + 1
        return counts


def split_outputs(result: Any, output_names: list[str]) -> dict[str, Any]:
    """parse()'s return value as {output name: rows or Table}."""
    if isinstance(result, dict) and not _looks_like_row(result, output_names):
        unknown = [k for k in result if k not in output_names]
        if unknown:
            raise ShapeError(f"parse() returned unknown output(s) {unknown}; declared: {output_names}")
        return {k: v for k, v in result.items() if v is not None}
    if len(output_names) != 1:
        raise ShapeError(f"parse() must return a dict of outputs, one of {output_names}, for a multi-output parser")
    return {output_names[0]: [] if result is None else result}


def _looks_like_row(d: dict, output_names: list[str]) -> bool:
    return not any(k in output_names for k in d)


def shape(data: Any, schema: Schema | None, nullable: frozenset[str] = frozenset()) -> Shaped:
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        if not schema:
            return Shaped(data)
        try:
            return Shaped(_cast_table(data, schema, nullable))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, KeyError):
            data = data.to_pylist()  # find the offending rows one by one
    if isinstance(data, dict) or isinstance(data, (str, bytes)):
        raise ShapeError("parse() must return rows (dicts), a pyarrow Table, or a dict of outputs")
    rows = list(data) if not isinstance(data, list) else data
    for r in rows[:1]:
        if not isinstance(r, dict):
            raise ShapeError(f"parse() rows must be dicts, got {type(r).__name__}")
    if not schema:
        try:
            return Shaped(pa.Table.from_pylist(rows))
        except OverflowError as exc:
            raise ShapeError(f"an integer does not fit in 64 bits: {exc}") from exc
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ShapeError(f"rows do not share one type per column: {exc}") from exc
    return _shape_rows(rows, schema, nullable)


def _cast_table(table: pa.Table, schema: Schema, nullable: frozenset[str]) -> pa.Table:
    arrays = []
    for col, typ in schema.items():
        if col not in table.column_names and col in nullable:
            arrays.append(pa.nulls(table.num_rows, typ))
            continue
        arr = table.column(col)
        if arr.null_count and col not in nullable:
            raise KeyError(col)  # a null may mean a missing value: check rows
        arrays.append(arr if arr.type == typ else arr.cast(typ))
    return pa.table(arrays, names=list(schema))


def _shape_rows(rows: list[dict], schema: Schema, nullable: frozenset[str]) -> Shaped:
    cols = [c for c in schema if c not in nullable]
    bad_at: dict[int, str] = {}
    for i, row in enumerate(rows):
        for col in cols:
            if row.get(col) is None:
                bad_at[i] = f"missing required column {col}"
                break
    converted: dict[str, pa.Array] = {}
    keep = [i for i in range(len(rows)) if i not in bad_at]
    for col, typ in schema.items():
        values = [rows[i].get(col) for i in keep]
        arr = _convert(values, typ)
        if arr is None:  # some value does not fit: find which, row by row
            still = []
            for i in keep:
                if _convert([rows[i].get(col)], typ) is None:
                    bad_at[i] = f"wrong type in column {col}: {_short(rows[i].get(col))} is not {typ}"
                else:
                    still.append(i)
            keep = still
    for col, typ in schema.items():
        converted[col] = _convert([rows[i].get(col) for i in keep], typ)
    good = pa.table(converted) if keep else pa.table({c: pa.array([], t) for c, t in schema.items()})
    bad = [(rows[i], bad_at[i]) for i in sorted(bad_at)]
    return Shaped(good, bad)


def _convert(values: list, typ: pa.DataType, per_value: bool = True) -> pa.Array | None:
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    try:  # strings such as "42" or "2024-01-02 03:04:05" cast cleanly
        return pa.array(values).cast(typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError, OverflowError):
        pass
    if not per_value or len(values) < 2:
        return None
    # a mix such as [1, "2"]: convert value by value
    pieces = [_convert([v], typ, per_value=False) for v in values]
    if any(p is None for p in pieces):
        return None
    return pa.concat_arrays(pieces)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def quarantine_table(bad: Iterable[tuple[dict, str]]) -> pa.Table:
    """The quarantine output: the offending row as JSON text plus the reason."""
    rows, errors = [], []
    for row, reason in bad:
        rows.append(json.dumps(row, default=str, ensure_ascii=False))
        errors.append(reason)
    return pa.table({"_cf_row": pa.array(rows, pa.string()), "_cf_error": pa.array(errors, pa.string())})


LINEAGE_FIELDS = [
    pa.field("_cf_source_path", pa.string()),
    # the exact bytes of the path when it is not valid UTF-8 (else null): the
    # text column then holds the catalog's reversible escape, not a real path
    pa.field("_cf_source_path_bytes", pa.binary()),
    pa.field("_cf_source_hash", pa.string()),
    pa.field("_cf_job_id", pa.int64()),
    pa.field("_cf_parser_version", pa.string()),
    pa.field("_cf_processed_at", pa.timestamp("us", tz="UTC")),
    pa.field("_cf_host", pa.string()),
]


def add_lineage(table: pa.Table, lineage: dict) -> pa.Table:
    """Append the lineage columns (constant for one job)."""
    n = table.num_rows
    for f in LINEAGE_FIELDS:
        table = table.append_column(f, pa.repeat(pa.scalar(lineage[f.name], f.type), n))
    return table
