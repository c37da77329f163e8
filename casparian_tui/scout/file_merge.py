"""The bulk path for the file catalog: merge a scanned batch into scout_files.

A batch becomes a table SQL can join through `Connection.staged` (DuckDB
reads the Arrow table in place, PostgreSQL COPYs it into a TEMP table,
SQLite fills one with `executemany`). The merge is then the same set-based
SQL on every backend — classify, update seen rows,
insert new ones — so new/changed/unchanged counts come for free and the
whole batch is one transaction (a cancelled batch leaves nothing behind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pyarrow as pa

from casparian_tui.db.connection import Connection
from casparian_tui.scout.scan_changes import record_batch


def staged(conn: Connection, data: pa.Table, prefix: str = "_cf_stage"):
    """Make `data` queryable under the yielded table name for the block (the backend's fast path)."""
    return conn.staged(data, prefix)


@dataclass
class BatchCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    reappeared: int = 0  # known rows marked deleted earlier, seen again (counted as new too)
    # ids of the catalog rows a batch matched, when the merge left unchanged rows unwritten
    seen: list = field(default_factory=list)

    def add(self, other: "BatchCounts") -> None:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.reappeared += other.reappeared
        self.seen.extend(other.seen)


_CLASSIFY = """
SELECT
  count(*) FILTER (WHERE f.id IS NULL OR f.deleted_at IS NOT NULL),
  count(*) FILTER (WHERE f.id IS NOT NULL AND f.deleted_at IS NULL AND (f.size <> s.size OR f.mtime <> s.mtime)),
  count(*) FILTER (WHERE f.id IS NOT NULL AND f.deleted_at IS NULL AND f.size = s.size AND f.mtime = s.mtime),
  count(*) FILTER (WHERE f.id IS NOT NULL AND f.deleted_at IS NOT NULL)
FROM {stage} s LEFT JOIN scout_files f ON f.source_id = ? AND f.rel_path = s.rel_path
"""

# Every batch row already in the catalog, with what it is: 0 identical,
# 1 changed, 2 back after being marked deleted, 3 only a new device:inode,
# 4 identical but never written by a scan (kept apart: the scan's end counts
# kind 0 against the rows it did not write).
_MATCHED = """
SELECT s.i, f.id,
  CASE WHEN f.deleted_at IS NOT NULL THEN 2
       WHEN f.size <> s.size OR f.mtime <> s.mtime THEN 1
       WHEN coalesce(f.file_uid, '') <> s.file_uid THEN 3
       WHEN f.last_scan_id IS NULL THEN 4
       ELSE 0 END AS kind
FROM {stage} s JOIN scout_files f ON f.source_id = ? AND f.rel_path = s.rel_path
"""

# Seen again and identical (the common case on a rescan): only the
# bookkeeping columns are written — fewer updated columns is less DuckDB
# update/WAL work on a 10^6-row rescan.
_UPDATE_SAME = """
UPDATE scout_files SET last_seen_at = ?, last_scan_id = ?
FROM {stage} s
WHERE scout_files.source_id = ? AND scout_files.rel_path = s.rel_path
  AND scout_files.deleted_at IS NULL AND scout_files.size = s.size AND scout_files.mtime = s.mtime
  AND coalesce(scout_files.file_uid, '') = s.file_uid
"""

# Seen again but different: refresh what the walk saw. A size/mtime change
# (or coming back after being marked deleted) sends the file back to
# 'pending' and stamps changed_scan_id so the scan re-applies rules to it in
# the same batch; a new device:inode alone (a copy with the same size and
# mtime) only refreshes file_uid.
_UPDATE_DIFFERENT = """
UPDATE scout_files SET
  size = s.size,
  mtime = s.mtime,
  file_uid = s.file_uid,
  status = CASE WHEN scout_files.size <> s.size OR scout_files.mtime <> s.mtime
                  OR scout_files.deleted_at IS NOT NULL THEN 'pending' ELSE scout_files.status END,
  changed_scan_id = CASE WHEN scout_files.size <> s.size OR scout_files.mtime <> s.mtime
                  OR scout_files.deleted_at IS NOT NULL THEN ? ELSE scout_files.changed_scan_id END,
  deleted_at = NULL,
  last_seen_at = ?,
  last_scan_id = ?
FROM {stage} s
WHERE scout_files.source_id = ? AND scout_files.rel_path = s.rel_path
  AND NOT (scout_files.deleted_at IS NULL AND scout_files.size = s.size AND scout_files.mtime = s.mtime
           AND coalesce(scout_files.file_uid, '') = s.file_uid)
"""

_INSERT_NEW = """
INSERT INTO scout_files (source_id, rel_path, parent_path, name, extension, size, mtime, file_uid,
                         status, first_seen_at, last_seen_at, last_scan_id, first_scan_id, changed_scan_id)
SELECT ?, s.rel_path, s.parent_path, s.name, s.extension, s.size, s.mtime, s.file_uid,
       'pending', ?, ?, ?, ?, ?
FROM {stage} s
WHERE NOT EXISTS (SELECT 1 FROM scout_files f WHERE f.source_id = ? AND f.rel_path = s.rel_path)
"""

# First scan of a source (it has no rows yet): every row is new, so skip the
# classification and the anti-join — about half the work of the merge.
_INSERT_ALL = _INSERT_NEW[: _INSERT_NEW.index("WHERE NOT EXISTS")]


def upsert_files(
    conn: Connection,
    source_id: int,
    scan_id: int,
    now_us: int,
    batch: pa.Table,
    check: Callable[[], None] | None = None,
    *,
    assume_new: bool = False,
    touch_unchanged: bool = True,
) -> BatchCounts:
    """Merge one walker batch (walker.BATCH_SCHEMA) into scout_files.

    Call inside a write transaction. `check` runs between statements and may
    raise to abandon the batch (cancel) even when no statement is running to
    interrupt. `assume_new`: the caller knows none of these paths is in the
    catalog yet (a source's first scan). Returns what the batch held.
    `touch_unchanged=False` writes nothing for identical rows (a rescan's
    common case) and returns their ids in `seen`, so the caller can tell
    which rows the scan did not see.
    """
    if batch.num_rows == 0:
        return BatchCounts()
    check = check or (lambda: None)
    if not touch_unchanged and not assume_new:
        return _merge_changes_only(conn, batch, source_id, scan_id, now_us, check)
    with staged(conn, batch) as stage:
        check()
        if assume_new:
            conn.execute(_INSERT_ALL.format(stage=stage), [source_id, now_us, now_us, scan_id, scan_id, scan_id])
            return BatchCounts(new=batch.num_rows)
        new, changed, unchanged, back = conn.query_one(_CLASSIFY.format(stage=stage), [source_id])
        check()
        if unchanged:
            same = conn.execute(_UPDATE_SAME.format(stage=stage), [now_us, scan_id, source_id])
            check()
        else:
            same = 0
        if changed or back:
            record_batch(conn, stage, source_id, scan_id)  # before the UPDATE rewrites them
        if changed or back or same != unchanged:
            conn.execute(_UPDATE_DIFFERENT.format(stage=stage), [scan_id, now_us, scan_id, source_id])
            check()
        if new - back:
            conn.execute(
                _INSERT_NEW.format(stage=stage),
                [source_id, now_us, now_us, scan_id, scan_id, scan_id, source_id],
            )
    return BatchCounts(new=new, changed=changed, unchanged=unchanged, reappeared=back)


def _merge_changes_only(
    conn: Connection, batch: pa.Table, source_id: int, scan_id: int, now_us: int, check: Callable[[], None]
) -> BatchCounts:
    """Match the batch on its narrow key columns; stage in full and write only
    the rows that are new or differ (none, on an unchanged tree)."""
    import numpy as np
    import pyarrow.compute as pc

    key = batch.select(["rel_path", "size", "mtime", "file_uid"]).append_column(
        "i", pa.array(np.arange(batch.num_rows, dtype=np.int64))
    )
    with staged(conn, key, "_cf_match") as stage:
        check()
        matched = conn.query_arrow(_MATCHED.format(stage=stage), [source_id])
    check()
    kinds = matched.column("kind").to_numpy() if matched.num_rows else np.zeros(0, np.int8)
    same = kinds == 0
    idle = same | (kinds == 4)  # left unwritten
    changed, back = int((kinds == 1).sum()), int((kinds == 2).sum())
    new = batch.num_rows - matched.num_rows + back
    seen = [pc.cast(matched.column("id").filter(pa.array(same)), pa.int64()).combine_chunks()] if same.any() else []
    counts = BatchCounts(new=new, changed=changed, unchanged=matched.num_rows - changed - back, reappeared=back,
                         seen=seen)
    if int(idle.sum()) == batch.num_rows:
        return counts  # nothing to write
    write = np.ones(batch.num_rows, dtype=bool)
    if idle.any():
        write[matched.column("i").to_numpy().astype(np.int64)[idle]] = False
    with staged(conn, batch.filter(pa.array(write))) as full:
        check()
        if changed or back:
            record_batch(conn, full, source_id, scan_id)  # before the UPDATE rewrites them
        if matched.num_rows > int(idle.sum()):
            conn.execute(_UPDATE_DIFFERENT.format(stage=full), [scan_id, now_us, scan_id, source_id])
            check()
        if new - back:
            conn.execute(
                _INSERT_NEW.format(stage=full),
                [source_id, now_us, now_us, scan_id, scan_id, scan_id, source_id],
            )
    return counts
