"""`casparian worker` on several "hosts" sharing one PostgreSQL queue and one output root.

Each worker is a real process with its own home and host name
(CASPARIAN_HOSTNAME); they share the DSN and the output root, as machines
with a network share would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database
from conftest import REPO, run_cli
from waiting import wait_for

PARSER = '''\
import os
import time

NAME = "host_rows"
VERSION = "1"
OUTPUTS = {"host_rows": {"n": "int64", "word": "string"}}


def parse(path):
    time.sleep(float(os.environ.get("HOST_ROWS_SLEEP", "0")))
    with open(path) as fh:
        n = int(fh.read().strip())
    return [{"n": n, "word": "a"}, {"n": n, "word": "b"}]
'''

pytestmark = pytest.mark.slow


@pytest.fixture
def farm(tmp_path, pg_dsn):
    """A data folder scanned into the database, a parser file, a shared output root."""
    data = tmp_path / "data"
    data.mkdir()
    parser = tmp_path / "host_rows.py"
    parser.write_text(PARSER)
    out = tmp_path / "shared-output"
    env = {"CASPARIAN_DB": pg_dsn, "CASPARIAN_OUTPUT": str(out), "CASPARIAN_HOME": str(tmp_path / "admin")}
    return {"data": data, "parser": parser, "out": out, "dsn": pg_dsn, "env": env, "tmp": tmp_path}


def enqueue(farm, count: int) -> None:
    for i in range(count):
        (farm["data"] / f"f{i:05d}.txt").write_text(str(i))
    res = run_cli("scan", str(farm["data"]), "--quiet", env=farm["env"])
    assert res.returncode == 0, res.stderr
    res = run_cli("run", str(farm["parser"]), "--source", "data", "--enqueue-only", "--json", env=farm["env"])
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["queued"] == count


def start_worker(farm, host: str, *extra: str, sleep: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, **farm["env"], "CASPARIAN_HOME": str(farm["tmp"] / f"home-{host}"),
           "CASPARIAN_HOSTNAME": host, "HOST_ROWS_SLEEP": str(sleep)}
    # Its own session: a whole "host" (worker and parser processes) can be killed at once.
    return subprocess.Popen(
        [sys.executable, "-m", "casparian_tui", "worker", "--poll-seconds", "0.2", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def db_of(farm) -> Database:
    return Database(Settings.resolve(db=farm["dsn"], command="pytest", env={}))


def counts(db) -> dict[str, int]:
    return dict(db.query_all("SELECT status, count(*) FROM cf_processing_queue GROUP BY status"))


def stop_all(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def output_rows(out: Path):
    return ds.dataset(str(out / "host_rows" / "1" / "host_rows"), format="parquet").to_table()


def test_four_workers_run_2000_jobs_exactly_once(farm):
    enqueue(farm, 2000)
    procs = [start_worker(farm, f"host{i}") for i in range(4)]
    try:
        with db_of(farm) as db:
            assert wait_for(lambda: counts(db).get("COMPLETED", 0) == 2000, timeout=900, interval=0.5), counts(db)
            workers = db.read(lambda c: c.query_all("SELECT host FROM cf_workers WHERE status <> 'stopped'"))
            assert sorted(h for (h,) in workers) == ["host0", "host1", "host2", "host3"]
            completions = db.query_all(
                "SELECT job_id, count(*) FROM cf_job_events WHERE event = 'completed' GROUP BY job_id")
    finally:
        stop_all(procs)
    assert len(completions) == 2000 and {n for _, n in completions} == {1}
    rows = output_rows(farm["out"])
    assert rows.num_rows == 4000
    pairs = set(zip(rows.column("n").to_pylist(), rows.column("word").to_pylist()))
    assert pairs == {(n, w) for n in range(2000) for w in "ab"}  # every row once, none twice
    assert len(set(rows.column("_cf_host").to_pylist())) >= 2  # the work was shared
    for p in procs:
        assert p.returncode == 0, p.stderr.read()


def test_a_killed_host_s_jobs_are_finished_by_the_others(farm):
    enqueue(farm, 40)
    lease = ["--lease-seconds", "2", "--retry-delay", "0"]
    victim = start_worker(farm, "doomed", *lease, sleep=0.5)
    procs = [victim]
    try:
        with db_of(farm) as db:
            def doomed_holds():
                return db.query_all("SELECT id FROM cf_processing_queue WHERE status = 'RUNNING' "
                                    "AND lease_owner LIKE 'doomed:%'")

            assert wait_for(lambda: doomed_holds(), timeout=120, interval=0.1)
            held = {r[0] for r in doomed_holds()}
            os.killpg(victim.pid, signal.SIGKILL)  # the whole host dies mid-job
            victim.wait()
            procs += [start_worker(farm, f"survivor{i}", *lease) for i in range(2)]
            assert wait_for(lambda: counts(db).get("COMPLETED", 0) == 40, timeout=300, interval=0.2), counts(db)
            reaped = {r[0] for r in db.query_all("SELECT DISTINCT job_id FROM cf_job_events WHERE event = 'reaped'")}
            completions = db.query_all(
                "SELECT job_id, count(*) FROM cf_job_events WHERE event = 'completed' GROUP BY job_id")
    finally:
        stop_all(procs)
    assert held <= reaped  # requeued once the lease expired
    assert len(completions) == 40 and {n for _, n in completions} == {1}
    rows = output_rows(farm["out"])
    assert sorted(rows.column("n").to_pylist()) == sorted(list(range(40)) * 2)
    hosts = dict(zip(rows.column("_cf_job_id").to_pylist(), rows.column("_cf_host").to_pylist()))
    assert all(hosts[j].startswith("survivor") for j in held)  # the dead host's jobs, done by others


def test_sigterm_stops_within_the_job_timeout_and_leaves_nothing_running(farm):
    enqueue(farm, 10)
    timeout_s = 30
    worker = start_worker(farm, "solo", "--timeout", str(timeout_s), sleep=3)
    with db_of(farm) as db:
        try:
            assert wait_for(lambda: counts(db).get("RUNNING", 0) > 0, timeout=120, interval=0.1)
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=timeout_s)  # the bound the worker promises
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        assert worker.returncode == 0, worker.stderr.read()
        assert wait_for(lambda: group_gone(worker.pid), timeout=30)  # no parser process left behind
        assert counts(db).get("RUNNING", 0) == 0
        released = db.query_value("SELECT count(*) FROM cf_job_events WHERE event = 'released'")
        state = db.query_all("SELECT status FROM cf_workers WHERE host = 'solo'")
    assert released > 0 and state == [("stopped",)]
