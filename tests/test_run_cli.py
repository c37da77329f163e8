"""`casparian run` end to end, in real subprocesses, on both backends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.sentinel import queue as q

REPO = Path(__file__).resolve().parent.parent
CSV = str(REPO / "assets" / "parsers" / "csv_rows.py")
LOG = str(REPO / "assets" / "parsers" / "log_lines.py")
KEYS = ["parser", "version", "jobs", "completed", "failed", "dead_lettered", "done_by_other_runs", "skipped", "changed",
        "rows",
        "quarantined_rows", "outputs", "duration_s"]


def run_json(cli, backend, *args):
    res = cli("run", *args, "--json", "--backend", backend, "--workers", "2")
    assert res.returncode in (0, 1), res.stderr
    return json.loads(res.stdout), res


def csv_files(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"d{i}.csv"
        p.write_text(f"id,name\n{i},n{i}\n{i + 100},m{i}\n")
        out.append(str(p))
    return out


def test_run_json_keys_then_up_to_date_then_force(cli, backend, tmp_path):
    files = csv_files(tmp_path / "in", 5)
    first, _ = run_json(cli, backend, CSV, *files)
    assert list(first) == KEYS
    assert (first["jobs"], first["completed"], first["rows"], first["skipped"]) == (5, 5, 10, 0)
    assert all(Path(p).exists() and "/output/csv_rows/1.0/csv_rows/" in p for p in first["outputs"])
    second, _ = run_json(cli, backend, CSV, *files)
    assert (second["jobs"], second["skipped"]) == (0, 5)
    # a changed file is no longer up to date
    Path(files[0]).write_text("id,name\n7,x\n")
    os.utime(files[0], ns=(time.time_ns(), time.time_ns() + 10**9))
    third, _ = run_json(cli, backend, CSV, *files)
    assert (third["jobs"], third["skipped"], third["rows"]) == (1, 4, 1)
    forced, _ = run_json(cli, backend, CSV, *files, "--force")
    assert (forced["jobs"], forced["completed"], forced["skipped"]) == (5, 5, 0)


def test_bad_parser_fails_before_queuing(cli, backend, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("NAME = 'x'\nVERSION = '1'\n")
    files = csv_files(tmp_path / "in", 1)
    res = cli("run", str(bad), *files, "--backend", backend)
    assert res.returncode == 1 and "no parse(path) function" in res.stderr and "Traceback" not in res.stderr
    res = cli("run", str(tmp_path / "missing.py"), *files, "--backend", backend)
    assert res.returncode == 1 and "not found" in res.stderr
    db = Database(Settings.resolve(backend=backend))
    try:
        assert db.query_value("SELECT count(*) FROM cf_processing_queue") == 0
    finally:
        db.close()


def test_quarantine_and_contract_failure(cli, backend, tmp_path):
    good = tmp_path / "good.log"
    lines = [f"2024-05-01 12:00:{i:02d} INFO [app] event {i}" for i in range(20)]
    good.write_text("\n".join(lines[:19] + ["not a log line"]) + "\n")  # 1 of 20 bad: 5 %, under 10 %
    bad = tmp_path / "bad.log"
    bad.write_text("garbage\n" * 5 + lines[0] + "\n")
    out, res = run_json(cli, backend, LOG, str(good), str(bad))
    assert (out["completed"], out["failed"], out["dead_lettered"]) == (1, 1, 1)
    assert (out["rows"], out["quarantined_rows"]) == (19, 1)
    assert res.returncode == 1
    home = Path(os.environ["CASPARIAN_HOME"])
    main = ds.dataset(str(home / "output/log_lines/1.0/log_lines"), format="parquet").to_table()
    quarantine = ds.dataset(str(home / "output/log_lines/1.0/log_lines_quarantine"), format="parquet").to_table()
    assert main.num_rows == 19 and str(main.schema.field("ts").type) == "timestamp[us]"
    assert quarantine.column("_cf_error").to_pylist() == ["missing required column ts"]
    db = Database(Settings.resolve(backend=backend))
    try:
        err = db.query_value("SELECT error FROM cf_dead_letter")
    finally:
        db.close()
    assert "5 of 6 rows" in err and "missing required column ts" in err


def test_ctrl_c_requeues_and_leaves_no_partial_output(backend, tmp_path):
    parser = tmp_path / "slow.py"
    parser.write_text(f"NAME = 'slow'\nVERSION = '1'\nimport time, os\n"
                      f"def parse(path):\n    open({str(tmp_path / 'started')!r}, 'a').write('x')\n"
                      "    time.sleep(0.1)\n    return [{'p': path}]\n")
    files = csv_files(tmp_path / "in", 40)
    proc = subprocess.Popen([sys.executable, "-m", "casparian_tui", "run", str(parser), *files, "--backend", backend,
                             "--workers", "2", "--json"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    started = tmp_path / "started"
    while time.monotonic() < deadline and not (started.exists() and len(started.read_text()) >= 6):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl+C does: the whole group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    summary = json.loads(out)
    assert summary["completed"] < 40
    db = Database(Settings.resolve(backend=backend))
    try:
        counts = dict(db.query_all("SELECT status, count(*) FROM cf_processing_queue GROUP BY status"))
        completed = {r[0] for r in db.query_all("SELECT id FROM cf_processing_queue WHERE status = 'COMPLETED'")}
    finally:
        db.close()
    assert "RUNNING" not in counts and counts.get("QUEUED", 0) > 0
    home = Path(os.environ["CASPARIAN_HOME"])
    folder = home / "output/slow/1/slow"
    assert not list(folder.parent.rglob("*.tmp"))
    if completed:
        table = ds.dataset(str(folder), format="parquet").to_table()
        assert sorted(table.column("_cf_job_id").to_pylist()) == sorted(completed)


def test_kill_9_of_the_run_then_the_reaper_requeues_with_an_attempt(backend, tmp_path):
    parser = tmp_path / "hang.py"
    marker = tmp_path / "started"
    parser.write_text(f"NAME = 'hang'\nVERSION = '1'\nimport time\n"
                      f"def parse(path):\n    open({str(marker)!r}, 'w').write('x')\n    time.sleep(60)\n")
    files = csv_files(tmp_path / "in", 1)
    proc = subprocess.Popen([sys.executable, "-m", "casparian_tui", "run", str(parser), *files, "--backend", backend,
                             "--workers", "1", "--lease-seconds", "1"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not marker.exists():
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    db = Database(Settings.resolve(backend=backend))
    try:
        assert db.query_one("SELECT status, attempts FROM cf_processing_queue") == ("RUNNING", 0)
        later = q.now_us() + 5_000_000
        assert db.write("reap", lambda c: q.reap(c, now=later)) == (1, 0)
        assert db.query_one("SELECT status, attempts, lease_owner FROM cf_processing_queue") == ("QUEUED", 1, None)
    finally:
        db.close()
