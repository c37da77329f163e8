"""Test helper: put scout_files rows in the catalog directly (no scanner)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# The scanner's definition (scout/walker.py): text after the last dot, as
# os.path.splitext sees it, lower-cased with Arrow's utf8_lower; '' if none.
_EXT_RE = r"(?s)^\.*[^.].*\.(?P<ext>[^.]*)$"


def extension_of(name: str) -> str:
    ext = pc.struct_field(pc.extract_regex(pa.array([name]), _EXT_RE), [0])
    return pc.utf8_lower(pc.fill_null(ext, "")).to_pylist()[0]


def add_source(conn, name: str = "src", root: str = "/data/src") -> int:
    return conn.query_value(
        "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES (?, ?, 0, 0) RETURNING id",
        (name, root),
    )


def add_files(conn, source_id: int, rel_paths, *, sizes=None, mtimes=None, statuses=None, deleted=None) -> None:
    rel_paths = list(rel_paths)
    n = len(rel_paths)
    names = [p.rsplit("/", 1)[-1] for p in rel_paths]
    table = pa.table(
        {
            "source_id": pa.array([source_id] * n, pa.int64()),
            "rel_path": rel_paths,
            "parent_path": [p.rsplit("/", 1)[0] if "/" in p else "" for p in rel_paths],
            "name": names,
            "extension": [extension_of(nm) for nm in names],
            "size": pa.array(sizes or [i * 10 for i in range(n)], pa.int64()),
            "mtime": pa.array(mtimes or [1_700_000_000_000_000 + i for i in range(n)], pa.int64()),
            "status": statuses or ["pending"] * n,
            "first_seen_at": pa.array([0] * n, pa.int64()),
            "last_seen_at": pa.array([0] * n, pa.int64()),
            "deleted_at": pa.array(deleted or [None] * n, pa.int64()),
        }
    )
    conn.bulk_insert("scout_files", table)


def ids_by_path(conn) -> dict[str, int]:
    return {p: i for i, p in conn.query_all("SELECT id, rel_path FROM scout_files")}


def matching_paths(conn, cond_sql: str, params) -> set[str]:
    return {r[0] for r in conn.query_all(f"SELECT f.rel_path FROM scout_files f WHERE {cond_sql}", params)}

