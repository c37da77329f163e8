"""Backtests: per-file results, aggregates, failed-first reruns, callback and cancel (both backends)."""

from __future__ import annotations

import json
import threading

import pytest

from sentinel_rows import make_files, make_parser

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.sentinel import backtest as bt
from casparian_tui.sentinel import selection
from casparian_tui.sentinel.plugin import load_parser


def tag_files(db, paths, tag="t"):
    def go(c):
        t = selection.register_paths(c, selection.expand_paths(paths))
        for fid in t["file_id"].to_pylist():
            c.execute("INSERT INTO scout_file_tags (file_id, tag, tag_source, created_at) VALUES (?, ?, 'manual', 0)",
                      [fid, tag])
        return t["file_id"].to_pylist()
    return db.write("tag", go)


def test_percentile():
    assert bt.percentile([], 50) is None
    assert bt.percentile([5.0], 95) == 5.0
    values = [float(i) for i in range(1, 101)]
    assert (bt.percentile(values, 50), bt.percentile(values, 95)) == (50.0, 95.0)


def test_backtest_records_results_without_writing_outputs(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, [f"ok{i}.txt" for i in range(6)] + ["bad1.txt", "bad2.txt"])
    ids = tag_files(db, paths)
    spec = load_parser(make_parser(tmp_path, "if name.startswith('bad'): raise ValueError('no good')"))
    seen = []
    report = bt.run_backtest(db, spec, "t", workers=2, on_result=seen.append)
    assert (report.files_total, report.files_tested, report.passed, report.failed) == (8, 8, 6, 2)
    assert report.pass_rate == pytest.approx(0.75) and report.rows == 6 and report.status == "COMPLETED"
    assert report.top_errors == [("ValueError: no good", 2)]
    assert report.p50_ms is not None and report.p95_ms >= report.p50_ms
    assert report.observed == {"one_row": {"name": "string", "size": "int64"}}
    assert sorted(r.file_id for r in seen) == sorted(ids) and all(r.path.startswith(str(tmp_path)) for r in seen)
    json.dumps(report.to_dict())
    run = db.query_one("SELECT status, files_total, files_passed, files_failed, rows_total FROM cf_backtest_runs")
    assert run == ("COMPLETED", 8, 6, 2, 6)
    assert db.query_value("SELECT count(*) FROM cf_backtest_results WHERE NOT passed") == 2
    assert db.query_value("SELECT count(*) FROM cf_processing_queue") == 0  # nothing queued
    assert not (tmp_path / "home" / "output").exists()
    # a rerun tries the previously failed files first
    order = []
    bt.run_backtest(db, spec, "t", workers=1, on_result=lambda r: order.append(r.path.rsplit("/", 1)[1]))
    assert sorted(order[:2]) == ["bad1.txt", "bad2.txt"]  # failed first; their own order is not promised
    # and a sample of 3 still starts with them
    small = bt.run_backtest(db, spec, "t", sample=3, workers=1)
    assert small.files_total == 3 and small.failed == 2


def test_crash_and_timeout_count_as_failures(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["a.txt", "crash.txt", "hang.txt", "b.txt"])
    tag_files(db, paths)
    spec = load_parser(make_parser(tmp_path, "if name == 'crash.txt': os._exit(3)\n"
                                             "    if name == 'hang.txt': time.sleep(60)"))
    report = bt.run_backtest(db, spec, "t", workers=2, timeout_s=1.0)
    assert (report.passed, report.failed) == (2, 2)
    errors = dict(report.top_errors)
    assert any("worker process died" in e for e in errors) and any("timed out" in e for e in errors)


def test_cancel_stops_the_backtest(db, tmp_path):
    paths = make_files(tmp_path / "in", 30)
    tag_files(db, paths)
    spec = load_parser(make_parser(tmp_path, "time.sleep(0.05)"))
    cancel = threading.Event()

    def on_result(r):
        if len(results) >= 3:
            cancel.set()
        results.append(r)

    results = []
    report = bt.run_backtest(db, spec, "t", workers=1, on_result=on_result, cancel=cancel)
    assert report.status == "CANCELLED" and 3 < report.files_tested < 30
    assert db.query_one("SELECT status, files_passed FROM cf_backtest_runs") == ("CANCELLED", report.files_tested)


def test_backtest_cli(cli, backend, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["a.txt", "b.txt", "bad.txt"])
    db = Database(Settings.resolve(backend=backend))
    try:
        tag_files(db, paths, "docs")
    finally:
        db.close()
    parser = make_parser(tmp_path, "if name == 'bad.txt': raise ValueError('nope')")
    res = cli("backtest", str(parser), "--tag", "docs", "--json", "--workers", "1", "--backend", backend)
    assert res.returncode == 1, res.stderr
    out = json.loads(res.stdout)
    assert (out["files_total"], out["passed"], out["failed"], out["rows"]) == (3, 2, 1, 2)
    assert out["top_errors"] == [{"error": "ValueError: nope", "files": 1, "example": "ValueError: nope"}]
    text = cli("backtest", str(parser), "--tag", "docs", "--sample", "2", "--workers", "1", "--backend", backend)
    assert "pass rate" in text.stdout and "ValueError: nope" in text.stdout
    ro = cli("backtest", str(parser), "--tag", "docs", "--read-only", "--backend", backend)
    assert ro.returncode == 4
