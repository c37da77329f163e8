"""Pattern preview: what a glob would match, before a rule is saved.

The one function behind `casparian rule test` and the TUI's live preview.
It asks the catalog, never the filesystem, in ONE statement: the matches are
computed once (a materialized CTE) and the count, the sample and both
histograms are read from them, so a preview costs one pass over the files.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from casparian_tui.db.connection import Connection
from casparian_tui.db.dialect import Dialect
from casparian_tui.db.glob_sql import extension_branches
from casparian_tui.scout.catalog import FileFilter
from casparian_tui.scout.pathcodec import display_name, shown_path
from casparian_tui.scout.patterns import Glob, compile_glob

SAMPLE_SIZE = 20
TOP = 20
ROOT_FOLDER = "."  # how the source root shows in by_folder


@dataclass
class Preview:
    pattern: str
    count: int = 0
    sample: list[str] = field(default_factory=list)  # display-safe rel paths, sorted
    by_extension: dict[str, int] = field(default_factory=dict)  # top TOP, most first
    by_folder: dict[str, int] = field(default_factory=dict)  # top TOP parent folders
    elapsed_ms: float = 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("elapsed_ms")
        return d


def preview(
    conn: Connection,
    pattern: str,
    *,
    source_id: int | None = None,
    case_sensitive: bool = False,
    sample_size: int = SAMPLE_SIZE,
    top: int = TOP,
) -> Preview:
    """Count, sample paths and per-extension / per-folder counts of `pattern`'s matches.

    Raises UsageError for an invalid pattern (before touching the database).
    """
    started = time.perf_counter()
    glob = compile_glob(pattern, case_sensitive=case_sensitive)
    matches, params = _matches_sql(conn.dialect, glob, source_id)
    sql = f"""
        WITH m AS MATERIALIZED ({matches})
        SELECT 'n' AS kind, NULL AS k, count(*) AS n FROM m
        UNION ALL SELECT * FROM (
            SELECT 'e', coalesce(extension, ''), count(*) AS n FROM m
            GROUP BY extension ORDER BY n DESC, 2 LIMIT ?) AS e
        UNION ALL SELECT * FROM (
            SELECT 'd', parent_path, count(*) AS n FROM m
            GROUP BY parent_path ORDER BY n DESC, 2 LIMIT ?) AS d
        UNION ALL SELECT * FROM (
            SELECT 's', rel_path, CAST(NULL AS BIGINT) FROM m ORDER BY rel_path LIMIT ?) AS s
    """
    rows = conn.query_all(sql, [*params, int(top), int(top), int(sample_size)])
    out = Preview(pattern=pattern)
    for kind, key, n in rows:
        if kind == "n":
            out.count = int(n)
        elif kind == "e":
            out.by_extension[key] = int(n)
        elif kind == "d":
            out.by_folder[display_name(key) if key else ROOT_FOLDER] = int(n)
        else:
            out.sample.append(shown_path(key))
    # UNION ALL keeps each branch's order on both engines only by luck: sort here.
    out.sample.sort()
    out.by_extension = dict(sorted(out.by_extension.items(), key=lambda kv: (-kv[1], kv[0])))
    out.by_folder = dict(sorted(out.by_folder.items(), key=lambda kv: (-kv[1], kv[0])))
    out.elapsed_ms = (time.perf_counter() - started) * 1000
    return out


_MATCH_COLUMNS = "SELECT f.rel_path, f.parent_path, f.extension FROM scout_files f WHERE "


def _matches_sql(dialect: Dialect, glob: Glob, source_id: int | None) -> tuple[str, list]:
    """The query for the matching rows (the columns the preview reads).

    Where the dialect says so (DuckDB), a glob with a known extension is
    asked as two disjoint branches (extension = EXT / extension = ''), each a
    filter the table scan applies itself, so it reads paths only for matching
    rows: about a third less work for `*.log` over 10^6 files than the single
    OR. SQLite gains nothing from that and keeps the one condition (its
    extension index serves both).
    """
    branches = extension_branches(glob, dialect) if dialect.split_extension_branches else None
    if not branches:
        where, params = FileFilter(source_id=source_id, globs=[glob]).where(dialect)
        return _MATCH_COLUMNS + where, params
    base, base_params = FileFilter(source_id=source_id).where(dialect)
    parts, params = [], []
    for cond, cond_params in branches:
        parts.append(f"{_MATCH_COLUMNS}{base} AND {cond}")
        params += [*base_params, *cond_params]
    return " UNION ALL ".join(parts), params
