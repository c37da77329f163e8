"""Seeing DuckDB's file lock from outside, without opening the database.

A waiter polls `lock_probe.conflicting_pid` (microseconds) instead of
failing a `duckdb.connect` (~20 ms) over and over, so it must agree with
DuckDB about who is in the way: a read-write holder blocks everyone, a
read-only holder blocks writers only. The holders are real processes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from casparian_tui.db import lock_probe
from casparian_tui.db.duckdb_backend import DuckDBConnection

from waiting import wait_for

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
sys.stdin.readline()
con.close()
print("released", flush=True)
sys.stdin.readline()
"""


def _make_db(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()


def _hold(path: Path, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def _say(proc: subprocess.Popen, expect: str | None = None) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    if expect:
        assert proc.stdout.readline().strip() == expect


def _connect_fails(path: Path, read_only: bool) -> bool:
    try:
        duckdb.connect(str(path), read_only=read_only).close()
    except duckdb.IOException:
        return True
    return False


def test_free_file_has_no_conflict(tmp_path):
    db = tmp_path / "free.duckdb"
    _make_db(db)
    assert lock_probe.conflicting_pid(db, write=True) is None
    assert lock_probe.conflicting_pid(db, write=False) is None
    assert lock_probe.conflicting_pid(tmp_path / "missing.duckdb", write=True) is None


@pytest.mark.parametrize("mode", ["rw", "ro"])
def test_probe_agrees_with_duckdb(tmp_path, mode):
    db = tmp_path / f"held_{mode}.duckdb"
    _make_db(db)
    holder = _hold(db, mode)
    try:
        # a writer is always in the way of a read-write holder; a reader only of a writer
        assert lock_probe.conflicting_pid(db, write=True) == holder.pid
        assert _connect_fails(db, read_only=False)
        expected_for_reader = holder.pid if mode == "rw" else None
        assert lock_probe.conflicting_pid(db, write=False) == expected_for_reader
        assert _connect_fails(db, read_only=True) == (mode == "rw")
        _say(holder, "released")
        wait_for(lambda: lock_probe.conflicting_pid(db, write=True) is None, timeout=5)
        assert not _connect_fails(db, read_only=False)
    finally:
        holder.kill()
        holder.wait()


def test_probing_keeps_our_own_lock(tmp_path):
    """Closing any descriptor of a file drops this process's POSIX locks on it;
    the probe must never do that to a connection we hold ourselves."""
    db = tmp_path / "own.duckdb"
    _make_db(db)
    conn = DuckDBConnection(db, read_only=False)
    try:
        for _ in range(3):
            assert lock_probe.conflicting_pid(db, write=True) is None  # our own lock is not a conflict
        probe = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])", str(db)],
                               capture_output=True, text=True)
        assert probe.returncode != 0 and "lock" in probe.stderr.lower()
    finally:
        conn.close()


def test_duckdb_progress_bar_is_off(tmp_path):
    """DuckDB's own progress bar writes to stdout and would corrupt --json output."""
    conn = DuckDBConnection(tmp_path / "quiet.duckdb", read_only=False)
    try:
        assert conn.query_all("SELECT current_setting('enable_progress_bar')") == [(False,)]
    finally:
        conn.close()


def test_a_waiter_does_not_retry_connects_while_the_lock_is_held(tmp_path):
    """Each failed `duckdb.connect` costs ~20 ms of CPU; ten waiters retrying
    with backoff once used half of a 2-core machine and slowed the writer they
    waited for. While the probe sees the lock, a waiter must only watch."""
    import threading
    import time

    from casparian_tui.config import Settings
    from casparian_tui.db import Database

    settings = Settings.resolve(db=tmp_path / "w.duckdb", backend="duckdb", env={})
    with Database(settings) as db:
        db.query_value("SELECT 1")  # creates the schema
    holder = _hold(settings.db_path, "rw")
    db = Database(settings.with_(read_only=True, wait_s=30.0))
    answer = {}
    reader = threading.Thread(target=lambda: answer.setdefault("n", db.query_value("SELECT count(*) FROM scout_files")))
    try:
        reader.start()
        assert wait_for(lambda: db.actor.waiting_for is not None, timeout=10)
        time.sleep(2.0)  # the scenario: the holder keeps the file two seconds
        waited_attempts = db.actor.connect_attempts
        _say(holder, "released")
        reader.join(timeout=30)
        assert answer.get("n") == 0
        # one failed try before it knew, at most one more from the safety net (5 s);
        # retrying with backoff made ~20 in these two seconds
        assert waited_attempts <= 2, waited_attempts
    finally:
        db.close()
        _say(holder)
        holder.wait(timeout=10)
