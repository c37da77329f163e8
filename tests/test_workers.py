"""The worker pool and the coordinator, with real worker processes, on both backends."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.sentinel.runner import Runner

# The tiny parser and the plan/run helpers are shared with the other Sentinel tests.
from sentinel_rows import make_files, make_parser, opts, plan  # noqa: E402


def output_rows(tmp_path, output="one_row"):
    folder = tmp_path / "out" / "one_row" / "1" / output
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return None, files
    return ds.dataset([str(f) for f in files], format="parquet").to_table(), files


def statuses(db):
    return dict(db.query_all("SELECT status, count(*) FROM cf_processing_queue GROUP BY status"))


def test_exactly_once_with_8_workers(db, tmp_path):
    n = 2000
    paths = make_files(tmp_path / "in", n)
    spec = load_parser(make_parser(tmp_path))
    planned = plan(db, spec, paths)
    assert len(planned.job_ids) == n
    stats = Runner(db, spec, opts(tmp_path, workers=8, claim_size=128)).run()
    assert stats.completed == n
    assert statuses(db) == {"COMPLETED": n}
    table, files = output_rows(tmp_path)
    job_ids = table.column("_cf_job_id").to_pylist()
    assert sorted(job_ids) == sorted(planned.job_ids)  # every job's row exactly once
    assert len(files) < n / 10  # batched into part files, not one file per input
    assert not list((tmp_path / "out").rglob("*.tmp"))
    claims = db.query_value("SELECT count(*) FROM cf_job_events WHERE event = 'claimed'")
    assert claims == n
    lineage = table.select(["_cf_source_path", "_cf_source_hash", "_cf_parser_version"]).to_pylist()[0]
    assert lineage["_cf_source_path"].startswith(str(tmp_path)) and len(lineage["_cf_source_hash"]) == 32


def test_crashing_parser_does_not_stop_the_run(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["a.txt", "crash.txt", "b.txt", "c.txt"])
    spec = load_parser(make_parser(tmp_path, "if name == 'crash.txt': os._exit(9)"))
    plan(db, spec, paths, max_attempts=2)
    stats = Runner(db, spec, opts(tmp_path)).run()
    assert stats.completed == 3
    assert statuses(db) == {"COMPLETED": 3, "FAILED": 1}
    dead = db.query_one("SELECT attempts, error FROM cf_dead_letter")
    assert dead[0] == 2 and "worker process died" in dead[1] and "exit code 9" in dead[1]
    table, _ = output_rows(tmp_path)
    assert sorted(table.column("name").to_pylist()) == ["a.txt", "b.txt", "c.txt"]


def test_raising_parser_retries_then_dead_letters_with_traceback(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["ok.txt", "bad.txt"])
    spec = load_parser(make_parser(tmp_path, "if name == 'bad.txt': raise ValueError('cannot read ' + name)"))
    plan(db, spec, paths)
    Runner(db, spec, opts(tmp_path)).run()
    attempts, error, tb = db.query_one("SELECT attempts, error, traceback FROM cf_dead_letter")
    assert attempts == 3 and error == "ValueError: cannot read bad.txt" and "Traceback" in tb


def test_hanging_parser_is_killed_at_timeout_and_dead_lettered(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["ok1.txt", "hang.txt", "ok2.txt"])
    spec = load_parser(make_parser(tmp_path, "if name == 'hang.txt': time.sleep(60)"))
    plan(db, spec, paths, max_attempts=2)
    t0 = time.monotonic()
    stats = Runner(db, spec, opts(tmp_path, timeout_s=0.7)).run()
    assert time.monotonic() - t0 < 20
    assert stats.completed == 2
    dead = db.query_one("SELECT attempts, error FROM cf_dead_letter")
    assert dead == (2, "timed out after 0.7 s of parsing (worker killed)")


def test_worker_killed_mid_job_counts_an_attempt_and_the_job_is_redone(db, tmp_path):
    marker = tmp_path / "started"
    body = (f"if name == 'slow.txt' and not os.path.exists({str(marker)!r}):\n"
            f"        open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(60)")
    paths = make_files(tmp_path / "in", 0, ["slow.txt", "a.txt"])
    spec = load_parser(make_parser(tmp_path, body))
    planned = plan(db, spec, paths)
    runner = Runner(db, spec, opts(tmp_path))
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("stats", runner.run()))
    thread.start()
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(int(marker.read_text()), signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive()
    assert result["stats"].completed == 2
    slow_id = planned.job_ids[0]
    assert db.query_one("SELECT status, attempts FROM cf_processing_queue WHERE id = ?", [slow_id]) == ("COMPLETED", 1)
    events = [r[0] for r in db.query_all("SELECT detail FROM cf_job_events WHERE job_id = ? AND event = 'failed'",
                                         [slow_id])]
    assert len(events) == 1 and "killed by signal 9" in events[0]
    table, _ = output_rows(tmp_path)
    assert sorted(table.column("name").to_pylist()) == ["a.txt", "slow.txt"]


def test_late_part_of_a_job_lost_to_another_owner_is_not_published(db, tmp_path):
    """A job taken away (reaped + re-claimed) while its rows sat in a worker's buffer."""
    paths = make_files(tmp_path / "in", 2)
    spec = load_parser(make_parser(tmp_path))
    planned = plan(db, spec, paths)
    stolen = planned.job_ids[0]
    runner = Runner(db, spec, opts(tmp_path, flush_s=60))
    original = runner._on_flush

    def steal_then_flush(w, flush):
        db.execute("steal", "UPDATE cf_processing_queue SET lease_owner = 'thief' WHERE id = ?", [stolen])
        original(w, flush)
        db.execute("finish", "UPDATE cf_processing_queue SET status = 'CANCELLED' WHERE id = ?", [stolen])

    runner._on_flush = steal_then_flush
    runner.run()
    table, _ = output_rows(tmp_path)
    assert table.column("_cf_job_id").to_pylist() == [planned.job_ids[1]]


@pytest.mark.parametrize("workers", [1])
def test_request_stop_requeues_and_publishes_nothing_partial(db, tmp_path, workers):
    paths = make_files(tmp_path / "in", 30)
    spec = load_parser(make_parser(tmp_path, "time.sleep(0.05)"))
    plan(db, spec, paths)
    runner = Runner(db, spec, opts(tmp_path, workers=workers, flush_s=0.2))
    runner.progress = lambda stats: runner.request_stop() if stats.completed >= 3 else None
    stats = runner.run()
    assert stats.interrupted
    counts = statuses(db)
    assert "RUNNING" not in counts and counts.get("QUEUED", 0) > 0
    table, _ = output_rows(tmp_path)
    completed = {r[0] for r in db.query_all("SELECT id FROM cf_processing_queue WHERE status = 'COMPLETED'")}
    assert set(table.column("_cf_job_id").to_pylist()) == completed
    assert table.num_rows == len(completed)
    assert not list((tmp_path / "out").rglob("*.tmp"))
    assert db.query_value("SELECT max(attempts) FROM cf_processing_queue") == 0
