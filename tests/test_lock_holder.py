"""A writer kept out by a reader: who is named, and how long a read may keep it out (real processes)."""

from __future__ import annotations

import json
import subprocess
import sys

from casparian_tui.config import Settings
from casparian_tui.db import Database

from conftest import REPO

HOLD_READ_ONLY = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
sys.stdin.readline()
"""

# A Casparian reader whose first attempt is a long query on its own
# connection (a Python function that sleeps a little per row); asked again,
# it runs the same sum without the sleeps.
LONG_READER = """
import json, sys, time
from casparian_tui.config import Settings
from casparian_tui.db import Database
db = Database(Settings.resolve(db=sys.argv[1], env={}, wait_s=60, command="long reader"))
attempts = []
def read(conn):
    attempts.append(type(conn).__name__)
    if len(attempts) == 1:
        conn._con.create_function("pause", lambda x: (time.sleep(0.00025), x)[1], ["BIGINT"], "BIGINT")
        print("reading", flush=True)
        return conn.query_value("SELECT sum(pause(range)) FROM range(80000)")
    return conn.query_value("SELECT sum(range) FROM range(80000)")
print(json.dumps({"sum": db.read(read), "attempts": attempts}), flush=True)
db.close()
"""


def _make_db(path):
    with Database(Settings.resolve(db=path, env={})) as db:
        db.query_value("SELECT 1")


def _writer(path, tree, wait: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "casparian_tui", "--db", str(path), "--wait", wait,
                             "source", "add", str(tree), "--name", "t"],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_the_locked_message_names_the_process_that_has_the_file_not_ourselves(tmp_path):
    """The writer takes the lease (its own record) and then meets DuckDB's
    lock, held by a reader: the message names that reader."""
    path = tmp_path / "c.duckdb"
    _make_db(path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_READ_ONLY, str(path)], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "holding"
        writer = _writer(path, tmp_path, "1")
        out, err = writer.communicate(timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert writer.returncode == 3, err
    assert f"held by PID {holder.pid} " in err, err
    assert f"PID {writer.pid}" not in err, err
    assert "Traceback" not in err


def test_a_writer_interrupts_a_read_that_overstays_and_the_read_is_asked_again(tmp_path):
    path = tmp_path / "o.duckdb"
    _make_db(path)
    reader = subprocess.Popen([sys.executable, "-c", LONG_READER, str(path)], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert reader.stdout.readline().strip() == "reading", reader.stderr.read()
        # The read alone takes far longer than this writer may wait; it gets in
        # once the read has overstayed a turn or two.
        writer = _writer(path, tmp_path, "10")
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        r_out, r_err = reader.communicate(timeout=120)
    finally:
        for proc in (reader,):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert reader.returncode == 0, r_err
    answer = json.loads(r_out.strip().splitlines()[-1])
    assert answer["sum"] == sum(range(80000))
    assert answer["attempts"][0] == "DuckDBConnection" and len(answer["attempts"]) >= 2, answer
