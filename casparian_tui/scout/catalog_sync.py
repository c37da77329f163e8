"""A scan's set-based catalog work: adopting `run FILES` rows, renames, deletions, aggregates, totals.

Adoption runs in the write that starts a scan, the rest inside its finishing
write transaction. Renames and deletions are only decided after a complete
walk (the scanner's rule);
aggregates are refreshed after every scan, so they always match the rows.
"""

from __future__ import annotations

from typing import Callable

import pyarrow as pa

from casparian_tui.db.connection import Connection
from casparian_tui.scout import rules, scan_changes
from casparian_tui.scout.file_merge import staged
from casparian_tui.scout.excludes import under_excluded

# Old rows not seen by this scan, and rows this scan inserted, paired on
# device:inode + size + mtime. Numbering both sides within a key pairs them
# one to one even for hard links (several new paths, one inode).
_RENAME_PAIRS = """
WITH gone AS (
  SELECT id, file_uid, size, mtime,
         row_number() OVER (PARTITION BY file_uid, size, mtime ORDER BY rel_path) AS rn
  FROM scout_files
  WHERE source_id = ? AND deleted_at IS NULL AND last_scan_id <> ? AND file_uid IS NOT NULL{only}
), fresh AS (
  SELECT id, rel_path, parent_path, name, extension, file_uid, size, mtime, last_seen_at,
         row_number() OVER (PARTITION BY file_uid, size, mtime ORDER BY rel_path) AS rn
  FROM scout_files n
  WHERE source_id = ? AND first_scan_id = ?
    -- only candidates: numbering every new row of a first scan costs ~100 MB at 10^6 files
    AND EXISTS (SELECT 1 FROM gone g WHERE g.file_uid = n.file_uid AND g.size = n.size AND g.mtime = n.mtime)
)
SELECT g.id, n.id, n.rel_path, n.parent_path, n.name, n.extension, n.last_seen_at
FROM gone g JOIN fresh n
  ON g.file_uid = n.file_uid AND g.size = n.size AND g.mtime = n.mtime AND g.rn = n.rn
"""

_MOVE = """
UPDATE scout_files SET
  rel_path = m.rel_path, parent_path = m.parent_path, name = m.name, extension = m.extension,
  last_seen_at = m.last_seen_at, last_scan_id = ?, changed_scan_id = ?
FROM {stage} m
WHERE scout_files.id = m.old_id
"""


def _only(unseen: str | None) -> str:
    """Narrows "not written by this scan" to the staged ids of rows the scan
    did not see (a scan that leaves unchanged rows unwritten stages them)."""
    return f" AND id IN (SELECT id FROM {unseen})" if unseen else ""


def move_renamed(conn: Connection, source_id: int, scan_id: int, *, unseen: str | None = None) -> int:
    """Move each renamed file's old row to its new path; drop the new row.

    The old row keeps its id, manual tags, untags, status and history; its
    rule tags are recomputed for the new path. Returns the count. `unseen`:
    a staged table of the ids this scan did not see (see _only).
    """
    missing = conn.query_one(
        "SELECT 1 FROM scout_files WHERE source_id = ? AND deleted_at IS NULL AND last_scan_id <> ?"
        f"{_only(unseen)} LIMIT 1",
        [source_id, scan_id],
    )
    if missing is None:  # nothing went missing: no renames (always so on a first scan)
        return 0
    rows = conn.query_all(_RENAME_PAIRS.format(only=_only(unseen)), [source_id, scan_id, source_id, scan_id])
    if not rows:
        return 0
    cols = list(zip(*rows))
    pairs = pa.table(
        {
            "old_id": pa.array(cols[0], pa.int64()),
            "new_id": pa.array(cols[1], pa.int64()),
            "rel_path": pa.array(cols[2], pa.string()),
            "parent_path": pa.array(cols[3], pa.string()),
            "name": pa.array(cols[4], pa.string()),
            "extension": pa.array(cols[5], pa.string()),
            "last_seen_at": pa.array(cols[6], pa.int64()),
        }
    )
    with staged(conn, pairs, "_cf_renames") as stage:
        # The new row holds the path (UNIQUE): it goes first.
        conn.execute(f"DELETE FROM scout_file_tags WHERE file_id IN (SELECT new_id FROM {stage})")
        conn.execute(f"DELETE FROM scout_files WHERE id IN (SELECT new_id FROM {stage})")
        scan_changes.record_renamed(conn, stage, scan_id)
        conn.execute(_MOVE.format(stage=stage), [scan_id, scan_id])
    if not rules.nothing_to_apply(conn):
        rules.apply_rules(conn, source_id=source_id, file_ids=pairs.column("old_id"))
    return len(rows)


def mark_deleted(
    conn: Connection,
    source_id: int,
    scan_id: int,
    now_us: int,
    *,
    error_dirs: list[str] = (),
    exclude: Callable[[str, bool], bool] | None = None,
    unseen: str | None = None,
) -> int:
    """Mark files this complete scan did not see as deleted; return the count.

    Files under a folder the walk could not read, or excluded from this scan,
    were not looked at, so they are not "not seen": they stay as they are.
    """
    unseen = "source_id = ? AND deleted_at IS NULL AND last_scan_id <> ?" + _only(unseen)
    if not error_dirs and exclude is None:
        scan_changes.record_deleted(conn, scan_id, unseen, [source_id, scan_id])
        return conn.execute(
            f"UPDATE scout_files SET deleted_at = ?, status = 'deleted' WHERE {unseen}",
            [now_us, source_id, scan_id],
        )
    prefixes = tuple(d + "/" for d in error_dirs if d)
    root_unreadable = any(d == "" for d in error_dirs)
    if root_unreadable:
        return 0
    rows = conn.query_all(f"SELECT id, rel_path FROM scout_files WHERE {unseen}", [source_id, scan_id])
    gone = [
        fid
        for fid, rel in rows
        if not (prefixes and rel.startswith(prefixes)) and not (exclude is not None and under_excluded(exclude, rel))
    ]
    if not gone:
        return 0
    with staged(conn, pa.table({"id": pa.array(gone, pa.int64())}), "_cf_gone") as stage:
        scan_changes.record_deleted(conn, scan_id, f"id IN (SELECT id FROM {stage})", [])
        conn.execute(
            f"UPDATE scout_files SET deleted_at = ?, status = 'deleted' WHERE id IN (SELECT id FROM {stage})",
            [now_us],
        )
    return len(gone)


