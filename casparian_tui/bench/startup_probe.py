"""How long a user waits for a CLI call: the whole process, start-up included.

    python -m casparian_tui.bench.startup_probe [--runs 10]

Times `casparian --version` against a bare `python -c pass` (interleaved, so
both meet the same machine load), and `casparian files --limit 5 --json` on a
given database, each as a real child process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "casparian_tui"]


def wall_s(argv: list[str], env: dict | None = None) -> float:
    """Seconds from spawn to exit of one process, which must succeed."""
    t0 = time.perf_counter()
    res = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {res.returncode}: {res.stderr[-500:]}")
    return elapsed


def version_vs_bare(runs: int) -> dict:
    """Pairs of (bare interpreter, `casparian --version`), after one warm-up pair."""
    bare, version = [], []
    for i in range(runs + 1):
        b = wall_s([sys.executable, "-c", "pass"])
        v = wall_s(CLI + ["--version"])
        if i:
            bare.append(b)
            version.append(v)
    return {"bare_s": bare, "version_s": version, "ratios": [v / b for v, b in zip(version, bare)]}


def files_json(db_path: Path, backend: str, runs: int) -> list[float]:
    """`casparian files --limit 5 --json` on an existing catalog, after one warm-up."""
    env = dict(os.environ)
    for var in ("CASPARIAN_DB", "CASPARIAN_BACKEND", "CASPARIAN_READONLY"):
        env.pop(var, None)
    argv = CLI + ["--db", str(db_path), "--backend", backend, "files", "--limit", "5", "--json"]
    wall_s(argv, env)
    return [wall_s(argv, env) for _ in range(runs)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--db", type=Path, help="also time `files --limit 5 --json` on this database")
    ap.add_argument("--backend", default="duckdb")
    args = ap.parse_args()
    res = version_vs_bare(args.runs)
    out = {k: statistics.median(v) for k, v in res.items()}
    if args.db:
        out["files_json_s"] = statistics.median(files_json(args.db, args.backend, args.runs))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
