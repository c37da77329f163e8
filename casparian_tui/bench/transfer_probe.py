"""Time `db migrate` (SQLite -> DuckDB) and `db export` (DuckDB -> SQLite) on a large catalog.

    python -m casparian_tui.bench.transfer_probe [--files 1000000] [--dir DIR] [--json]

Builds a deterministic SQLite catalog through the schema and bulk paths (one
source, N files with realistic paths, one rule tag per file, N/10 jobs with
events), then times the whole verified transfer both ways with
`db.transfer.transfer` — copy, index build, sequence advance, checksum
verification and rename included. Target (issue 7): <= 30 s each way at 1M files.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from casparian_tui.db.migrate import migrate
from casparian_tui.db.sqlite_backend import SQLiteConnection
from casparian_tui.db.transfer import transfer

CHUNK = 200_000


def build_sqlite_catalog(path: Path, files: int) -> None:
    conn = SQLiteConnection(path, read_only=False)
    try:
        conn.prepare_new()
        migrate(conn)
        with conn.transaction():
            conn.execute("INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('probe', '/data', 1, 1)")
            conn.execute("INSERT INTO scout_tagging_rules (pattern, tag, created_at) VALUES ('*.log', 'logs', 1)")
        for start in range(0, files, CHUNK):
            ids = range(start + 1, min(start + CHUNK, files) + 1)
            parents = [f"host{i % 97}/var/log/d{i % 1013}" for i in ids]
            names = [f"file_{i:07d}.log" for i in ids]
            n = len(names)
            table = pa.table({
                "id": pa.array(ids, pa.int64()),
                "source_id": pa.array([1] * n, pa.int64()),
                "rel_path": [f"{p}/{nm}" for p, nm in zip(parents, names)],
                "parent_path": parents,
                "name": names,
                "extension": ["log"] * n,
                "size": pa.array([i * 37 % 100_000 for i in ids], pa.int64()),
                "mtime": pa.array([1_700_000_000_000_000 + i for i in ids], pa.int64()),
                "file_uid": [f"2049:{i}" for i in ids],
                "status": ["pending"] * n,
                "first_seen_at": pa.array([1] * n, pa.int64()),
                "last_seen_at": pa.array([2] * n, pa.int64()),
                "last_scan_id": pa.array([1] * n, pa.int64()),
            })
            tags = pa.table({
                "file_id": pa.array(ids, pa.int64()), "tag": ["logs"] * n, "tag_source": ["rule"] * n,
                "rule_id": pa.array([1] * n, pa.int64()), "created_at": pa.array([3] * n, pa.int64()),
            })
            jobs = [i for i in ids if i % 10 == 0]
            queue = pa.table({
                "id": pa.array(jobs, pa.int64()), "file_id": pa.array(jobs, pa.int64()),
                "parser_name": ["p"] * len(jobs), "parser_version": ["1"] * len(jobs),
                "parser_fingerprint": ["fp"] * len(jobs), "status": ["COMPLETED"] * len(jobs),
                "created_at": pa.array([4] * len(jobs), pa.int64()), "updated_at": pa.array([5] * len(jobs), pa.int64()),
                "rows_out": pa.array([i % 50 for i in jobs], pa.int64()),
            })
            events = pa.table({
                "job_id": pa.array(jobs, pa.int64()), "event_at": pa.array([6] * len(jobs), pa.int64()),
                "event": ["completed"] * len(jobs),
            })
            with conn.transaction():
                conn.bulk_insert("scout_files", table)
                conn.bulk_insert("scout_file_tags", tags)
                conn.bulk_insert("cf_processing_queue", queue)
                conn.bulk_insert("cf_job_events", events)
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--dir", help="work folder (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="transfer_probe_", dir=args.dir) as tmp:
        folder = Path(tmp)
        sqlite_path, duck_path, back_path = folder / "c.sqlite", folder / "c.duckdb", folder / "back.sqlite"
        t0 = time.perf_counter()
        build_sqlite_catalog(sqlite_path, args.files)
        build_s = time.perf_counter() - t0
        results = {"files": args.files, "build_sqlite_s": round(build_s, 2)}
        for label, (src, sb, dst, db_) in {
            "migrate_sqlite_to_duckdb": (sqlite_path, "sqlite", duck_path, "duckdb"),
            "export_duckdb_to_sqlite": (duck_path, "duckdb", back_path, "sqlite"),
        }.items():
            t0 = time.perf_counter()
            report = transfer(src, sb, dst, db_)
            elapsed = time.perf_counter() - t0
            slow = sorted(report.tables, key=lambda t: -t.seconds)[:2]
            results[label] = {
                "seconds": round(elapsed, 2), "target_s": 30, "pass": elapsed <= 30,
                "rows": sum(t.rows_target for t in report.tables),
                "verify_s_slowest": {t.table: t.seconds for t in slow},
                "source_mb": round(src.stat().st_size / 2**20, 1), "target_mb": round(dst.stat().st_size / 2**20, 1),
            }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"catalog: {args.files:,} files (built in {results['build_sqlite_s']} s)")
        for label in ("migrate_sqlite_to_duckdb", "export_duckdb_to_sqlite"):
            r = results[label]
            print(f"{label:<26} {r['seconds']:>7.2f} s  (target <= 30 s: {'pass' if r['pass'] else 'FAIL'}; "
                  f"{r['rows']:,} rows, {r['source_mb']} MB -> {r['target_mb']} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
