"""Job counters tell the truth: tries, permanent failures, stale errors, timeouts, shares of concurrent runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from casparian_tui.sentinel import backtest as bt
from casparian_tui.sentinel import jobs
from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.sentinel.runner import Runner

from sentinel_rows import make_files, make_parser, opts, plan
from test_backtest import tag_files
from test_jobs import enqueue, fail_until_dead

REPO = Path(__file__).resolve().parent.parent

CONTRACT = """
NAME = "typed"
VERSION = "1"
OUTPUTS = {"typed": {"n": "int64"}}
def parse(path):
    if path.endswith("bad.txt"):
        return [{"other": 1}]
    return [{"n": 1}]
"""


def test_tries_count_the_successful_one_and_permanent_failures_say_so(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["good.txt", "bad.txt"])
    spec = load_parser(make_parser(tmp_path, text=CONTRACT))
    plan(db, spec, paths)
    Runner(db, spec, opts(tmp_path)).run()
    rows = {Path(r.file).name: r for r in db.read(lambda c: jobs.list_jobs(c))}
    good, bad = rows["good.txt"], rows["bad.txt"]
    assert (good.status, good.tries, good.permanent) == ("COMPLETED", 1, False)
    assert (bad.status, bad.tries, bad.max_attempts, bad.permanent) == ("FAILED", 1, 3, True)
    detail = db.read(lambda c: jobs.job_detail(c, bad.id))
    assert [e.detail for e in detail.events if e.event == "dead_lettered"] == ["permanent failure: not retried"]


def test_jobs_cli_shows_tries_and_permanent(cli, backend, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["good.txt", "bad.txt"])
    parser = make_parser(tmp_path, text=CONTRACT)
    cli("run", str(parser), *paths, "--backend", backend, "--workers", "1")
    out = cli("jobs", "--backend", backend, env={"COLUMNS": "300"}).stdout  # a wide table: whole lines
    lines = {name: next(line for line in out.splitlines() if name in line) for name in ("good.txt", "bad.txt")}
    assert "1/3" in lines["good.txt"] and "permanent" not in lines["good.txt"]
    assert "1/3 permanent" in lines["bad.txt"]


def test_a_queued_job_shows_no_current_error(db, tmp_path):
    a, b = enqueue(db, tmp_path, 2, max_attempts=2)
    fail_until_dead(db, a)
    db.write("retry", lambda c: jobs.retry(c, a))
    row = next(r for r in db.read(lambda c: jobs.list_jobs(c)) if r.id == a)
    assert (row.status, row.error, row.previous_error, row.tries) == ("QUEUED", "", "", 0)
    detail = db.read(lambda c: jobs.job_detail(c, a))
    assert detail.error == "" and detail.traceback == ""
    assert "ValueError: boom" in [e for e in detail.events if e.event == "retried"][0].detail
    # an automatic retry: the error belongs to the try before
    (claimed,) = db.write("claim", lambda c: q.claim_batch(c, "w", 1, now=q.now_us() + 10**9))
    db.write("fail", lambda c: q.fail_batch(c, "w", [q.Failure(claimed.id, claimed.attempts, "OSError: busy")]))
    row = next(r for r in db.read(lambda c: jobs.list_jobs(c)) if r.id == claimed.id)
    assert (row.status, row.error, row.previous_error, row.tries) == ("QUEUED", "", "OSError: busy", 1)


def test_the_timeout_clock_starts_when_the_worker_gets_the_job(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["first.txt", "second.txt"])
    ended = tmp_path / "ended"
    spec = load_parser(make_parser(tmp_path, f"time.sleep(60)\n    open({str(ended)!r}, 'w').close()"))
    first, second = plan(db, spec, paths, max_attempts=1).job_ids
    Runner(db, spec, opts(tmp_path, workers=1, timeout_s=1.0)).run()
    assert not ended.exists()  # the 1 s limit fired long before a 60 s parse could end

    def times(jid):
        return {e.event: e.at for e in db.read(lambda c: jobs.job_detail(c, jid)).events}

    t1, t2 = times(first), times(second)
    assert t1["claimed"] <= t1["started"] < t1["failed"]
    # the second job waited for the only worker: its clock started when it got it, after the first failed
    assert t2["claimed"] < t1["failed"] <= t2["started"] < t2["failed"]
    assert "1 s of parsing" in db.read(lambda c: jobs.job_detail(c, second)).error


def test_two_concurrent_runs_each_report_their_share(backend, tmp_path):
    paths = make_files(tmp_path / "in", 40)
    parser = make_parser(tmp_path, "time.sleep(0.05)")
    procs = [subprocess.Popen([sys.executable, "-m", "casparian_tui", "run", str(parser), *paths, "--json",
                               "--backend", backend, "--workers", "1"], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    assert sum(o["completed"] for o in outs) == 40
    for o in outs:
        assert o["completed"] + o["failed"] + o["done_by_other_runs"] == o["jobs"]


def test_backtest_top_errors_group_by_the_shape_of_the_message(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["bad1.txt", "bad22.txt", "bad333.txt", "ok.txt"])
    tag_files(db, paths)
    spec = load_parser(make_parser(tmp_path, "if name.startswith('bad'):\n"
                                             "        raise ValueError(f'row {len(name)} of {name!r} is bad')"))
    report = bt.run_backtest(db, spec, "t", workers=1)
    assert report.top_errors == [("ValueError: row # of '…' is bad", 3)]
    assert report.to_dict()["top_errors"][0]["example"].startswith("ValueError: row ")
