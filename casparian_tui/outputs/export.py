"""Writing a query result to a file: CSV, Parquet or JSON Lines.

The rows stream from the database in record batches into a hidden temporary
file beside the target, which is renamed into place only when complete: an
interrupted or failed export leaves nothing behind. Without `overwrite`,
an existing target is refused, both before the query runs and at the
rename (a hard link, which fails if the name appeared meanwhile).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from casparian_tui.errors import CasparianError

FORMATS = ("csv", "parquet", "jsonl")
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
BATCH_ROWS = 64_000


class ExportRefused(CasparianError):
    """The export would overwrite a file, or names no known format."""


@dataclass
class ExportResult:
    path: str
    format: str
    rows: int
    bytes: int


def format_for(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ExportRefused(f"Unknown export format {fmt!r}.", hint="Use csv, parquet or jsonl.")
        return fmt
    found = _EXTENSIONS.get(Path(path).suffix.lower())
    if found is None:
        raise ExportRefused(f"Cannot tell the format of {path} from its extension.",
                            hint="Name it .csv, .parquet or .jsonl, or give the format (--format).")
    return found


def check_target(path: Path, fmt: str | None, overwrite: bool) -> tuple[Path, str]:
    fmt = format_for(path, fmt)
    path = Path(path).expanduser()
    if path.is_dir():
        raise ExportRefused(f"{path} is a folder.", hint="Give a file name.")
    if path.exists() and not overwrite:
        raise ExportRefused(f"{path} exists; not overwriting it.", hint="Confirm the overwrite (--force).")
    if not path.parent.is_dir():
        raise ExportRefused(f"No folder {path.parent}.", hint="Create it first.")
    return path, fmt


def write(batches: Iterable, path: Path, fmt: str, *, overwrite: bool = False,
          progress: Callable[[int], None] | None = None) -> ExportResult:
    """Stream `batches` (Arrow record batches) into `path`; `progress(rows so far)` after each batch."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    rows = 0
    try:
        with _writer(fmt, tmp) as put:
            for batch in batches:
                put(batch)
                rows += batch.num_rows
                if progress is not None:
                    progress(rows)
        _place(tmp, path, overwrite)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ExportResult(str(path), fmt, rows, path.stat().st_size)


def _place(tmp: Path, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ExportRefused(f"{path} appeared while exporting; not overwriting it.",
                            hint="Confirm the overwrite (--force).") from None


class _writer:
    """A context manager giving `put(batch)` for one format; the schema comes from the first batch."""

    def __init__(self, fmt: str, path: Path):
        self.fmt, self.path = fmt, path
        self._w = None
        self._fh = None

    def __enter__(self):
        if self.fmt == "jsonl":
            self._fh = open(self.path, "w", encoding="utf-8")
        return self.put

    def put(self, batch) -> None:
        if self.fmt == "jsonl":
            # DuckDB's to_json is ~20x faster than json.dumps per row, and
            # agrees with DuckDB's own JSON for dates, decimals and nesting.
            if self._w is None:
                import duckdb

                self._w = duckdb.connect(":memory:")
            self._w.register("cf_batch", batch)
            try:
                lines = self._w.sql("SELECT to_json(b)::VARCHAR FROM cf_batch AS b").fetchall()
            finally:
                self._w.unregister("cf_batch")
            self._fh.write("".join(line + "\n" for (line,) in lines))
            return
        if self._w is None:
            if self.fmt == "parquet":
                import pyarrow.parquet as pq

                self._w = pq.ParquetWriter(str(self.path), batch.schema, compression="zstd")
            else:
                import pyarrow.csv as pcsv

                self._schema = _csv_schema(batch.schema)
                self._w = pcsv.CSVWriter(str(self.path), self._schema)
        if self.fmt == "csv":
            batch = _csv_batch(batch, self._schema)
        self._w.write_batch(batch)

    def __exit__(self, *exc):
        if self._w is not None:
            self._w.close()
        elif self.fmt in ("csv", "parquet") and not exc[0]:
            self.path.write_bytes(b"")  # no rows and no batches: an empty file
        if self._fh is not None:
            self._fh.close()
        return False


def _csv_schema(schema):
    """CSV has no nested values: lists, structs and maps become their JSON text."""
    import pyarrow as pa

    return pa.schema([pa.field(f.name, pa.string()) if _nested(f.type) else f for f in schema])


def _nested(t) -> bool:
    import pyarrow as pa

    return pa.types.is_nested(t) or pa.types.is_dictionary(t)


def _csv_batch(batch, schema):
    import pyarrow as pa

    if batch.schema.equals(schema):
        return batch
    cols = []
    for col, f in zip(batch.columns, batch.schema):
        if _nested(f.type):
            col = pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()], pa.string())
        cols.append(col)
    return pa.record_batch(cols, schema=schema)
