"""What the parsers have written: outputs per parser and version, their quarantine, the raw input of a bad row.

The files are the truth for rows, files and bytes (Parquet footers, no data
read); the database adds the contract status and the last run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from casparian_tui.db.connection import Connection
from casparian_tui.outputs.query import _IDENT

QUARANTINE_SUFFIX = "_quarantine"
# Keys a parser may give a row for where it came from in its source file.
LINE_KEYS = ("line", "line_no", "lineno", "line_number", "row", "row_no", "row_number")


@dataclass
class OutputInfo:
    parser: str
    version: str
    output: str
    folder: str
    files: int = 0
    rows: int = 0
    bytes: int = 0
    quarantine_rows: int = 0
    quarantine_folder: str | None = None
    contract: str = "none"  # "approved v2", "proposed v1" or "none"
    last_run_us: int | None = None
    latest: bool = False  # the version the outputs.<parser>_<output> view reads

    @property
    def view(self) -> str:
        return f"{self.parser}_{self.output}"

    @property
    def pattern(self) -> str:
        return str(Path(self.folder) / "*.parquet")

    @property
    def quarantine_pattern(self) -> str | None:
        return str(Path(self.quarantine_folder) / "*.parquet") if self.quarantine_folder else None


def _scan_folder(folder: Path) -> tuple[int, int, int, float]:
    """(files, rows, bytes, newest mtime) of the Parquet parts in `folder`."""
    import pyarrow.parquet as pq

    files = rows = size = 0
    newest = 0.0
    for part in folder.glob("*.parquet"):
        try:
            st = part.stat()
            rows += pq.ParquetFile(part).metadata.num_rows
        except (OSError, ValueError):
            continue  # retired or rewritten while we looked
        files += 1
        size += st.st_size
        newest = max(newest, st.st_mtime)
    return files, rows, size, newest


def list_outputs(conn: Connection | None, output_root: Path) -> list[OutputInfo]:
    """Every (parser, version, output) folder with Parquet parts, newest version of each output first."""
    root = Path(output_root)
    found: list[tuple[float, OutputInfo]] = []
    if root.is_dir():
        for folder in sorted(root.glob("*/*/*")):
            parser, version, output = folder.parts[-3:]
            if not (folder.is_dir() and _IDENT.match(parser) and _IDENT.match(output)):
                continue
            if output.endswith(QUARANTINE_SUFFIX):
                continue
            files, rows, size, newest = _scan_folder(folder)
            info = OutputInfo(parser, version, output, str(folder), files, rows, size)
            q = folder.with_name(output + QUARANTINE_SUFFIX)
            if q.is_dir():
                qfiles, qrows, _, _ = _scan_folder(q)
                if qfiles:
                    info.quarantine_rows, info.quarantine_folder = qrows, str(q)
            if files or info.quarantine_folder:
                found.append((newest, info))
    newest_of: dict[tuple[str, str], float] = {}
    for mtime, info in found:
        key = (info.parser, info.output)
        if info.files and mtime >= newest_of.get(key, -1):
            newest_of[key] = mtime
    for mtime, info in found:
        info.latest = bool(info.files) and newest_of.get((info.parser, info.output)) == mtime
    outputs = [info for _, info in found]
    if conn is not None:
        _add_catalog_facts(conn, outputs)
    outputs.sort(key=lambda o: (o.parser, o.output, not o.latest, o.version))
    return outputs


def _add_catalog_facts(conn: Connection, outputs: list[OutputInfo]) -> None:
    from casparian_tui.contracts.store import list_contracts

    contracts = {(c.parser, c.output): c for c in list_contracts(conn)}
    runs = {(p, v): t for p, v, t in conn.query_all(
        "SELECT parser_name, parser_version, max(finished_at) FROM cf_processing_queue "
        "WHERE finished_at IS NOT NULL GROUP BY parser_name, parser_version")}
    for o in outputs:
        c = contracts.get((o.parser, o.output))
        if c is not None:
            o.contract = f"approved v{c.current_version}" if c.current_version else f"proposed v{c.latest_version}"
        o.last_run_us = runs.get((o.parser, o.version))


@dataclass
class SourceContext:
    path: str
    first_line: int  # number of lines[0], from 1
    lines: list[str] = field(default_factory=list)
    focus: int | None = None  # the line the row came from, when the row says
    error: str = ""  # why the file could not be shown


def row_line(row_json: str | None) -> int | None:
    """The source line a quarantined row names (`_cf_row` is the row as JSON), if any."""
    if not row_json:
        return None
    try:
        row = json.loads(row_json)
    except ValueError:
        return None
    if not isinstance(row, dict):
        return None
    for key in LINE_KEYS:
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def source_context(path: str, row_json: str | None = None, around: int = 5, head: int = 20,
                   max_chars: int = 400) -> SourceContext:
    """The raw input next to a bad row: lines around the row's line, or the start of the file."""
    line = row_line(row_json)
    start = max(1, line - around) if line else 1
    stop = line + around if line else head
    ctx = SourceContext(path, start, focus=line)
    try:
        with open(os.path.expanduser(path), encoding="utf-8", errors="replace") as fh:
            for n, text in enumerate(fh, start=1):
                if n > stop:
                    break
                if n >= start:
                    text = text.rstrip("\r\n")
                    ctx.lines.append(text if len(text) <= max_chars else text[:max_chars] + "…")
    except OSError as exc:
        ctx.error = f"Cannot read {path}: {exc.strerror or exc}"
    return ctx


@dataclass
class CatalogEntry:
    name: str  # as written in a query: scout_files, outputs.p_events
    kind: str  # "table" or "output"
    columns: list[tuple[str, str]]  # (name, type)


def describe(conn: Connection, output_root: Path) -> list[CatalogEntry]:
    """The catalog tables and the output views, each with its columns and types."""
    import pyarrow.parquet as pq

    from casparian_tui.outputs.query import output_views

    entries = [CatalogEntry(t, "table", [(c, str(k)) for c, k in conn.table_columns(t)])
               for t in sorted(conn.table_names()) if not t.startswith("_")]
    for v in output_views(output_root):
        columns: list[tuple[str, str]] = []
        for part in sorted(Path(v.pattern).parent.glob("*.parquet")):
            try:
                columns = [(f.name, str(f.type)) for f in pq.read_schema(part)]
                break
            except (OSError, ValueError):
                continue
        entries.append(CatalogEntry(f"outputs.{v.name}", "output", columns))
    return entries
