"""One database file, many processes (issue 6): the CLI, the TUI and runs side by side.

Every test here uses real processes: the real `casparian` CLI in subprocesses,
and small helper scripts where a test needs a process that behaves badly
(holds the lease, gets killed). See `casparian_tui/db/turns.py` for the protocol.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database, trace
from casparian_tui.db.lease import read_holder, record_path
from casparian_tui.scout.testtree import make_tree

from conftest import REPO, run_cli
from waiting import wait_for

# A reader process that has done its imports and waits for "go": the clock
# then measures what the issue asks about — how long `casparian files` takes
# to answer while another process writes — not interpreter start-up on a
# busy 2-core machine.
READER = """
import contextlib, io, json, sys, time
from casparian_tui.cli.main import main
args = sys.argv[1:]
print("ready", flush=True)
sys.stdin.readline()
started = time.time(); t = time.monotonic()
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = main(args)
latency = time.monotonic() - t
print(json.dumps({"rc": rc, "latency": latency, "started": started, "ended": time.time(),
                  "stdout": out.getvalue()}), flush=True)
"""


def _db_path(home: Path, backend: str) -> Path:
    return home / ("casparian_flow.duckdb" if backend == "duckdb" else "casparian_flow.sqlite")


def _popen_cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "casparian_tui", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _start_readers(n: int, *args: str) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", READER, *args], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(n)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    return procs


def _holder_pid(db_path: Path) -> int | None:
    holder = read_holder(db_path)
    return holder.get("pid") if holder else None


# ---- 1. readers answer during a 400K-file scan -------------------------------------------------

def test_files_answers_during_a_400k_file_scan(tmp_path, _isolated_home, monkeypatch):
    # The issue asks for at least 200K; a 200K scan now fits in about one
    # writer turn, so the readers would mostly wait for its end instead of
    # testing that it steps aside for them.
    tree = tmp_path / "tree"
    make_tree(tree, 400_000, seed=6)
    # Write the new tree (and earlier tests' files) back to disk now: its
    # write-back otherwise lands in the scan's checkpoint fsyncs (a 0.5 s close
    # in a clean-clone run of the suite), which is the test's set-up, not the
    # turn-taking under test.
    os.sync()
    db_path = _db_path(_isolated_home, "duckdb")
    trace_path = tmp_path / "db-trace.jsonl"  # every process's actor timeline, printed below
    monkeypatch.setenv("CASPARIAN_DB_TRACE", str(trace_path))
    readers = _start_readers(10, "files", "--limit", "5", "--json", "--wait", "30")
    scan = _popen_cli("scan", str(tree), "--json")
    try:
        # Start once the scan is walking (its lease record says so): before
        # that the file may not exist yet, and a reader would wait to create it.
        def scanning():
            holder = read_holder(db_path) or {}
            return holder.get("pid") == scan.pid and holder.get("activity", "").startswith("scanning")

        assert wait_for(scanning, timeout=30, interval=0.002), scan.stderr.read()
        for r in readers:  # ten calls, 100 ms apart, all while the scan runs
            r.stdin.write("go\n")
            r.stdin.flush()
            time.sleep(0.1)
        answers = []
        for r in readers:
            out, err = r.communicate(timeout=60)
            assert r.returncode == 0, err
            answers.append(json.loads(out.strip().splitlines()[-1]))
        scan_out, scan_err = scan.communicate(timeout=120)
    finally:
        for p in [scan, *readers]:
            if p.poll() is None:
                p.kill()
    assert scan.returncode == 0, scan_err
    result = json.loads(scan_out)
    assert (result["files_found"], result["new"], result["errors"]) == (400_000, 400_000, [])
    with Database(Settings.resolve(db=db_path, read_only=True, env={})) as db:
        live, finished_at = db.read(lambda c: (
            c.query_value("SELECT count(*) FROM scout_files WHERE deleted_at IS NULL"),
            c.query_value("SELECT max(finished_at) FROM scout_scan_runs")))
    assert live == 400_000
    latencies = sorted(a["latency"] for a in answers)
    print("reader latencies (s):", [round(x, 3) for x in latencies])
    t0 = min(a["started"] for a in answers)
    print("scan end", round(finished_at / 1e6 - t0, 3), "readers (start, end):",
          [(round(a["started"] - t0, 3), round(a["ended"] - t0, 3)) for a in answers])
    names = {scan.pid: "scan", **{r.pid: f"reader{i}" for i, r in enumerate(readers)}}
    print("timeline (s from the first reader's start):")
    for e in trace.read(trace_path):
        rest = {k: v for k, v in e.items() if k not in ("t", "pid", "event")}
        print(f"  {e['t'] - t0:7.3f} {names.get(e['pid'], e['pid']):>8} {e['event']:8} {rest}")
    for a in answers:
        assert a["rc"] == 0, a
        assert len(json.loads(a["stdout"])) <= 5
        assert a["started"] < finished_at / 1e6, "a reader started after the scan had ended: no overlap tested"
    # How fast is `casparian bench coexist`'s to judge (a busy machine stretches
    # any bound); here: most answers came while the scan still ran, so they were
    # served by it or it stepped aside for them.
    assert sum(a["ended"] < finished_at / 1e6 for a in answers) >= 5, (answers, finished_at)


# ---- 4. a holder that never steps aside ---------------------------------------------------------

HOLD_LEASE = """
import sys
from pathlib import Path
from casparian_tui.db.lease import WriterLease
lease = WriterLease(Path(sys.argv[1]), "casparian scan /evidence/host1")
assert lease.acquire(timeout=10)
print("held", flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
def test_write_command_exits_3_naming_a_holder_that_never_steps_aside(backend, _isolated_home, cli):
    assert cli("--backend", backend, "source", "list").returncode == 0  # creates the database
    db_path = _db_path(_isolated_home, backend)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LEASE, str(db_path)], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        out = cli("--backend", backend, "rule", "add", "*.log", "--tag", "logs", "--wait", "1")
        took = time.monotonic() - started
    finally:
        holder.communicate("\n", timeout=10)
    assert out.returncode == 3, out.stderr
    assert took >= 1.0  # it did wait as long as it was told
    first, hint = out.stderr.strip().splitlines()[:2]
    assert first.startswith(f"error: Database is locked by another process: {db_path} — held by PID {holder.pid}: "
                            "casparian scan /evidence/host1 (since "), first
    assert "--wait N" in hint and "--read-only" in hint and f"stop PID {holder.pid}" in hint, hint
    assert "Traceback" not in out.stderr
    # once the holder is gone the same command goes through at once
    assert cli("--backend", backend, "rule", "add", "*.log", "--tag", "logs", "--wait", "0").returncode == 0


