"""Test helper: a small catalog with something in every table, built by the real services,
and a full, order-independent dump of a database file to compare copies with."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa

from sentinel_rows import make_parser

from casparian_tui.contracts import store as contracts
from casparian_tui.db import duckdb_backend, sqlite_backend
from casparian_tui.db.transfer import table_order
from casparian_tui.scout import hashing, hashsets, rules, tags
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source
from casparian_tui.scout.testtree import make_tree
from casparian_tui.sentinel import registry
from casparian_tui.sentinel import backtest as bt
from casparian_tui.sentinel import jobs
from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel.plugin import load_parser

AWKWARD = [
    b"caf\xe9 latin1.csv",  # not UTF-8
    b"line\nbreak.csv",
    b"quo'te \"double\".csv",
    b"100%.csv",
    b"under_score.log",
    "ünïcödé 日本.csv".encode(),
    "\uf8ff escape char.csv".encode(),  # the path codec's own escape character
]


def build_catalog(db, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    make_tree(root, 120, seed=3, depth=2, files_per_dir=30)
    for raw in AWKWARD:
        fd = os.open(os.path.join(os.fsencode(root), raw), os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"a,b\n1,2\n")
        os.close(fd)
    src = add_source(db, root)
    assert Scanner(db, src).run().status == "completed"
    hashing.hash_source(db, src, "sha256", workers=1)
    # a rescan that finds a changed and a deleted file (scout_scan_changes)
    plain = sorted(p for p in root.rglob("*.csv") if p.is_file() and p.name.isascii())
    with open(plain[0], "ab") as fh:
        fh.write(b"3,4\n")
    plain[1].unlink()
    assert Scanner(db, src).run().status == "completed"
    (tmp_path / "second").mkdir()
    add_source(db, tmp_path / "second", name="second")  # a source never scanned: NULL last_scan_at

    def tag_and_queue(c):
        rules.add_rule(c, "*.csv", "csv", priority=2, name="csv files")
        rules.add_rule(c, "**/*.log", "logs", enabled=False)
        rules.apply_rules(c)
        ids = [r[0] for r in c.query_all("SELECT id FROM scout_files ORDER BY id")]
        tags.tag_file_ids(c, ids[:5], "keep")
        tags.untag_file_ids(c, ids[:1], "keep")
        n = 12
        new = q.enqueue(c, pa.table({
            "file_id": pa.array(ids[:n], pa.int64()), "parser_name": ["p"] * n,
            "parser_version": ["1.0"] * n, "parser_fingerprint": ["fp"] * n,
            "priority": pa.array([i % 3 for i in range(n)], pa.int32()),
        }))
        claimed = q.claim_batch(c, "worker-1", 8)
        by_id = {j.id: j for j in claimed}
        ids_claimed = sorted(by_id)
        q.complete_batch(c, "worker-1", [q.Completion(i, by_id[i].attempts, 3, 1, '["/out/a.parquet"]')
                                         for i in ids_claimed[:3]])
        q.fail_batch(c, "worker-1", [q.Failure(ids_claimed[3], by_id[ids_claimed[3]].attempts, "boom ✗",
                                               "Traceback:\n  line 1", permanent=True)])
        q.fail_batch(c, "worker-1", [q.Failure(ids_claimed[4], by_id[ids_claimed[4]].attempts, "again")])
        # ids_claimed[5:] stay RUNNING; the rest QUEUED except one cancelled
        jobs.cancel(c, new[-1])
        contracts.propose(c, "p", "rows", {"a": "string", "b": "int64"})
        contracts.approve(c, "p.rows")
        contracts.propose(c, "p", "rows", {"a": "string", "b": "int64", "c": "double"})

    db.write("build a test catalog", tag_and_queue)
    spec = load_parser(make_parser(tmp_path, "if name.startswith('100'): raise ValueError('no good')"))
    bt.run_backtest(db, spec, "csv", workers=1)

    def workers(c):
        registry.register(c, spec, "host-a")
        registry.worker_started(c, "host-a:41:abc", "host-a", 41, ["p"])
        registry.worker_started(c, "host-b:42:def", "host-b", 42, [])
        registry.worker_stopped(c, "host-b:42:def", 7)

    db.write("register a parser and workers", workers)

    digest = db.query_value("SELECT hash FROM scout_file_hashes ORDER BY file_id LIMIT 1")
    db.write("a hash set and its rule", lambda c: (hashsets.import_set(c, "known", pa.array([digest]), "test"),
                                                   hashsets.add_rule(c, "known", "known")))


def open_file(backend: str, path: Path):
    cls = duckdb_backend.DuckDBConnection if backend == "duckdb" else sqlite_backend.SQLiteConnection
    return cls(Path(path), read_only=True)


def _key(row):
    return [(v is None, 0 if v is None else int(v) if isinstance(v, bool) else v) for v in row]


def dump(backend: str, path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, booleans as 0/1 (SQLite's form)."""
    conn = open_file(backend, path)
    try:
        out = {}
        for table in sorted(conn.table_names()):
            rows = conn.query_all(f"SELECT * FROM {table}")
            out[table] = sorted((tuple(int(v) if isinstance(v, bool) else v for v in r) for r in rows), key=_key)
        return out
    finally:
        conn.close()


def known_tables() -> set[str]:
    return set(table_order())
