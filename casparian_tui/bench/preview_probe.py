"""Latency of the pattern preview and `files` queries on a synthetic catalog.

    python -m casparian_tui.bench.preview_probe [--files 1000000] [--backend duckdb sqlite]

Builds a deterministic catalog (N files over 1000 top folders x 37 sub
folders, 8 extensions, one rule tagging 1/8 of them) in a temp folder for
each backend, then times each query warm (median of --repeat runs) through
the real services and the DB actor, as the CLI and TUI call them.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.db.dialect import dialect_for
from casparian_tui.scout import catalog, preview, rules

PATTERNS = ["*.evtx", "**/*.log", "dir7*/**", "dir1/sub2/*.csv", "*[0-9]5.txt", "?ile_12345*", "no_such_thing_*"]
EXTS = ["evtx", "log", "csv", "txt", "json", "xml", "dat", "bin"]


def _fill_sql(backend: str, n: int) -> str:
    ext = "CASE i % 8 " + " ".join(f"WHEN {k} THEN '{e}'" for k, e in enumerate(EXTS)) + " END"
    parent = "'dir' || (i % 1000) || '/sub' || (i % 37)"
    name = f"'file_' || i || '.' || {ext}"
    cols = (
        "source_id, rel_path, parent_path, name, extension, size, mtime, status, first_seen_at, last_seen_at"
    )
    select = (
        f"SELECT 1, {parent} || '/' || {name}, {parent}, {name}, {ext}, (i * 7919) % 100000, "
        "1700000000000000 + i, 'pending', 0, 0"
    )
    return f"INSERT INTO scout_files ({cols}) {select} FROM {dialect_for(backend).series(n)}"


def build(db: Database, n: int) -> float:
    t0 = time.perf_counter()

    def fill(conn):
        conn.execute(
            "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('bench', '/bench', 0, 0)"
        )
        conn.execute(_fill_sql(conn.backend, n))
        rules.add_rule(conn, "*.csv", "csv")
        return rules.apply_rules(conn)

    db.write("build the probe catalog", fill)
    return time.perf_counter() - t0


def timed(db: Database, fn, repeat: int) -> tuple[float, object]:
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = db.read(fn)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def run(backend: str, n: int, repeat: int) -> list[tuple[str, float, str]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.resolve(db=Path(tmp) / f"probe.{backend}", backend=backend, env={}).with_(
            idle_grace_s=60.0
        )
        with Database(settings) as db:
            build_s = build(db, n)
        out.append(("build catalog + apply 1 rule", build_s * 1000, f"{n} files"))
        # Queries meet a catalog on disk, as a user does (the actor closes the
        # file when idle, which checkpoints it): reopen after building.
        with Database(settings) as db:
            for pat in PATTERNS:
                ms, p = timed(db, lambda c, pat=pat: preview.preview(c, pat), repeat)
                out.append((f"preview {pat}", ms, f"count={p.count}"))
            queries = {
                "files (default page, path sort)": (catalog.FileFilter(), "path", 0),
                "files --sort size": (catalog.FileFilter(), "size", 0),
                "files --offset 500000": (catalog.FileFilter(), "path", 500_000),
                "files --tag csv": (catalog.FileFilter(tag="csv"), "path", 0),
                "files --untagged --ext log": (catalog.FileFilter.build(untagged=True, extensions=["log"]), "path", 0),
                "files --glob 'dir9/**/*.json'": (catalog.FileFilter.build(patterns=["dir9/**/*.json"]), "path", 0),
            }
            for label, (flt, sort, offset) in queries.items():
                ms, rows = timed(db, lambda c, f=flt, s=sort, o=offset: catalog.list_files(c, f, sort=s, offset=o), repeat)
                out.append((label, ms, f"{len(rows)} rows"))
            ms, cnt = timed(db, lambda c: catalog.count_files(c, catalog.FileFilter()), repeat)
            out.append(("count all files", ms, str(cnt)))
            t0 = time.perf_counter()
            db.write("re-apply rules", lambda c: rules.apply_rules(c))
            out.append(("apply_rules (1 rule, all files)", (time.perf_counter() - t0) * 1000, ""))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--backend", nargs="+", default=["duckdb", "sqlite"], choices=["duckdb", "sqlite"])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    for backend in args.backend:
        print(f"\n{backend}, {args.files:,} files (median of {args.repeat}, warm, ms)")
        for label, ms, note in run(backend, args.files, args.repeat):
            print(f"  {label:<40} {ms:>10.1f}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
