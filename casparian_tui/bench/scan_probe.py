"""Scan speed and memory on a generated tree, against `find` on the same tree.

    python -m casparian_tui.bench.scan_probe [--files 100000] [--backend duckdb sqlite]
                                             [--million] [--tree-dir DIR] [--json]

Builds (or reuses) a deterministic tree with `make_tree`, warms the page
cache with one `find`, then for each backend, on a fresh database, times
through the real services and DB actor:
- scan: first scan + persist of the whole tree (files/s, and / find time);
- rescan: the same tree again, nothing changed;
- upsert: one 100K-row batch merged into an empty catalog (file_upsert alone);
- cancel: cancel() during a first scan until the walker and batch stop;
and `find DIR -printf '%p %s %T@\\n' > /dev/null` (best of 3).
`--million` also scans a 1M-file tree in a child process and reports its
wall time and peak RSS (the child's VmHWM).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa

from casparian_tui.config import Settings, db_file
from casparian_tui.db import Database
from casparian_tui.scout.file_merge import upsert_files
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source
from casparian_tui.scout.testtree import make_tree

SEED = 42


def ensure_tree(base: Path, n: int) -> Path:
    """The tree for n files under base, built once (a marker says it is complete)."""
    root = base / f"tree_{n}"
    marker = base / f"tree_{n}.done"
    if not marker.exists():
        t0 = time.perf_counter()
        make_tree(root, n, seed=SEED, depth=3, files_per_dir=100)
        marker.write_text(str(n))
        print(f"built {n:,}-file tree in {time.perf_counter() - t0:.1f} s: {root}", file=sys.stderr)
    return root


def time_find(root: Path, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(["find", str(root), "-printf", "%p %s %T@\\n"], stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def fresh_db(workdir: Path, backend: str) -> Database:
    path = db_file(workdir, backend, f"probe_{backend}")
    for suffix in ("", ".wal", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return Database(Settings.resolve(db=path, backend=backend, env={}))


def scan_once(db: Database, root: Path, batch_rows: int | None = None) -> tuple[float, object]:
    src = add_source(db, root, exist_ok=True)
    t0 = time.perf_counter()
    result = Scanner(db, src, batch_rows=batch_rows).run()
    return time.perf_counter() - t0, result


def upsert_100k(db: Database) -> float:
    n = 100_000
    names = [f"f{i}.txt" for i in range(n)]
    parents = [f"d{i % 10}/d{i // 1000}" for i in range(n)]
    batch = pa.table(
        {
            "rel_path": [p + "/" + f for p, f in zip(parents, names)],
            "parent_path": parents,
            "name": names,
            "extension": ["txt"] * n,
            "size": pa.array(range(n), pa.int64()),
            "mtime": pa.array([1_700_000_000_000_000] * n, pa.int64()),
            "file_uid": [f"1:{i}" for i in range(n)],
        }
    )
    t0 = time.perf_counter()
    db.write("probe upsert", lambda c: upsert_files(c, 999, 1, 0, batch))
    return time.perf_counter() - t0


def cancel_latency(db: Database, root: Path) -> float:
    """Seconds from cancel() (from another thread, as the TUI does) to the
    walker and the batch in flight stopping; cancelled after the first batch."""
    src = add_source(db, root, exist_ok=True)
    scanner = Scanner(db, src, progress_interval_s=0.01)
    persisted = threading.Event()
    scanner.on_progress = lambda p: persisted.set() if p.files_persisted else None
    canceller = threading.Thread(target=lambda: persisted.wait(60) and scanner.cancel())
    canceller.start()
    scanner.run()
    canceller.join()
    return scanner.stop_latency_s if scanner.stop_latency_s is not None else float("nan")


def probe_backend(workdir: Path, backend: str, root: Path, n: int, batch_rows: int | None = None) -> dict:
    db = fresh_db(workdir, backend)
    try:
        db.query_value("SELECT 1")  # create + migrate outside the timings
        first_s, first = scan_once(db, root, batch_rows)
        assert first.files_found == n and first.new == n, first
        re_s, again = scan_once(db, root, batch_rows)
        assert again.unchanged == n, again
        t0 = time.perf_counter()
        db.close()
        close_s = time.perf_counter() - t0
    finally:
        db.close()
    db = fresh_db(workdir, backend)
    try:
        up_s = upsert_100k(db)
    finally:
        db.close()
    db = fresh_db(workdir, backend)
    try:
        cancel_s = cancel_latency(db, root)
    finally:
        db.close()
    return {
        "backend": backend,
        "scan_s": round(first_s, 3),
        "scan_files_per_s": round(n / first_s),
        "rescan_s": round(re_s, 3),
        "rescan_files_per_s": round(n / re_s),
        "close_s": round(close_s, 3),
        "upsert_100k_s": round(up_s, 3),
        "cancel_stop_s": round(cancel_s, 3),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    Linux's ru_maxrss is carried across exec: a child started from a big
    parent (the bench, after building a 1M-file tree) reports the parent's peak.
    VmHWM belongs to the program's own address space."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def million_child(workdir: Path, backend: str, root: Path, rescan: bool = True) -> dict:
    """Scan in a child process so its peak RSS is the scan's alone (then, with
    `rescan`, scan again and time the close)."""
    code = (
        "import json, sys, time\n"
        "from pathlib import Path\n"
        "from casparian_tui.bench.scan_probe import fresh_db, peak_rss_mb, scan_once\n"
        f"db = fresh_db(Path({str(workdir)!r}), {backend!r})\n"
        "db.query_value('SELECT 1')\n"
        f"s, r = scan_once(db, Path({str(root)!r}))\n"
        "out = {'files': r.files_found, 'scan_s': round(s, 3), 'peak_rss_mb': peak_rss_mb()}\n"
        f"if {rescan!r}:\n"
        f"    s2, r2 = scan_once(db, Path({str(root)!r}))\n"
        "    t0 = time.perf_counter(); db.close(); c = time.perf_counter() - t0\n"
        "    out.update(rescan_s=round(s2, 2), peak_rss_with_rescan_mb=peak_rss_mb(), close_s=round(c, 2))\n"
        "else:\n"
        "    db.close()\n"
        "print(json.dumps(out))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {"backend": backend, **json.loads(out.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--backend", nargs="+", default=["duckdb", "sqlite"], choices=["duckdb", "sqlite"])
    ap.add_argument("--million", action="store_true", help="also scan a 1M-file tree (builds it once, ~1 min)")
    ap.add_argument("--tree-dir", type=Path, default=Path(tempfile.gettempdir()) / "casparian_scan_probe")
    ap.add_argument("--batch-rows", type=int, default=None, help="walker batch size (default: the scanner's)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    args.tree_dir.mkdir(parents=True, exist_ok=True)
    root = ensure_tree(args.tree_dir, args.files)
    time_find(root, repeat=1)  # warm the cache
    find_s = time_find(root)
    rows = [probe_backend(args.tree_dir, b, root, args.files, args.batch_rows) for b in args.backend]
    for r in rows:
        r["scan_vs_find"] = round(r["scan_s"] / find_s, 2)
    report = {"files": args.files, "find_s": round(find_s, 3), "backends": rows}
    if args.million:
        big = ensure_tree(args.tree_dir, 1_000_000)
        time_find(big, repeat=1)
        report["find_1m_s"] = round(time_find(big, repeat=1), 2)
        report["million"] = [million_child(args.tree_dir, b, big) for b in args.backend]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"tree: {args.files:,} files; find -printf: {find_s:.3f} s")
    print(
        f"{'backend':8} {'scan s':>7} {'files/s':>9} {'x find':>7} {'rescan s':>9} {'close s':>8}"
        f" {'upsert100k s':>13} {'cancel s':>9}"
    )
    for r in rows:
        print(
            f"{r['backend']:8} {r['scan_s']:7.3f} {r['scan_files_per_s']:9,} {r['scan_vs_find']:7.2f}"
            f" {r['rescan_s']:9.3f} {r['close_s']:8.3f} {r['upsert_100k_s']:13.3f} {r['cancel_stop_s']:9.3f}"
        )
    for m in report.get("million", []):
        print(
            f"1M files [{m['backend']}]: scan {m['scan_s']} s (peak RSS {m['peak_rss_mb']} MB), rescan"
            f" {m['rescan_s']} s (peak RSS {m['peak_rss_with_rescan_mb']} MB), close {m['close_s']} s"
            f" (find: {report['find_1m_s']} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
