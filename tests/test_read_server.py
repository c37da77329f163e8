"""The holder answers other processes' reads (real processes).

A process holding the DuckDB file read-write serves reads over an owner-only
socket (`db/read_server.py`); readers fall back to taking turns when it is
gone, silent or unusable (`db/remote_connection.py`, `db/shared_file.py`).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import stat
import subprocess
import sys
from multiprocessing.connection import AuthenticationError, Client, answer_challenge, deliver_challenge

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database, read_wire, trace
from casparian_tui.db.status import lease_state
from casparian_tui.errors import QueryInterrupted
from casparian_tui.db.remote_connection import NotServed, RemoteConnection

from conftest import REPO, run_cli
from waiting import wait_for

# Holds the file read-write (one write request that waits for a line on
# stdin), so it serves reads meanwhile; then prints how many it served.
HOLDER = """
import sys
from casparian_tui.config import Settings
from casparian_tui.db import Database
db = Database(Settings.resolve(db=sys.argv[1], command="casparian scan (test holder)"))
db.write("make the table", lambda c: c.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
db.write("fill the table", lambda c: c.execute("INSERT INTO t SELECT range FROM range(1000)"))
def hold(conn):
    print("holding", flush=True)
    sys.stdin.readline()
db.actor.submit(hold, write=True).result()
print(json.dumps({"served": db.actor.server.served, "opens": db.actor.opens}), flush=True)
db.close()
""".replace("import sys", "import sys, json")

# Writes batches of 1000 rows, each in its own transaction, for argv[2] batches.
BATCHES = """
import sys, json
from casparian_tui.config import Settings
from casparian_tui.db import Database
db = Database(Settings.resolve(db=sys.argv[1], command="casparian scan (batches)"))
db.write("make the table", lambda c: c.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
def batches(conn):
    print("writing", flush=True)
    for _ in range(int(sys.argv[2])):
        with conn.transaction():
            for _ in range(10):  # one batch is several statements
                conn.execute("INSERT INTO t SELECT range FROM range(100)")
db.actor.submit(batches, write=True).result()
print(json.dumps({"served": db.actor.server.served, "steps_aside": db.actor.steps_aside}), flush=True)
db.close()
"""


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "served.duckdb"


@pytest.fixture
def holder(db_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path)], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "holding", proc.stderr.read()
    assert wait_for(lambda: read_wire.read_record(db_path) is not None, timeout=30)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _finish(proc) -> dict:
    out, err = proc.communicate("\n", timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _reader(db_path, **kw) -> Database:
    return Database(Settings.resolve(db=db_path, env={}, wait_s=kw.pop("wait_s", 30), **kw))


def test_a_reader_is_served_while_the_holder_keeps_the_file(db_path, holder):
    with _reader(db_path) as db:
        assert db.query_value("SELECT count(*) FROM t") == 1000
        assert db.query_all("SELECT x FROM t WHERE x < ? ORDER BY x", [3]) == [(0,), (1,), (2,)]
        assert db.query_arrow("SELECT count(*) AS n FROM t").column("n").to_pylist() == [1000]
        assert db.actor.opens == 0  # never opened the file itself
        assert db.actor.reading_through["pid"] == holder.pid
        assert "test holder" in db.actor.reading_through["command"]
        assert lease_state(db) == f"reading through PID {holder.pid}: casparian scan (test holder)"
    summary = _finish(holder)
    assert summary["served"] >= 3 and summary["opens"] == 1  # the holder never let go


def test_read_only_readers_are_served_too(db_path, holder):
    with _reader(db_path, read_only=True) as db:
        assert db.query_value("SELECT count(*) FROM t") == 1000
        assert db.actor.opens == 0
    assert _finish(holder)["served"] >= 1


def test_the_socket_and_key_are_the_owners_alone(db_path, holder):
    record_file = read_wire.record_file(db_path)
    record = json.loads(record_file.read_text())
    assert stat.S_IMODE(os.stat(read_wire.serve_dir(db_path)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(record_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(record["socket"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(record["socket"])).st_mode) == 0o700
    assert len(bytes.fromhex(record["key"])) == 32


def test_a_wrong_key_is_refused(db_path, holder):
    record = read_wire.read_record(db_path)
    with pytest.raises(AuthenticationError):
        Client(record["socket"], family="AF_UNIX", authkey=b"x" * 32)
    with _reader(db_path) as db:  # the holder still serves those who know the key
        assert db.query_value("SELECT count(*) FROM t") == 1000
        assert db.actor.opens == 0


def _raw_session(db_path):
    record = read_wire.read_record(db_path)
    conn = Client(record["socket"], family="AF_UNIX")
    key = bytes.fromhex(record["key"])
    answer_challenge(conn, key)
    deliver_challenge(conn, key)
    return conn


def _ask(conn, request):
    conn.send_bytes(read_wire.dumps(request))
    return read_wire.loads(conn.recv_bytes())


@pytest.mark.parametrize("sql", [
    "DELETE FROM t",
    "INSERT INTO t VALUES (1)",
    "CREATE TABLE u (x INTEGER)",
    "DROP TABLE t",
    "CHECKPOINT",
    "SELECT 1; DELETE FROM t",
    "ATTACH ':memory:' AS other",
    "SELECT nextval('no_such_sequence')",
])
def test_a_forwarded_write_is_refused(db_path, holder, sql):
    conn = _raw_session(db_path)
    try:
        status = _ask(conn, ("all", sql, ()))[0]
        assert status in ("refused", "error"), status
        assert _ask(conn, ("all", "SELECT count(*) FROM t", ())) == ("ok", [(1000,)])
    finally:
        conn.close()
    remote = RemoteConnection.connect(db_path)
    with pytest.raises(NotServed):
        remote.execute("DELETE FROM t")
    with pytest.raises(NotServed):
        remote.query_all("DELETE FROM t")
    remote.close()


def test_the_holder_never_unpickles_code(db_path, holder):
    conn = _raw_session(db_path)

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    conn.send_bytes(pickle.dumps(("all", Evil(), ())))
    with pytest.raises(EOFError):  # it hangs up
        conn.recv_bytes()
    assert not (REPO / "pwned").exists()
    with pytest.raises(pickle.UnpicklingError):
        read_wire.loads(pickle.dumps(Evil()))


def test_a_stale_socket_of_a_dead_holder_is_ignored(db_path, holder, tmp_path):
    record = read_wire.read_record(db_path)
    holder.kill()  # kill -9: the record and the socket file stay behind
    holder.wait()
    assert read_wire.record_file(db_path).exists() and os.path.exists(record["socket"])
    assert read_wire.read_record(db_path) is None
    with _reader(db_path, wait_s=5) as db:
        assert db.query_value("SELECT count(*) FROM t") == 1000
        assert db.actor.opens == 1 and db.actor.reading_through is None
    # A record naming a live process whose socket is gone: take turns as well.
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        read_wire.write_record(db_path, {**record, "pid": sleeper.pid})
        os.unlink(record["socket"])
        with _reader(db_path, wait_s=5) as db:
            assert db.query_value("SELECT count(*) FROM t") == 1000
            assert db.actor.opens == 1
    finally:
        sleeper.stdin.close()
        sleeper.wait()


def test_holder_killed_while_a_reader_waits_on_it(db_path, holder):
    """kill -9 of the holder in the middle of a served request: the reader
    falls back to opening the file itself and answers."""
    with _reader(db_path) as db:
        assert db.query_value("SELECT count(*) FROM t") == 1000
        assert db.actor.opens == 0
        os.kill(holder.pid, signal.SIGSTOP)  # it will not answer...
        try:
            future = db.submit_read(lambda c: c.query_value("SELECT count(*) FROM t"))
            # ...while our request is on its way to it
            assert wait_for(lambda: db.actor._current is not None, timeout=30)
            assert not future.done()
        finally:
            os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert future.result(timeout=60) == 1000
        assert db.actor.opens == 1


def test_reads_served_during_batches_see_whole_batches_only(db_path):
    writer = subprocess.Popen([sys.executable, "-c", BATCHES, str(db_path), "400"], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        counts = []
        with _reader(db_path) as db:
            while writer.poll() is None and len(counts) < 200:
                counts.append(db.query_value("SELECT count(*) FROM t"))
            served = db.actor.reading_through is not None
        summary = json.loads(writer.communicate(timeout=120)[0].strip().splitlines()[-1])
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert served and summary["served"] >= 1, summary
    assert summary["steps_aside"] == 0
    assert all(n % 1000 == 0 for n in counts), [n for n in counts if n % 1000]
    assert counts == sorted(counts)


def test_files_cli_is_served_during_a_holder(db_path, holder, tmp_path):
    trace_file = tmp_path / "trace.jsonl"
    out = run_cli("--db", str(db_path), "files", "--limit", "5", "--json", "--wait", "5",
                  env={"CASPARIAN_DB_TRACE": str(trace_file)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
    events = trace.read(trace_file)
    assert any(e["event"] == "served" and e["holder"] == holder.pid for e in events), events
    assert not any(e["event"] == "open" for e in events), events


def test_a_served_cli_read_loads_no_engine_and_nothing_only_holders_or_globs_use(db_path, holder, tmp_path):
    # What a served reader does not import, it does not pay for at start-up (nor in CPU,
    # which a loop of readers takes from the scan that serves them).
    trace_file = tmp_path / "trace.jsonl"
    env = dict(os.environ, CASPARIAN_DB_TRACE=str(trace_file))
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "casparian_tui", "--db", str(db_path), "files",
                          "--limit", "5", "--json", "--wait", "5"], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = {line.rpartition("|")[2].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "casparian_tui.db.remote_connection" in loaded  # the list is real
    assert any(e["event"] == "served" for e in trace.read(trace_file))
    assert sorted(m for m in loaded if m.split(".")[0] in ("duckdb", "filelock", "pyarrow", "sqlite3")) == []
    unneeded = ("sqlite_backend", "read_server", "lock_probe", "migrate", "glob_sql")
    assert sorted(m for m in loaded if m in [f"casparian_tui.db.{n}" for n in unneeded]) == []
    assert sorted(m for m in loaded if m in ("casparian_tui.scout.patterns", "casparian_tui.scout.sources")) == []


def test_sqlite_holders_serve_nothing(tmp_path):
    settings = Settings.resolve(db=tmp_path / "x.sqlite", env={})
    with Database(settings) as db:
        db.execute("make a table", "CREATE TABLE t (x INTEGER)")
        assert not db.actor.server.serving
    assert not read_wire.serve_dir(settings.db_path).exists()


def test_a_holder_that_stops_serving_hands_its_readers_back(db_path):
    """The holder closes (idle, or done) while a reader keeps asking: the
    reader's next request opens the file itself."""
    writer = subprocess.Popen([sys.executable, "-c", BATCHES, str(db_path), "100"], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout.readline().strip() == "writing"
    with _reader(db_path) as db:
        seen = []

        def ask():
            seen.append(db.query_value("SELECT count(*) FROM t"))
            return writer.poll() is not None and len(seen) > 1 and db.actor.opens >= 1

        assert wait_for(ask, timeout=120)
        assert seen[-1] == 100_000
    writer.communicate(timeout=60)


# `casparian scan` in small batches, paced while the file argv[2] exists, that
# appends the running total of committed files to argv[3] after each batch.
PACED_SCAN = """
import os, sys, time
from casparian_tui.scout import scanner
scanner.Scanner.__init__.__kwdefaults__["batch_rows"] = int(sys.argv[1])
pace, log = sys.argv[2], sys.argv[3]
write_batch = scanner.Scanner._write_batch
def paced(self, *args, **kwargs):
    done = write_batch(self, *args, **kwargs)
    with open(log, "a") as f:
        f.write(f"{self._persisted}\\n")
    if os.path.exists(pace):
        time.sleep(0.05)
    return done
scanner.Scanner._write_batch = paced
from casparian_tui.cli.main import main
sys.exit(main(sys.argv[4:]))
"""


def test_reads_served_during_a_real_scan_see_whole_batches(tmp_path, _isolated_home):
    from casparian_tui.scout.testtree import make_tree

    tree = tmp_path / "tree"
    make_tree(tree, 20_000, seed=3)
    db_path = _isolated_home / "casparian_flow.duckdb"
    pace, log, trace_file = tmp_path / "pace", tmp_path / "committed", tmp_path / "trace.jsonl"
    pace.touch()
    scan = subprocess.Popen([sys.executable, "-c", PACED_SCAN, "100", str(pace), str(log), "scan", str(tree), "--json"],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: log.exists() and read_wire.read_record(db_path) is not None, timeout=120), \
            scan.stderr.read() if scan.poll() is not None else "no holder"
        counts = []
        with _reader(db_path) as db:
            while len(counts) < 100:
                counts.append(db.query_value("SELECT count(*) FROM scout_files"))
            assert db.actor.opens == 0 and db.actor.reading_through["pid"] == scan.pid
        out = run_cli("files", "--limit", "5", "--json", "--wait", "10", env={"CASPARIAN_DB_TRACE": str(trace_file)})
        assert out.returncode == 0, out.stderr
        assert len(json.loads(out.stdout)) == 5
        assert scan.poll() is None  # all of this happened during the scan
    finally:
        pace.unlink()
        s_out, s_err = scan.communicate(timeout=300)
    assert scan.returncode == 0, s_err
    committed = {0} | {int(x) for x in log.read_text().split()}
    assert set(counts) <= committed, sorted(set(counts) - committed)
    assert counts == sorted(counts) and len(set(counts)) > 1
    events = trace.read(trace_file)
    assert any(e["event"] == "served" and e["holder"] == scan.pid for e in events), events
    assert not any(e["event"] == "close" and e["why"] == "step aside" for e in events), events


def test_reads_served_during_a_run(tmp_path, _isolated_home):
    pace = tmp_path / "pace"  # while it exists, each file takes a while: the run outlasts our reads
    pace.touch()
    parser = tmp_path / "slowish.py"
    parser.write_text("NAME = 'slowish'\nVERSION = '1'\nimport os, time\n"
                      f"def parse(path):\n    if os.path.exists({str(pace)!r}):\n        time.sleep(0.1)\n"
                      "    return [{'p': path}]\n")
    folder = tmp_path / "in"
    folder.mkdir()
    files = []
    for i in range(200):
        (folder / f"d{i}.csv").write_text(f"id\n{i}\n")
        files.append(str(folder / f"d{i}.csv"))
    db_path = _isolated_home / "casparian_flow.duckdb"
    trace_file = tmp_path / "trace.jsonl"
    run = subprocess.Popen([sys.executable, "-m", "casparian_tui", "run", str(parser), *files, "--workers", "2",
                            "--json"], cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: read_wire.read_record(db_path) is not None or run.poll() is not None, timeout=120)
        served_by_run = 0
        while run.poll() is None and served_by_run == 0:
            out = run_cli("jobs", "--json", "--wait", "30", env={"CASPARIAN_DB_TRACE": str(trace_file)})
            assert out.returncode == 0, out.stderr
            json.loads(out.stdout)
            served_by_run = sum(1 for e in trace.read(trace_file) if e["event"] == "served" and e["holder"] == run.pid)
        pace.unlink()
        r_out, r_err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, r_err
    assert json.loads(r_out)["completed"] == 200
    assert served_by_run >= 1


def test_an_interrupted_served_read_stops_on_the_holder_and_the_next_is_served(db_path, holder):
    with _reader(db_path) as db:
        assert db.query_value("SELECT count(*) FROM t") == 1000
        slow = db.submit_read(lambda c: c.query_value("SELECT count(*) FROM range(100000000000)"))
        assert wait_for(lambda: db.actor._current is not None, timeout=30)
        slow.interrupt()
        with pytest.raises(QueryInterrupted):
            slow.result(timeout=60)
        assert db.query_value("SELECT count(*) FROM t") == 1000
        assert db.actor.opens == 0  # still served, on the same connection
    assert _finish(holder)["served"] >= 2


def test_the_holder_switches_threads_eagerly_only_while_a_caller_is_connected(tmp_path):
    # A caller's handler needs the GIL back a dozen times per statement; a busy holder
    # would make it wait the whole default switch interval each time.
    from casparian_tui.db.duckdb_backend import DuckDBConnection
    from casparian_tui.db.read_server import ReadServer, _SERVING_SWITCH_S

    path = tmp_path / "own.duckdb"
    own = DuckDBConnection(path, read_only=False)
    server = ReadServer(path, "casparian scan (test)")
    usual = sys.getswitchinterval()
    assert server.start(own.reader_cursor)
    try:
        assert sys.getswitchinterval() == usual  # nobody connected yet
        record = json.loads(read_wire.record_file(path).read_text())  # our own: read_record skips it
        caller = Client(record["socket"], family="AF_UNIX")
        key = bytes.fromhex(record["key"])
        answer_challenge(caller, key)
        deliver_challenge(caller, key)
        assert _ask(caller, ("all", "SELECT 42", ())) == ("ok", [(42,)])
        assert sys.getswitchinterval() == pytest.approx(_SERVING_SWITCH_S)
        caller.close()
        assert wait_for(lambda: sys.getswitchinterval() == usual, timeout=30), "the usual interval never came back"
    finally:
        server.stop()
        own.close()


def test_a_repeated_statement_is_checked_once_and_a_refused_one_every_time(tmp_path, monkeypatch):
    # Checking a statement costs about as much as running a small one; readers repeat a few texts.
    from casparian_tui.db import read_server
    from casparian_tui.db.duckdb_backend import DuckDBConnection
    from casparian_tui.outputs import query

    checked = []
    real_check = query.check_duckdb
    monkeypatch.setattr(query, "check_duckdb", lambda sql: checked.append(sql) or real_check(sql))
    read_server._check.cache_clear()
    path = tmp_path / "own.duckdb"
    own = DuckDBConnection(path, read_only=False)
    own.execute("CREATE TABLE t AS SELECT range AS x FROM range(10)")
    server = read_server.ReadServer(path, "casparian scan (test)")
    assert server.start(own.reader_cursor)
    try:
        record = json.loads(read_wire.record_file(path).read_text())  # our own: read_record skips it
        caller = Client(record["socket"], family="AF_UNIX")
        key = bytes.fromhex(record["key"])
        answer_challenge(caller, key)
        deliver_challenge(caller, key)
        for n in (3, 5, 7):
            assert _ask(caller, ("all", "SELECT count(*) FROM t WHERE x < ?", (n,))) == ("ok", [(n,)])
        for _ in range(2):
            assert _ask(caller, ("all", "DELETE FROM t", ()))[0] == "refused"
        assert checked == ["SELECT count(*) FROM t WHERE x < ?", "DELETE FROM t", "DELETE FROM t"]
        caller.close()
    finally:
        server.stop()
        own.close()
        read_server._check.cache_clear()


def test_a_holder_publishes_its_schema_version_only_once_settled(tmp_path, monkeypatch):
    from casparian_tui.db import migrate as migrations
    from casparian_tui.db.schema import LATEST_VERSION
    from casparian_tui.db.shared_file import SharedFile

    path = tmp_path / "new.duckdb"
    published_while_migrating = []
    real_migrate = migrations.migrate

    def migrate(conn):
        published_while_migrating.append(json.loads(read_wire.record_file(path).read_text()))
        real_migrate(conn)

    monkeypatch.setattr(migrations, "migrate", migrate)
    shared = SharedFile(Settings.resolve(db=path, env={}, command="casparian scan (test)"))
    try:
        shared.prepare(write=True)
        assert [("schema" in r) for r in published_while_migrating] == [False]  # serving, not yet settled
        assert json.loads(read_wire.record_file(path).read_text())["schema"] == LATEST_VERSION
        shared.close()
        assert not read_wire.record_file(path).exists()
        shared.prepare(write=True)  # opened again: the version is read from the file
        assert json.loads(read_wire.record_file(path).read_text())["schema"] == LATEST_VERSION
    finally:
        shared.close()


def test_a_reader_trusts_the_published_schema_version_and_checks_any_other(db_path, holder):
    from casparian_tui.db.schema import LATEST_VERSION

    record = read_wire.read_record(db_path)
    assert record["schema"] == LATEST_VERSION
    with _reader(db_path) as db:
        assert db.query_value("SELECT count(*) FROM t") == 1000
    read_wire.write_record(db_path, {**record, "schema": LATEST_VERSION - 1})  # as if stale: check it over the socket
    with _reader(db_path) as db:
        assert db.query_value("SELECT count(*) FROM t") == 1000
        assert db.actor.opens == 0
    read_wire.write_record(db_path, {k: v for k, v in record.items() if k != "schema"})  # an older holder's record
    with _reader(db_path) as db:
        assert db.query_value("SELECT count(*) FROM t") == 1000
        assert db.actor.opens == 0
    assert _finish(holder)["served"] == 1 + 2 + 2  # the schema check went over the socket for the last two only
