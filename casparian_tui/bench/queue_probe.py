"""Probe: job claim+complete throughput per backend, and `casparian run` files/s.

    python -m casparian_tui.bench.queue_probe [--jobs 20000] [--batch 500] [--files 10000] [--workers 2]

Claim+complete: enqueue N jobs, then time claim_batch + complete_batch in
batches (each a write transaction through the DB actor, as the runner does).
Run: 10,000 small CSV files through the sample csv_rows parser with the real
CLI in a subprocess (end to end: registering, queuing, parsing, Parquet).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from casparian_tui.assets import sample_parsers_dir
from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.sentinel import queue as q



def claim_complete(backend: str, folder: Path, jobs: int, batch: int) -> dict:
    settings = Settings.resolve(db=folder / f"probe.{backend}", backend=backend, env={})
    db = Database(settings)
    try:
        table = pa.table({
            "file_id": pa.array(range(jobs), pa.int64()), "parser_name": ["p"] * jobs,
            "parser_version": ["1"] * jobs, "parser_fingerprint": ["f"] * jobs,
        })
        db.write("enqueue", lambda c: q.enqueue(c, table))
        t0 = time.perf_counter()
        done = 0
        while True:
            claimed = db.write("claim", lambda c: q.claim_batch(c, "probe", batch))
            if not claimed:
                break
            comp = [q.Completion(j.id, j.attempts, 1, 0, "[]") for j in claimed]
            done += len(db.write("complete", lambda c: q.complete_batch(c, "probe", comp)))
        elapsed = time.perf_counter() - t0
    finally:
        db.close()
    return {"backend": backend, "jobs": done, "seconds": round(elapsed, 3), "jobs_per_s": round(done / elapsed)}


def run_files(folder: Path, files: int, workers: int, backend: str) -> dict:
    data = folder / f"csv_{backend}"
    data.mkdir()
    for i in range(files):
        (data / f"f{i:05d}.csv").write_text(f"id,name,value\n{i},a{i},{i * 2}\n{i + 1},b{i},{i * 3}\n")
    env = dict(os.environ, CASPARIAN_HOME=str(folder / f"home_{backend}"))
    cmd = [sys.executable, "-m", "casparian_tui", "run", str(sample_parsers_dir() / "csv_rows.py"), str(data),
           "--json", "--workers", str(workers), "--backend", backend]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(res.stderr)
    out = json.loads(res.stdout)
    return {"backend": backend, "files": out["completed"], "rows": out["rows"], "part_files": len(out["outputs"]),
            "seconds": round(elapsed, 2), "files_per_s": round(out["completed"] / elapsed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backend in ("duckdb", "sqlite"):
            print(json.dumps({"probe": "claim+complete", **claim_complete(backend, folder, args.jobs, args.batch)}))
        for backend in ("duckdb", "sqlite"):
            print(json.dumps({"probe": "run csv_rows", **run_files(folder, args.files, args.workers, backend)}))


if __name__ == "__main__":
    main()