def refresh_folders(conn: Connection, source_id: int) -> int:
    """Rebuild scout_folders for a source from its live files.

    Each folder row holds the file count and bytes of its whole subtree
    (what a tree view shows next to a folder); the root folder is ''. Direct
    counts come from one GROUP BY; the roll-up to ancestors is done here
    because folders are few next to files. Returns the folder count.
    """
    direct = conn.query_all(
        "SELECT parent_path, count(*), coalesce(sum(size), 0) FROM scout_files"
        " WHERE source_id = ? AND deleted_at IS NULL GROUP BY parent_path",
        [source_id],
    )
    totals: dict[str, list[int]] = {"": [0, 0]}
    for path, count, size in direct:
        count, size = int(count), int(size)
        # Add this folder's files to it and to every ancestor up to the root.
        node = path
        while True:
            t = totals.get(node)
            if t is None:
                totals[node] = [count, size]
            else:
                t[0] += count
                t[1] += size
            if node == "":
                break
            cut = node.rfind("/")
            node = node[:cut] if cut >= 0 else ""
    conn.execute("DELETE FROM scout_folders WHERE source_id = ?", [source_id])
    paths = list(totals)
    parents = [None if p == "" else (p[: p.rfind("/")] if "/" in p else "") for p in paths]
    table = pa.table(
        {
            "source_id": pa.array([source_id] * len(paths), pa.int64()),
            "path": pa.array(paths, pa.string()),
            "parent_path": pa.array(parents, pa.string()),
            "depth": pa.array([0 if p == "" else p.count("/") + 1 for p in paths], pa.int32()),
            "file_count": pa.array([totals[p][0] for p in paths], pa.int64()),
            "total_bytes": pa.array([totals[p][1] for p in paths], pa.int64()),
        }
    )
    conn.bulk_insert("scout_folders", table)
    return len(paths)


def live_totals(conn: Connection, source_id: int) -> tuple[int, int]:
    """(files, bytes) of a source's live rows."""
    n, size = conn.query_one(
        "SELECT count(*), coalesce(sum(size), 0) FROM scout_files WHERE source_id = ? AND deleted_at IS NULL",
        [source_id],
    )
    return int(n), int(size)


def refresh_source_totals(conn: Connection, source_id: int, now_us: int, totals: tuple[int, int] | None = None) -> None:
    """Store the source's live file count and bytes (`totals` when the caller just counted them)."""
    files, size = totals if totals is not None else live_totals(conn, source_id)
    conn.execute(
        "UPDATE scout_sources SET file_count = ?, total_bytes = ?, last_scan_at = ?, updated_at = ? WHERE id = ?",
        [files, size, now_us, now_us, source_id],
    )


def adopt_adhoc(conn: Connection, source_id: int, root: str) -> int:
    """Move the files `casparian run FILES` registered outside any source
    (the implicit `adhoc` source, rel_path = absolute path without its "/")
    that lie under this source's encoded `root` into the source, keeping
    their ids, so their jobs and outputs stay and the scan does not catalog
    them a second time (a file is one file: parsed once). Their rule tags
    are applied here, as a scan's batch would; last_scan_id 0 (no scan saw
    them yet) lets this scan mark one deleted that is gone. Returns how many moved.

    A path the source already holds stays where it is (two rows from before
    this rule; the scan's overlap warning is for such catalogs).
    """
    from casparian_tui.scout.sources import ADHOC

    adhoc = conn.query_value("SELECT id FROM scout_sources WHERE name = ? AND root = ?", list(ADHOC))
    if adhoc is None or adhoc == source_id:
        return 0
    prefix = root.rstrip("/").lstrip("/")
    prefix = prefix + "/" if prefix else ""
    n = len(prefix)
    ids = conn.query_arrow(
        "SELECT a.id FROM scout_files a WHERE a.source_id = ? AND a.deleted_at IS NULL"
        " AND substr(a.rel_path, 1, ?) = ? AND length(a.rel_path) > ?"
        " AND NOT EXISTS (SELECT 1 FROM scout_files s WHERE s.source_id = ? AND s.rel_path = substr(a.rel_path, ?))",
        [adhoc, n, prefix, n, source_id, n + 1],
    ).column("id")
    if len(ids) == 0:
        return 0
    with staged(conn, pa.table({"id": ids}), "_cf_adopted") as stage:
        conn.execute(
            "UPDATE scout_files SET source_id = ?, rel_path = substr(rel_path, ?), last_scan_id = 0,"
            " parent_path = CASE WHEN length(parent_path) < ? THEN '' ELSE substr(parent_path, ?) END"
            f" WHERE id IN (SELECT id FROM {stage})",
            [source_id, n + 1, n, n + 1],
        )
    rules.apply_rules(conn, source_id=source_id, file_ids=ids)
    return len(ids)
