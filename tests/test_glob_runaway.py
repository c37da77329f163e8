"""Globs that make a backtracking regex run for ever, and commands that must stop on a signal.

Real processes: a runaway match used to hold the GIL in the database thread,
so only kill -9 ended it. The timeouts below are "it never came" guards.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO

# 103 characters; a backtracking regex tries every split of the name between the 25 stars.
RUNAWAY = "*[a]" * 25 + "[b]"
LONG_NAME = "a" * 204


def _args(backend, tmp_path):
    suffix = "duckdb" if backend == "duckdb" else "sqlite"
    return ["--backend", backend, "--db", str(tmp_path / f"cli.{suffix}")]


def test_a_runaway_glob_finishes_in_files_and_rule_test(cli, backend, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    (root / LONG_NAME).write_text("x")
    (root / ("a" * 30 + "b")).write_text("y")
    g = _args(backend, tmp_path)
    assert cli("scan", str(root), "--quiet", *g).returncode == 0
    r = cli("files", "--glob", RUNAWAY, "--json", *g, timeout=120)
    assert r.returncode == 0, r.stderr
    assert [f["rel_path"] for f in json.loads(r.stdout)] == ["a" * 30 + "b"]
    r = cli("files", "--glob", "!" + RUNAWAY, "--json", *g, timeout=120)
    assert [f["rel_path"] for f in json.loads(r.stdout)] == [LONG_NAME]


def test_a_runaway_exclude_finishes(cli, backend, tmp_path):
    root = tmp_path / "tree"
    (root / LONG_NAME).mkdir(parents=True)
    (root / LONG_NAME / "inside.txt").write_text("x")
    (root / ("a" * 30 + "b")).write_text("y")
    r = cli("scan", str(root), "--exclude", RUNAWAY, "--exclude", "*[a]" * 25 + "[c]/", "--json",
            *_args(backend, tmp_path), timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files_found"] == 1  # only LONG_NAME/inside.txt is kept


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_long_query_ends_on_a_signal(backend, tmp_path, signum):
    endless = ("SELECT count(*) FROM range(1000000000000) a" if backend == "duckdb" else
               "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r")
    proc = subprocess.Popen([sys.executable, "-m", "casparian_tui", "query", endless, *_args(backend, tmp_path)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until the query runs: the database file exists and the process is still going.
        deadline = time.monotonic() + 60
        db_file = tmp_path / ("cli.duckdb" if backend == "duckdb" else "cli.sqlite")
        while not db_file.exists():
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
