import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from casparian_tui.db import Database
from casparian_tui.db.lease import WriterLease, read_holder, record_path
from casparian_tui.errors import DatabaseLocked

from conftest import FILE_BACKENDS
from waiting import wait_for


@pytest.fixture(params=FILE_BACKENDS)
def backend(request) -> str:
    """The lease guards files; a server has none."""
    return request.param

def test_record_appears_while_writing_and_is_gone_after(db):
    gate = threading.Event()
    inside = threading.Event()

    def slow_write(conn):
        conn.execute("INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('a','/',0,0)")
        inside.set()
        gate.wait(10)

    fut = db.submit_write("add a source", slow_write)
    assert inside.wait(10)
    holder = read_holder(db.path)
    assert holder is not None
    assert holder["pid"] == os.getpid()
    assert holder["command"] == "pytest"
    assert holder["host"] == socket.gethostname()
    assert isinstance(holder["since"], float)
    gate.set()
    fut.result(10)
    assert wait_for(lambda: not record_path(db.path).exists(), timeout=5)
    assert read_holder(db.path) is None


def test_stale_record_of_a_dead_process_is_ignored(tmp_path):
    db_path = tmp_path / "x.duckdb"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    record_path(db_path).write_text(
        json.dumps({"pid": pid, "host": socket.gethostname(), "command": "casparian scan", "since": 1.0})
    )
    assert read_holder(db_path) is None


def test_garbage_record_is_ignored(tmp_path):
    db_path = tmp_path / "x.duckdb"
    record_path(db_path).write_text("{not json")
    assert read_holder(db_path) is None


HOLD_LEASE = """
import sys, time
from pathlib import Path
from casparian_tui.db.lease import WriterLease
lease = WriterLease(Path(sys.argv[1]), "casparian scan /evidence")
assert lease.acquire(timeout=5)
print("held", flush=True)
sys.stdin.readline()
"""


def test_writer_waits_then_reports_the_holder(settings):
    with Database(settings) as db:
        db.query_value("SELECT 1")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE, str(settings.db_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with Database(settings.with_(wait_s=0.5)) as db:
            started = time.monotonic()
            with pytest.raises(DatabaseLocked) as err:
                db.execute("add a source", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('a','/',0,0)")
            assert time.monotonic() - started >= 0.4
            msg = err.value.message
            assert msg.startswith(f"Database is locked by another process: {settings.db_path}")
            assert f"PID {proc.pid}" in msg and "casparian scan /evidence" in msg
            assert "--wait" in err.value.hint and "--read-only" in err.value.hint
            assert err.value.exit_code == 3
            # reading never needs the lease
            assert db.query_value("SELECT count(*) FROM scout_sources") == 0
    finally:
        proc.communicate("\n", timeout=10)


def test_writer_gets_the_lease_when_the_holder_lets_go(settings):
    with Database(settings) as db:
        db.query_value("SELECT 1")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LEASE, str(settings.db_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    with Database(settings.with_(wait_s=20)) as db:
        fut = db.submit_write(
            "add a source",
            lambda c: c.execute("INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('a','/',0,0)"),
        )
        assert wait_for(lambda: db.actor.waiting_for is not None, timeout=5)
        assert f"PID {proc.pid}" in db.actor.waiting_for
        proc.communicate("\n", timeout=10)
        fut.result(timeout=20)
        assert db.query_value("SELECT count(*) FROM scout_sources") == 1


def test_duckdb_lock_held_by_a_foreign_process_names_its_pid(tmp_path):
    from casparian_tui.config import Settings

    settings = Settings.resolve(db=tmp_path / "x.duckdb", wait_s=0.5, env={})
    with Database(settings) as db:
        db.query_value("SELECT 1")
    code = "import duckdb,sys; c=duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.readline()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(settings.db_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "open"
        with Database(settings) as db:
            with pytest.raises(DatabaseLocked) as err:
                db.query_value("SELECT 1")
        assert err.value.message.startswith("Database is locked by another process:")
        assert f"PID {proc.pid}" in err.value.message
        assert "not a Casparian process" in err.value.message
    finally:
        proc.communicate("\n", timeout=10)


def test_lease_object_is_reentrant_safe(tmp_path):
    lease = WriterLease(tmp_path / "x.duckdb", "test")
    assert lease.acquire(timeout=1)
    assert lease.acquire(timeout=1)
    lease.release()
    assert not lease.held
    assert not record_path(tmp_path / "x.duckdb").exists()
