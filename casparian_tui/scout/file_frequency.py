"""How the files a filter selects spread over one of their columns: value, count, %.

Discover's file table shows it for the cursor's column, as the Query screen
does for a result column. A path is unique, so its column counts folders
(the parent folder of each file); tags count files per tag, so one file with
two tags counts twice and the percentages (of the files selected) may add up
to more than 100.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from casparian_tui.db.connection import Connection
from casparian_tui.errors import UsageError
from casparian_tui.scout.catalog import FileFilter, status_sql
from casparian_tui.scout.pathcodec import display_name

UNTAGGED = "(untagged)"

# The file table's column keys, and what each counts.
_VALUE_SQL = {
    "path": "f.parent_path",
    "ext": "coalesce(f.extension, '')",
    "size": "f.size",
    "status": status_sql("f"),
}
COLUMNS = (*_VALUE_SQL, "tags")
_LABELS = {"path": "folder", "ext": "extension", "size": "size", "status": "status", "tags": "tag"}


@dataclass
class FileFrequency:
    column: str  # as the dialog names it
    rows: list[tuple[object, int, float]]  # value, files, % of the files selected
    distinct: int
    total: int  # files selected
    elapsed_s: float


def file_frequency(conn: Connection, flt: FileFilter, column: str, limit: int = 100) -> FileFrequency:
    """The `limit` most frequent values of `column` among the files `flt` selects."""
    if column not in COLUMNS:
        raise UsageError(f"No frequency for column {column!r}.", hint=f"Choose one of: {', '.join(COLUMNS)}.")
    started = time.perf_counter()
    where, params = flt.where(conn.dialect)
    total = conn.query_value(f"SELECT count(*) FROM scout_files f WHERE {where}", params, 0)
    if column == "tags":
        counted = (f"SELECT t.tag AS v, count(*) AS n FROM scout_file_tags t JOIN scout_files f ON f.id = t.file_id "
                   f"WHERE {where} GROUP BY t.tag "
                   f"UNION ALL SELECT ? AS v, count(*) AS n FROM scout_files f WHERE {where} "
                   f"AND NOT EXISTS (SELECT 1 FROM scout_file_tags u WHERE u.file_id = f.id)")
        counted_params = [*params, UNTAGGED, *params]
    else:
        counted = f"SELECT {_VALUE_SQL[column]} AS v, count(*) AS n FROM scout_files f WHERE {where} GROUP BY 1"
        counted_params = list(params)
    distinct = conn.query_value(f"SELECT count(*) FROM ({counted}) c WHERE c.n > 0", counted_params, 0)
    rows = conn.query_all(f"SELECT v, n FROM ({counted}) c WHERE c.n > 0 ORDER BY n DESC, v LIMIT ?",
                          [*counted_params, limit])
    shown = [(_shown(column, v), int(n), 100.0 * n / total if total else 0.0) for v, n in rows]
    return FileFrequency(_LABELS[column], shown, int(distinct), int(total), time.perf_counter() - started)


def _shown(column: str, value: object) -> object:
    if column == "path":
        return display_name(value) or "(top folder)"
    if column == "ext":
        return value or "(none)"
    return value
