"""How much a reader in another process costs a big scan, and how fast it is answered.

    python -m casparian_tui.bench.coexist_probe [--files 1000000] [--loops 2] [--loop-sleep 0.3]
        [--interval 0.5] [--turn S] [--repeat 1]

Scans the same tree into a fresh DuckDB file twice per repeat: alone, then
with what users do beside it: `--loops` shell-like loops that each run a real
`casparian files --limit 5 --json` process, sleep `--loop-sleep` seconds, and
again (wall time per call, interpreter start-up included), plus one
long-lived reader process that calls the CLI's own `main` in-process every
`--interval` seconds (no start-up: what a served request costs). Prints the
scan times, the slowdown and both readers' latencies (p50/p95/max), and one
JSON line.

The tree is reused from /tmp/casparian_scan_probe/tree_<n> (scan_probe makes
it) or made with `make_tree`. `--turn` overrides the sharing policy's TURN_S (the
shortest turn) in the scan process, to measure the trade-off between reader
latency and scan slowdown.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from casparian_tui.scout.testtree import make_tree

TREES = Path("/tmp/casparian_scan_probe")

SCAN = """
import sys
from casparian_tui.db import sharing
if sys.argv[1] != "-":
    sharing.TURN_S = float(sys.argv[1])
from casparian_tui.cli.main import main
sys.exit(main(sys.argv[2:]))
"""

READER = """
import contextlib, io, json, sys, time
from casparian_tui.cli.main import main
interval = float(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
out = []
while True:
    t = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        rc = main(["files", "--limit", "5", "--json", "--wait", "60"])
    took = time.monotonic() - t
    out.append([round(took, 4), rc])
    print(json.dumps(out[-1]), flush=True)
    time.sleep(max(0.0, interval - took))
"""


def tree_for(n: int) -> Path:
    cached = TREES / f"tree_{n}"
    if (TREES / f"tree_{n}.done").exists():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    print(f"making a {n:,}-file tree in {cached} ...", file=sys.stderr)
    make_tree(cached, n)
    (TREES / f"tree_{n}.done").touch()
    return cached


def _cli_loop(env: dict, pause: float, running, out: list) -> None:
    """One `while true; do casparian files --limit 5 --json; sleep 0.3; done` until `running()` is False."""
    while running():
        t = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "casparian_tui", "files", "--limit", "5", "--json",
                               "--wait", "60"], env=env, capture_output=True, text=True)
        out.append((round(time.monotonic() - t, 4), proc.returncode))
        time.sleep(pause)


def scan_once(tree: Path, turn: str, interval: float | None, loops: int = 0, loop_sleep: float = 0.3) -> dict:
    home = Path(tempfile.mkdtemp(prefix="coexist_probe_"))
    env = dict(os.environ, CASPARIAN_HOME=str(home))
    env.pop("CASPARIAN_DB", None)
    try:
        subprocess.run([sys.executable, "-m", "casparian_tui", "source", "list"], env=env, check=True,
                       capture_output=True)
        reader = None
        if interval is not None:
            reader = subprocess.Popen([sys.executable, "-c", READER, str(interval)], env=env, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            assert reader.stdout.readline().strip() == "ready"
        started = time.monotonic()
        scan = subprocess.Popen([sys.executable, "-c", SCAN, turn, "scan", str(tree), "--json"], env=env,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if reader is not None:
            reader.stdin.write("go\n")
            reader.stdin.flush()
        cli_calls: list = []
        threads = [threading.Thread(target=_cli_loop, args=(env, loop_sleep, lambda: scan.poll() is None, cli_calls))
                   for _ in range(loops)]
        for thread in threads:
            thread.start()
        out, err = scan.communicate()
        wall = time.monotonic() - started
        for thread in threads:
            thread.join()
        if any(rc != 0 for _, rc in cli_calls):
            raise SystemExit(f"a casparian files call failed: exit codes {sorted({rc for _, rc in cli_calls})}")
        if scan.returncode != 0:
            raise SystemExit(f"scan failed: {err}")
        try:
            result = json.loads(out)
        except ValueError:
            raise SystemExit(f"scan printed no JSON summary: {out[:500]!r} {err[:500]!r}")
        latencies = []
        if reader is not None:
            reader.kill()
            rest = reader.communicate()[0]
            for line in rest.splitlines():
                try:
                    took, rc = json.loads(line)
                except ValueError:
                    continue  # the last line, cut by the kill
                if rc != 0:
                    raise SystemExit(f"a reader call failed with exit code {rc}")
                latencies.append(took)
        return {"scan_s": result["duration_s"], "wall_s": round(wall, 3), "files": result["files_found"],
                "latencies": latencies, "cli_latencies": [took for took, _ in cli_calls]}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between the in-process reader's calls")
    ap.add_argument("--loops", type=int, default=2, help="loops running real `casparian files` processes")
    ap.add_argument("--loop-sleep", type=float, default=0.3, help="seconds each loop sleeps between calls")
    ap.add_argument("--turn", default="-", help="TURN_S for the scan process (default: db/sharing.py's)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    tree = tree_for(args.files)
    alone, shared, latencies, cli = [], [], [], []
    scan_once(tree, args.turn, None)  # warm the page cache; not counted
    for _ in range(args.repeat):
        alone.append(scan_once(tree, args.turn, None)["scan_s"])
        run = scan_once(tree, args.turn, args.interval, args.loops, args.loop_sleep)
        shared.append(run["scan_s"])
        latencies.extend(run["latencies"])
        cli.extend(run["cli_latencies"])
    base, with_reader = statistics.median(alone), statistics.median(shared)
    summary = {
        "files": args.files, "interval_s": args.interval, "turn_s": args.turn, "repeat": args.repeat,
        "scan_alone_s": alone, "scan_with_reader_s": shared,
        "slowdown_pct": round(100 * (with_reader / base - 1), 1),
        "reader_calls": len(latencies),
        "reader_p50_s": round(pct(latencies, 50), 3) if latencies else None,
        "reader_p95_s": round(pct(latencies, 95), 3) if latencies else None,
        "reader_max_s": round(max(latencies), 3) if latencies else None,
        "cli_calls": len(cli),
        "cli_p50_s": round(pct(cli, 50), 3) if cli else None,
        "cli_p95_s": round(pct(cli, 95), 3) if cli else None,
        "cli_max_s": round(max(cli), 3) if cli else None,
    }
    print(f"scan of {args.files:,} files alone: {base:.2f} s; with a reader every {args.interval:g} s: "
          f"{with_reader:.2f} s ({summary['slowdown_pct']:+.1f} %)")
    if latencies:
        print(f"reader: {len(latencies)} calls, p50 {summary['reader_p50_s']:.3f} s, "
              f"p95 {summary['reader_p95_s']:.3f} s, max {summary['reader_max_s']:.3f} s")
    if cli:
        print(f"casparian files processes ({args.loops} loops, {args.loop_sleep:g} s apart): {len(cli)} calls, "
              f"p50 {summary['cli_p50_s']:.3f} s, p95 {summary['cli_p95_s']:.3f} s, max {summary['cli_max_s']:.3f} s")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