# ---- 5. kill -9 of the holder in the middle of a scan --------------------------------------------

SLOW_SCAN = """
import sys
from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source
s = Settings.resolve(backend=sys.argv[2], command="casparian scan (small batches)")
db = Database(s)
src = add_source(db, sys.argv[1], exist_ok=True)
def progress(p):
    print(p.files_persisted, flush=True)
# small batches: many commits, so the kill lands between and inside them
Scanner(db, src, batch_rows=500, progress_interval_s=0.01, on_progress=progress).run()
print("finished", flush=True)
"""


@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
def test_kill_9_mid_scan_leaves_nothing_locked_and_a_consistent_catalog(backend, tmp_path, _isolated_home, cli):
    n = 40_000
    tree = tmp_path / "tree"
    make_tree(tree, n, seed=5)
    db_path = _db_path(_isolated_home, backend)
    scan = subprocess.Popen([sys.executable, "-c", SLOW_SCAN, str(tree), backend], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in scan.stdout:  # kill once a few batches have committed, well before the end
            assert line.strip() != "finished", "the scan ended before it could be killed"
            if int(line) >= 5_000:
                break
        assert _holder_pid(db_path) == scan.pid
        os.kill(scan.pid, signal.SIGKILL)
        scan.wait(10)
    finally:
        if scan.poll() is None:
            scan.kill()
    # the dead holder's record is still on disk, and ignored
    assert json.loads(record_path(db_path).read_text())["pid"] == scan.pid
    assert read_holder(db_path) is None
    started = time.monotonic()
    listed = cli("--backend", backend, "--wait", "0", "files", "--limit", "5", "--json")
    assert listed.returncode == 0, listed.stderr  # no waiting: nothing holds the file any more
    assert time.monotonic() - started < 10
    with Database(Settings.resolve(db=db_path, backend=backend, env={}, command="casparian after the kill")) as db:
        # a new writer replaces the stale record with its own
        assert db.write("look at the record", lambda c: read_holder(db_path)["pid"]) == os.getpid()
        mid = db.read(_catalog_state)
    assert 0 < mid["live"] < n and mid["dupes"] == 0 and mid["deleted"] == 0, mid
    rescan = cli("--backend", backend, "--wait", "0", "scan", "tree", "--json")
    assert rescan.returncode == 0, rescan.stderr
    result = json.loads(rescan.stdout)
    assert result["files_found"] == n and result["deleted"] == 0 and result["errors"] == []
    assert result["new"] + result["unchanged"] + result["changed"] == n
    with Database(Settings.resolve(db=db_path, backend=backend, read_only=True, env={})) as db:
        after = db.read(_catalog_state)
        runs = db.query_all("SELECT status FROM scout_scan_runs ORDER BY id")
    assert after == {"live": n, "dupes": 0, "deleted": 0}
    assert [r[0] for r in runs] == ["interrupted", "completed"]


def _catalog_state(conn) -> dict:
    return {
        "live": conn.query_value("SELECT count(*) FROM scout_files WHERE deleted_at IS NULL"),
        "dupes": conn.query_value("SELECT count(*) FROM (SELECT source_id, rel_path FROM scout_files "
                                  "GROUP BY source_id, rel_path HAVING count(*) > 1) d"),
        "deleted": conn.query_value("SELECT count(*) FROM scout_files WHERE deleted_at IS NOT NULL"),
    }


# ---- 6. read-only mode ---------------------------------------------------------------------------

WRITER = """
import sys, time
import pyarrow as pa
from casparian_tui.config import Settings
from casparian_tui.db import Database
s = Settings.resolve(db=sys.argv[1], backend=sys.argv[2], env={}, command="casparian busy writer")
db = Database(s)
batch = pa.table({"job_id": list(range(20000)), "event_at": [0]*20000, "event": ["e"]*20000})
db.write("log events", lambda c: c.bulk_insert("cf_job_events", batch))
print("writing", flush=True)
while True:  # until killed: one batch after another, never idle
    db.write("log events", lambda c: c.bulk_insert("cf_job_events", batch))
"""


@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
def test_read_only_refuses_writes_and_reads_while_another_process_writes(backend, tmp_path, _isolated_home, cli):
    folder = tmp_path / "docs"
    make_tree(folder, 50, seed=1)
    assert cli("--backend", backend, "scan", str(folder), "--json").returncode == 0
    db_path = _db_path(_isolated_home, backend)
    refusals = [
        (("--read-only", "rule", "add", "*.txt", "--tag", "text"), {}),
        (("scan", "docs"), {"CASPARIAN_READONLY": "1"}),
        (("--read-only", "source", "add", str(folder), "--name", "again"), {}),
    ]
    for args, env in refusals:
        out = cli("--backend", backend, *args, env=env)
        assert out.returncode == 4, (args, out.stderr)
        assert out.stderr.startswith("error: Refused in read-only mode: cannot "), out.stderr
        assert "Traceback" not in out.stderr
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), backend], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        for _ in range(3):
            assert _holder_pid(db_path) == writer.pid
            out = cli("--backend", backend, "--read-only", "files", "--limit", "5", "--json", "--wait", "10")
            assert out.returncode == 0, out.stderr
            assert len(json.loads(out.stdout)) == 5
        assert writer.poll() is None  # still writing: the reads came in between its batches
    finally:
        writer.kill()
        writer.wait(10)


