"""Globs that make a backtracking regex run for ever, and commands that must stop on a signal.

Real processes: a runaway match used to hold the GIL in the database thread,
so only kill -9 ended it. The timeouts below are "it never came" guards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest


from conftest import REPO

# 103 characters; a backtracking regex tries every split of the name between the 25 stars.
RUNAWAY = "*[a]" * 25 + "[b]"
LONG_NAME = "a" * 204


def _args(backend, db_url):
    return ["--backend", backend, "--db", db_url]


def _query_running(backend, db_url, pid) -> bool:
    """The `casparian query` of process `pid` has reached the database."""
    if backend != "postgres":
        return os.path.exists(db_url)
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as con:
        return con.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND state = 'active'",
                           (f"casparian {pid}",)).fetchone() is not None


def test_a_runaway_glob_finishes_in_files_and_rule_test(cli, backend, tmp_path, db_url):
    root = tmp_path / "tree"
    root.mkdir()
    (root / LONG_NAME).write_text("x")
    (root / ("a" * 30 + "b")).write_text("y")
    g = _args(backend, db_url)
    assert cli("scan", str(root), "--quiet", *g).returncode == 0
    r = cli("files", "--glob", RUNAWAY, "--json", *g, timeout=120)
    assert r.returncode == 0, r.stderr
    assert [f["rel_path"] for f in json.loads(r.stdout)] == ["a" * 30 + "b"]
    r = cli("files", "--glob", "!" + RUNAWAY, "--json", *g, timeout=120)
    assert [f["rel_path"] for f in json.loads(r.stdout)] == [LONG_NAME]


def test_a_runaway_exclude_finishes(cli, backend, tmp_path, db_url):
    root = tmp_path / "tree"
    (root / LONG_NAME).mkdir(parents=True)
    (root / LONG_NAME / "inside.txt").write_text("x")
    (root / ("a" * 30 + "b")).write_text("y")
    r = cli("scan", str(root), "--exclude", RUNAWAY, "--exclude", "*[a]" * 25 + "[c]/", "--json",
            *_args(backend, db_url), timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files_found"] == 1  # only LONG_NAME/inside.txt is kept


# A file backend: the query runs in this process. (A PostgreSQL query is stopped
# by the server's cancel: test_actor.py's interrupt tests cover that backend.)
# On SQLite the statement runs on an in-memory DuckDB beside the catalog
# connection; the signal must stop that one too (the actor's interrupt_all).
@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_long_query_ends_on_a_signal(backend, tmp_path, signum, db_url):
    endless = ("SELECT count(*) FROM range(1000000000000) a" if backend == "duckdb" else
               "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r")
    proc = subprocess.Popen([sys.executable, "-m", "casparian_tui", "query", endless, *_args(backend, db_url)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until the query runs: the database file exists and the process is still going.
        deadline = time.monotonic() + 60
        while not _query_running(backend, db_url, proc.pid):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the query never started"
            time.sleep(0.05)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (130 if signum == signal.SIGINT else 128 + signum), err
    assert "Traceback" not in err


# `casparian scan`, with small batches each followed by a pause: a scan that
# is still committing whenever the signal comes.
PACED_SCAN = """
import sys, time
from casparian_tui.scout import scanner
scanner.Scanner.__init__.__kwdefaults__["batch_rows"] = 50
write_batch = scanner.Scanner._write_batch
def paced(self, *args, **kwargs):
    done = write_batch(self, *args, **kwargs)
    print("batch", flush=True)
    time.sleep(0.05)
    return done
scanner.Scanner._write_batch = paced
from casparian_tui.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_scan_ends_on_a_signal(backend, tmp_path, signum, db_url):
    from casparian_tui.scout.testtree import make_tree

    root = tmp_path / "tree"
    make_tree(root, 5000, seed=3, depth=1, files_per_dir=500)
    proc = subprocess.Popen([sys.executable, "-c", PACED_SCAN, "scan", str(root), *_args(backend, db_url)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "batch", proc.communicate()  # committing now
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (130 if signum == signal.SIGINT else 128 + signum), err
    assert "Traceback" not in err
