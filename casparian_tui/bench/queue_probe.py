"""Probe: job claim+complete throughput per backend, and `casparian run` files/s.

    python -m casparian_tui.bench.queue_probe [--jobs 20000] [--batch 500] [--files 10000] [--workers 2]

Claim+complete: enqueue N jobs, then time claim_batch + complete_batch in
batches (each a write transaction through the DB actor, as the runner does).
On a server, `claim_complete_workers` does it from several processes at once
(each one `--claim-worker DSN`), as workers on many hosts would.
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



def _jobs(n: int) -> pa.Table:
    return pa.table({
        "file_id": pa.array(range(n), pa.int64()), "parser_name": ["p"] * n,
        "parser_version": ["1"] * n, "parser_fingerprint": ["f"] * n,
    })


def _drain(db: Database, owner: str, batch: int) -> int:
    """Claim and complete batches until the queue is empty; the jobs done."""
    done = 0
    while True:
        claimed = db.write("claim", lambda c: q.claim_batch(c, owner, batch))
        if not claimed:
            return done
        comp = [q.Completion(j.id, j.attempts, 1, 0, "[]") for j in claimed]
        done += len(db.write("complete", lambda c: q.complete_batch(c, owner, comp)))


def claim_complete(backend: str, folder: Path, jobs: int, batch: int) -> dict:
    settings = Settings.resolve(db=folder / f"probe.{backend}", backend=backend, env={})
    db = Database(settings)
    try:
        db.write("enqueue", lambda c: q.enqueue(c, _jobs(jobs)))
        t0 = time.perf_counter()
        done = _drain(db, "probe", batch)
        elapsed = time.perf_counter() - t0
    finally:
        db.close()
    return {"backend": backend, "jobs": done, "seconds": round(elapsed, 3), "jobs_per_s": round(done / elapsed)}


def claim_complete_workers(dsn: str, jobs: int, batch: int, workers: int) -> dict:
    """`workers` processes claim and complete from one queue on the server at `dsn`.

    Each connects first and says "ready"; the clock runs from the common "go"
    to the last one finding the queue empty (their own wall clocks: one host).
    """
    with Database(Settings.resolve(db=dsn, backend="postgres", env={})) as db:
        db.write("enqueue", lambda c: q.enqueue(c, _jobs(jobs)))
    cmd = [sys.executable, "-m", "casparian_tui.bench.queue_probe", "--claim-worker", dsn, "--batch", str(batch)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    try:
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a claim worker did not start")
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(p.stdout.readline()) for p in procs]
    finally:
        for p in procs:
            p.stdin.close()
            if p.wait(timeout=60):
                raise RuntimeError(f"a claim worker exited with {p.returncode}")
    done = sum(r["jobs"] for r in results)
    elapsed = max(r["end"] for r in results) - min(r["start"] for r in results)
    if done != jobs:
        raise RuntimeError(f"{done} of {jobs} jobs completed")
    return {"backend": "postgres", "workers": workers, "jobs": done, "seconds": round(elapsed, 3),
            "jobs_per_s": round(done / elapsed), "per_worker": [r["jobs"] for r in results]}


def _claim_worker(dsn: str, batch: int) -> None:
    with Database(Settings.resolve(db=dsn, backend="postgres", env={})) as db:
        db.read(lambda c: None)  # connected and schema checked before the clock starts
        print("ready", flush=True)
        sys.stdin.readline()
        start = time.time()
        done = _drain(db, f"bench-{os.getpid()}", batch)
        end = time.time()
    print(json.dumps({"jobs": done, "start": start, "end": end}), flush=True)


def run_files(folder: Path, files: int, workers: int, backend: str, db: str | None = None) -> dict:
    data = folder / f"csv_{backend}"
    data.mkdir()
    for i in range(files):
        (data / f"f{i:05d}.csv").write_text(f"id,name,value\n{i},a{i},{i * 2}\n{i + 1},b{i},{i * 3}\n")
    env = dict(os.environ, CASPARIAN_HOME=str(folder / f"home_{backend}"))
    cmd = [sys.executable, "-m", "casparian_tui", "run", str(sample_parsers_dir() / "csv_rows.py"), str(data),
           "--json", "--workers", str(workers), "--backend", backend, *(["--db", db] if db else [])]
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
    ap.add_argument("--claim-worker", metavar="DSN", help=argparse.SUPPRESS)  # one of claim_complete_workers'
    args = ap.parse_args()
    if args.claim_worker:
        _claim_worker(args.claim_worker, args.batch)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backend in ("duckdb", "sqlite"):
            print(json.dumps({"probe": "claim+complete", **claim_complete(backend, folder, args.jobs, args.batch)}))
        for backend in ("duckdb", "sqlite"):
            print(json.dumps({"probe": "run csv_rows", **run_files(folder, args.files, args.workers, backend)}))


if __name__ == "__main__":
    main()
