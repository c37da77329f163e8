"""The SQL of content hashes: which files need one, storing them, reading them.

A row of scout_file_hashes is *current* only while the file's catalog row has
the size and mtime the hash was computed for; every reader here joins on
both, so a hash of an older version of a file is never shown as its hash.
"""

from __future__ import annotations

from typing import Sequence

from casparian_tui.db.connection import Connection
from casparian_tui.scout.pathcodec import shown_path

# Preference when a file has hashes of several algorithms.
_PREFERENCE = ("sha256", "sha1", "md5")
CURRENT = "h.file_id = f.id AND h.size = f.size AND h.mtime = f.mtime"


def unhashed_files(conn: Connection, source_id: int, algo: str) -> list[tuple]:
    """(id, rel_path, size, mtime) of live files without a current `algo` hash."""
    return conn.query_all(
        "SELECT f.id, f.rel_path, f.size, f.mtime FROM scout_files f"
        " LEFT JOIN scout_file_hashes h ON h.file_id = f.id AND h.algo = ?"
        " WHERE f.source_id = ? AND f.deleted_at IS NULL"
        " AND (h.file_id IS NULL OR h.size <> f.size OR h.mtime <> f.mtime)"
        " ORDER BY f.id",
        [algo, source_id],
    )


def store_hashes(conn: Connection, source_id: int, algo: str, rows: Sequence[tuple]) -> int:
    """Replace the `algo` hashes of these files: rows of (file_id, hash, size, mtime)."""
    if not rows:
        return 0
    import pyarrow as pa  # here: `files --json` reads hashes without pyarrow

    from casparian_tui.scout.sources import now_us  # here: reading hashes does not load sources

    ids, hashes, sizes, mtimes = zip(*rows)
    data = pa.table(
        {
            "file_id": pa.array(ids, pa.int64()),
            "algo": pa.array([algo] * len(ids), pa.string()),
            "hash": pa.array(hashes, pa.string()),
            "size": pa.array(sizes, pa.int64()),
            "mtime": pa.array(mtimes, pa.int64()),
            "hashed_at": pa.array([now_us()] * len(ids), pa.int64()),
        }
    )
    with conn.staged(data, "_cf_hashed") as stage:
        _mark_touched(conn, stage, algo)
        conn.execute(
            f"DELETE FROM scout_file_hashes WHERE algo = ? AND file_id IN (SELECT file_id FROM {stage})", [algo]
        )
    conn.bulk_insert("scout_file_hashes", data)
    from casparian_tui.scout import hashsets

    hashsets.apply_hashset_rules(conn, file_ids=list(ids))
    return len(ids)


def _mark_touched(conn: Connection, stage: str, algo: str) -> None:
    """A file a scan saw 'changed' whose new hash and size equal the hash it
    had before (only its mtime moved) was touched, not changed: its change
    rows of the scans since that older hash say 'touched'. Runs before the
    older hash is replaced, which is the only witness of the old content."""
    conn.execute(
        "UPDATE scout_scan_changes SET change = 'touched' WHERE change = 'changed' AND EXISTS ("
        f" SELECT 1 FROM {stage} n JOIN scout_file_hashes o ON o.file_id = n.file_id AND o.algo = ?"
        " JOIN scout_scan_runs r ON r.started_at > o.hashed_at"
        " WHERE n.file_id = scout_scan_changes.file_id AND r.id = scout_scan_changes.scan_id"
        " AND o.hash = n.hash AND o.size = n.size AND o.mtime <> n.mtime)",
        [algo],
    )


def after_hashing(conn: Connection, source_id: int) -> None:
    """Hash-set tags of the whole source again: a file changed since its
    last hash no longer carries the tag its old content earned."""
    from casparian_tui.scout import hashsets

    hashsets.apply_hashset_rules(conn, source_id=source_id)


def current_hashes(conn: Connection, file_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """{file id: (algo, hex)} of the current hash of each file (sha256 preferred)."""
    ids = [int(i) for i in file_ids]
    if not ids:
        return {}
    out: dict[int, tuple[str, str]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = conn.query_all(
            f"SELECT h.file_id, h.algo, h.hash FROM scout_file_hashes h JOIN scout_files f ON {CURRENT}"
            f" WHERE h.file_id IN ({marks})",
            chunk,
        )
        out.update(preferred_hashes(rows))
    return out


def preferred_hashes(rows) -> dict[int, tuple[str, str]]:
    """{file id: (algo, hex)} from rows of (file id, algo, hex), sha256 preferred."""
    out: dict[int, tuple[str, str]] = {}
    for fid, algo, digest in rows:
        have = out.get(fid)
        if have is None or _PREFERENCE.index(algo) < _PREFERENCE.index(have[0]):
            out[fid] = (algo, digest)
    return out


def source_hash_algo(conn: Connection, source_id: int) -> str | None:
    return conn.query_value("SELECT hash_algo FROM scout_sources WHERE id = ?", [source_id])


def set_source_hash_algo(conn: Connection, source_id: int, algo: str | None) -> None:
    conn.execute("UPDATE scout_sources SET hash_algo = ? WHERE id = ?", [algo, source_id])


def duplicate_groups(
    conn: Connection, *, source_id: int | None = None, min_size: int = 1, limit: int | None = None
) -> list[dict]:
    """Groups of live files with the same algo, hash and size: largest waste first.

    Waste is what all copies but one take: size × (count − 1).
    """
    where = ["f.deleted_at IS NULL", "f.size >= ?"]
    params: list = [int(min_size)]
    if source_id is not None:
        where.append("f.source_id = ?")
        params.append(int(source_id))
    cond = " AND ".join(where)
    groups = conn.query_all(
        "SELECT h.algo, h.hash, f.size, count(*) AS n FROM scout_file_hashes h"
        f" JOIN scout_files f ON {CURRENT} WHERE {cond}"
        " GROUP BY h.algo, h.hash, f.size HAVING count(*) > 1"
        " ORDER BY f.size * (count(*) - 1) DESC, h.algo, h.hash"
        + (" LIMIT ?" if limit is not None else ""),
        [*params, *([int(limit)] if limit is not None else [])],
    )
    if not groups:
        return []
    sources = {sid: (name, root) for sid, name, root in conn.query_all("SELECT id, name, root FROM scout_sources")}
    out = []
    for algo, digest, size, n in groups:
        files = conn.query_all(
            "SELECT f.id, f.source_id, f.rel_path FROM scout_file_hashes h"
            f" JOIN scout_files f ON {CURRENT} WHERE h.algo = ? AND h.hash = ? AND f.size = ? AND {cond}"
            " ORDER BY f.source_id, f.rel_path",
            [algo, digest, size, *params],
        )
        out.append(
            {
                "algo": algo,
                "hash": digest,
                "size": int(size),
                "count": len(files),
                "wasted_bytes": int(size) * (len(files) - 1),
                "files": [
                    {
                        "id": fid,
                        "source": sources[sid][0],
                        "path": shown_path(sources[sid][1].rstrip("/") + "/" + rel),
                        "rel_path": shown_path(rel),
                    }
                    for fid, sid, rel in files
                ],
            }
        )
    return out