# ---- 3. two runs over the same tagged files ----------------------------------------------------

SLOW_PARSER = '''
import time
NAME = "slow_rows"
VERSION = "1.0"
OUTPUTS = {"slow_rows": {"n": "int64", "text": "string"}}

def parse(path):
    time.sleep(0.01)  # long enough that both runs are busy at the same time
    with open(path) as f:
        return [{"n": i, "text": line.strip()} for i, line in enumerate(f)]
'''


def test_two_runs_on_one_duckdb_file_complete_every_job_exactly_once(tmp_path, _isolated_home, cli):
    import pyarrow.dataset as ds

    n = 300
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(n):
        (folder / f"n{i:03d}.txt").write_text(f"first {i}\nsecond {i}\n")
    parser = tmp_path / "slow_rows.py"
    parser.write_text(SLOW_PARSER)
    assert cli("scan", str(folder), "--json").returncode == 0
    assert cli("rule", "add", "*.txt", "--tag", "notes").returncode == 0
    args = ("run", str(parser), "--tag", "notes", "--workers", "1", "--json")
    runs = [_popen_cli(*args) for _ in range(2)]
    outs = [r.communicate(timeout=120) for r in runs]
    for r, (out, err) in zip(runs, outs):
        assert r.returncode == 0, err
    summaries = [json.loads(out) for out, _ in outs]
    for s in summaries:  # each run saw all 300 files through to the end, and counts its own share
        assert (s["jobs"], s["completed"] + s["done_by_other_runs"], s["failed"]) == (n, n, 0), s
    assert sum(s["completed"] for s in summaries) == n, summaries
    db_path = _db_path(_isolated_home, "duckdb")
    with Database(Settings.resolve(db=db_path, read_only=True, env={})) as db:
        jobs = db.query_all("SELECT status, count(*), count(DISTINCT file_id), max(attempts) "
                            "FROM cf_processing_queue GROUP BY status")
        claimers = db.query_all("SELECT DISTINCT detail FROM cf_job_events WHERE event = 'claimed'")
    assert jobs == [("COMPLETED", n, n, 0)], jobs  # one job per file, done once, never retried or reaped
    pids = {int(owner.split(":")[1]) for (owner,) in claimers}
    assert pids == {r.pid for r in runs}, "both runs should have helped drain the queue"
    out_dir = _isolated_home / "output" / "slow_rows" / "1.0" / "slow_rows"
    table = ds.dataset(out_dir, format="parquet").to_table(columns=["_cf_source_path", "n", "_cf_job_id"])
    assert table.num_rows == 2 * n
    keys = set(zip(table["_cf_source_path"].to_pylist(), table["n"].to_pylist()))
    assert len(keys) == 2 * n  # no duplicated output rows
    assert len(set(table["_cf_job_id"].to_pylist())) == n
