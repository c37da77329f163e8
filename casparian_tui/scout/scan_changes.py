"""What each scan changed: the files it found new, changed, renamed and deleted.

New files need no rows of their own: `scout_files.first_scan_id` names the
scan that first saw a file, and a rename keeps the old row (and its first
scan). scout_scan_changes holds the rest, written inside the scan's own
transactions (each batch, then the finishing write), so a killed scan
records exactly the changes it committed:
- 'changed': size or mtime differ from the catalog;
- 'new': a file marked deleted earlier that is back (its row is old);
- 'renamed': with `old_path`, the path before the move;
- 'deleted';
- 'touched': a 'changed' row turns into this when the file is hashed
  again and its content hash and size equal the hash it had before the
  scan (only the mtime moved). Until that hash is computed the row says
  'changed': the scan itself reads no content, and the file's old hash is
  not current (its mtime differs), so it is hashed again, never trusted.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.scout.pathcodec import shown_path

# The rows of a staged walker batch that are changed or back from deleted,
# read before the batch's UPDATE rewrites them.
_RECORD_BATCH = """
INSERT INTO scout_scan_changes (scan_id, file_id, change, old_path)
SELECT ?, f.id, CASE WHEN f.deleted_at IS NOT NULL THEN 'new' ELSE 'changed' END, NULL
FROM {stage} s JOIN scout_files f ON f.source_id = ? AND f.rel_path = s.rel_path
WHERE f.deleted_at IS NOT NULL OR f.size <> s.size OR f.mtime <> s.mtime
"""


def record_batch(conn: Connection, stage: str, source_id: int, scan_id: int) -> None:
    conn.execute(_RECORD_BATCH.format(stage=stage), [scan_id, source_id])


def record_renamed(conn: Connection, stage: str, scan_id: int) -> None:
    """Before the move: each pair's old row, with the path it is leaving."""
    conn.execute(
        "INSERT INTO scout_scan_changes (scan_id, file_id, change, old_path)"
        f" SELECT ?, m.old_id, 'renamed', f.rel_path FROM {stage} m JOIN scout_files f ON f.id = m.old_id",
        [scan_id],
    )


def record_deleted(conn: Connection, scan_id: int, condition: str, params: list) -> None:
    """Before the marking: the files `condition` (on scout_files) is about to mark deleted."""
    conn.execute(
        "INSERT INTO scout_scan_changes (scan_id, file_id, change, old_path)"
        f" SELECT ?, id, 'deleted', NULL FROM scout_files WHERE {condition}",
        [scan_id, *params],
    )


def forget_source(conn: Connection, source_id: int) -> None:
    """Drop the change rows, hashes of a source being removed (no foreign keys)."""
    conn.execute(
        "DELETE FROM scout_scan_changes WHERE scan_id IN (SELECT id FROM scout_scan_runs WHERE source_id = ?)",
        [source_id],
    )
    conn.execute(
        "DELETE FROM scout_file_hashes WHERE file_id IN (SELECT id FROM scout_files WHERE source_id = ?)",
        [source_id],
    )


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(text: str) -> int:
    """Epoch µs of WHEN: '2h', '3d', '1w' ago, or an ISO date/time (local time unless it says)."""
    t = (text or "").strip()
    m = re.fullmatch(r"(\d+)\s*([smhdw])", t)
    if m:
        return int((time.time() - int(m.group(1)) * _UNITS[m.group(2)]) * 1_000_000)
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        raise UsageError(f"Cannot read the time {text!r}.", hint="Use e.g. 2h, 3d, 1w, 2026-11-30 or 2026-11-30T14:00.")
    if dt.tzinfo is None:
        dt = dt.astimezone()  # local time
    return int(dt.astimezone(timezone.utc).timestamp() * 1_000_000)


def scans_for(conn: Connection, *, scan_id: int | None = None, since_us: int | None = None,
              source_id: int | None = None) -> list[dict]:
    """The scan runs asked for: one by id, those started since a time, or else the latest."""
    cols = ("SELECT r.id, s.name AS source, r.started_at, r.finished_at, r.status, r.new_files, r.changed_files,"
            " r.renamed_files, r.deleted_files FROM scout_scan_runs r JOIN scout_sources s ON s.id = r.source_id")
    where, params = [], []
    if source_id is not None:
        where.append("r.source_id = ?")
        params.append(source_id)
    if scan_id is not None:
        where.append("r.id = ?")
        params.append(int(scan_id))
    elif since_us is not None:
        where.append("r.started_at >= ?")
        params.append(int(since_us))
    sql = cols + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.id"
    if scan_id is None and since_us is None:
        sql = cols + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.id DESC LIMIT 1"
    runs = conn.query_dicts(sql, params)
    for r in runs:
        r["touched_files"] = touched_count(conn, r["id"])
    if scan_id is not None and not runs:
        raise CasparianError(f"No scan with id {scan_id}.", hint="See `casparian changes --since 7d`.")
    return runs


def touched_count(conn: Connection, scan_id: int) -> int:
    """How many of the files the scan saw changed a later hash showed to have the same content."""
    return conn.query_value(
        "SELECT count(*) FROM scout_scan_changes WHERE scan_id = ? AND change = 'touched'", [int(scan_id)], 0
    )


def changes_of(conn: Connection, scan_id: int, limit: int | None = None) -> list[dict]:
    """Every file the scan found new, changed, renamed or deleted, by path."""
    sql = (
        "SELECT c.change, f.id, f.source_id, f.rel_path, c.old_path, f.size, f.mtime FROM scout_scan_changes c"
        " JOIN scout_files f ON f.id = c.file_id WHERE c.scan_id = ?"
        " UNION ALL "
        "SELECT 'new', f.id, f.source_id, f.rel_path, NULL, f.size, f.mtime FROM scout_files f WHERE f.first_scan_id = ?"
        " ORDER BY 1, 4" + (" LIMIT ?" if limit is not None else "")
    )
    rows = conn.query_all(sql, [scan_id, scan_id, *([int(limit)] if limit is not None else [])])
    sources = {sid: root for sid, root in conn.query_all("SELECT id, root FROM scout_sources")}
    out = []
    for change, fid, sid, rel, old, size, mtime in rows:
        root = sources.get(sid, "").rstrip("/")
        out.append(
            {
                "change": change,
                "id": fid,
                "path": shown_path(root + "/" + rel),
                "rel_path": shown_path(rel),
                "old_rel_path": shown_path(old) if old is not None else None,
                "size": size,
                "mtime": mtime,
            }
        )
    return out


def latest_scan_id(conn: Connection, source_id: int | None = None) -> int | None:
    """The newest scan run (of one source, or of any): what "changed in last scan" means."""
    if source_id is None:
        return conn.query_value("SELECT max(id) FROM scout_scan_runs")
    return conn.query_value("SELECT max(id) FROM scout_scan_runs WHERE source_id = ?", [int(source_id)])
