import subprocess
import sys
import threading
import time

import pytest

from casparian_tui.db import Database
from casparian_tui.db.lease import lock_path
from waiting import wait_for

from casparian_tui.errors import ActorClosed, DatabaseError, QueryInterrupted, ReadOnlyViolation

LONG_QUERY = {
    "duckdb": "SELECT count(*) FROM range(100000000000) a",
    "sqlite": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r",
    "postgres": "SELECT pg_sleep(600)",
}


def test_many_threads_all_answered_correctly(db):
    errors = []

    def worker(t):
        try:
            for i in range(200):
                got = db.query_value("SELECT ? * 1000 + ?", (t, i))
                if got != t * 1000 + i:
                    errors.append((t, i, got))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


def test_only_the_actor_thread_touches_the_connection(db):
    seen = set()
    futures = [db.submit_read(lambda c: seen.add(threading.current_thread().name)) for _ in range(50)]
    for f in futures:
        f.result()
    assert seen == {"casparian-db-actor"}


def test_cancelled_request_never_runs(db, backend):
    gate = threading.Event()
    ran = []
    blocker = db.submit_read(lambda c: gate.wait(10))
    victim = db.submit_read(lambda c: ran.append("ran"))
    assert victim.cancel()
    gate.set()
    blocker.result()
    db.query_value("SELECT 1")  # everything queued before it has been served
    assert ran == []
    assert victim.cancelled()


def test_interrupted_long_query_returns_promptly(db, backend):
    db.query_value("SELECT 1")
    fut = db.submit_read(lambda c: c.query_all(LONG_QUERY[backend]))
    assert wait_for(lambda: fut.running())
    time.sleep(0.1)  # let the statement itself start inside the engine
    started = time.monotonic()
    fut.interrupt()
    with pytest.raises(QueryInterrupted):
        fut.result(timeout=5)
    assert time.monotonic() - started < 1.0
    assert db.query_value("SELECT 41 + 1") == 42  # the connection still works


def test_database_errors_are_typed_not_raw(db):
    with pytest.raises(DatabaseError):
        db.query_all("SELEKT nonsense")
    assert db.query_value("SELECT 7") == 7


def test_read_only_refuses_writes_and_names_the_action(settings):
    with Database(settings) as db:
        db.query_value("SELECT 1")  # create it
    with Database(settings.with_(read_only=True)) as ro:
        with pytest.raises(ReadOnlyViolation) as err:
            ro.execute("add a source", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('a','/',0,0)")
        assert "add a source" in err.value.message
        assert err.value.exit_code == 4
        assert ro.query_value("SELECT count(*) FROM scout_sources") == 0


def test_read_only_connection_refuses_writes_even_if_mislabelled(settings):
    with Database(settings) as db:
        db.query_value("SELECT 1")
    with Database(settings.with_(read_only=True)) as ro:
        with pytest.raises(ReadOnlyViolation):
            ro.read(lambda c: c.execute("INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('a','/',0,0)"))


def test_connection_closes_after_idle_grace(db, backend):
    if backend == "postgres":
        pytest.skip("a server connection stays open: nobody waits for it")
    db.query_value("SELECT 1")
    assert wait_for(lambda: not db.actor.connected, timeout=5)
    assert not db.actor.is_writer


def test_other_process_can_open_duckdb_after_idle(db, backend):
    if backend != "duckdb":
        pytest.skip("only DuckDB locks other processes out")
    db.execute("add a source", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('a','/',0,0)")
    assert wait_for(lambda: not db.actor.connected, timeout=5)
    code = (
        "import duckdb,sys; c=duckdb.connect(sys.argv[1]);"
        "c.execute(\"INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('b','/',0,0)\");"
        "print(c.execute('SELECT count(*) FROM scout_sources').fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(db.path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"
    assert db.query_value("SELECT count(*) FROM scout_sources") == 2  # and we get it back


def test_shutdown_fails_pending_and_leaves_nothing_behind(settings):
    import filelock

    db = Database(settings)
    gate = threading.Event()
    running = db.submit_write("hold the lease", lambda c: gate.wait(10))
    assert wait_for(lambda: running.running())
    pending = [db.submit_read(lambda c: c.query_value("SELECT 1")) for _ in range(5)]
    closer = threading.Thread(target=db.close)
    closer.start()
    gate.set()
    closer.join(10)
    assert not closer.is_alive()
    running.result(timeout=5)
    for f in pending:
        with pytest.raises(ActorClosed):
            f.result(timeout=5)
    assert not any(t.name == "casparian-db-actor" for t in threading.enumerate())
    other = filelock.FileLock(str(lock_path(settings.db_path)))
    other.acquire(timeout=0)  # nobody holds the lease any more
    other.release()
    with pytest.raises(ActorClosed):
        db.query_value("SELECT 1")


def test_sigterm_closes_cleanly_and_releases_the_lease(settings, tmp_path):
    import filelock

    if settings.backend == "postgres":
        pytest.skip("no lease on a server")

    script = tmp_path / "hold.py"
    script.write_text(
        "import sys, time\n"
        "from casparian_tui.config import Settings\n"
        "from casparian_tui.db import Database\n"
        "from casparian_tui.cli.main import _terminate\n"
        "import signal; signal.signal(signal.SIGTERM, _terminate)\n"
        f"s = Settings.resolve(db={str(settings.db_path)!r}, backend={settings.backend!r}, env={{}})\n"
        "db = Database(s)\n"
        "def hold(c):\n"
        "    print('holding', flush=True)\n"
        f"    c.query_all({LONG_QUERY[settings.backend]!r})\n"
        "try:\n"
        "    db.write('hold', hold)\n"
        "finally:\n"
        "    db.close()\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    lease_record = settings.db_path.with_name(settings.db_path.name + ".lock.json")
    assert lease_record.exists()
    started = time.monotonic()
    proc.terminate()
    proc.wait(timeout=20)
    assert time.monotonic() - started < 15  # the query would run for minutes
    assert proc.returncode == 128 + 15
    lock = filelock.FileLock(str(lock_path(settings.db_path)))
    lock.acquire(timeout=0)
    lock.release()
    assert not lease_record.exists()


def test_read_only_switch_and_write_access_request(settings):
    with Database(settings) as db:
        db.query_value("SELECT 1")
    with Database(settings.with_(read_only=True)) as db:
        with pytest.raises(ReadOnlyViolation):
            db.execute("add a source", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('a','/',0,0)")
        assert db.request_write_access() is True
        assert db.read_only is False
        db.execute("add a source", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('a','/',0,0)")
        db.set_read_only(True).result()
        assert db.read_only is True
        with pytest.raises(ReadOnlyViolation):
            db.execute("add a source", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('b','/',0,0)")
        assert db.query_value("SELECT count(*) FROM scout_sources") == 1


def test_a_signal_another_thread_takes_still_reaches_the_waiting_main_thread(db):
    """The kernel may hand SIGTERM/SIGINT to any thread (ours, DuckDB's); Python runs the handler in
    the main thread only when it runs bytecode, so waiting for a reply must not be one untimed wait."""
    import signal

    class Stopped(Exception):
        pass

    def handler(signum, frame):
        raise Stopped()

    release = threading.Event()
    previous = signal.signal(signal.SIGUSR1, handler)
    guard = threading.Timer(30, release.set)  # "it never came": the request ends by itself then
    guard.start()
    try:
        fut = db.submit_read(lambda conn: release.wait())
        main = threading.get_ident()

        def main_waits_for_the_reply() -> bool:
            # sys._current_frames (documented, CPython): where the main thread is right now
            frame = sys._current_frames()[main]
            while frame is not None and frame.f_code.co_name != "result":
                frame = frame.f_back
            return frame is not None

        def signal_once_main_waits() -> None:
            wait_for(main_waits_for_the_reply, timeout=30, interval=0.005)
            signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # taken by this thread, not main

        with pytest.raises(Stopped):
            threading.Thread(target=signal_once_main_waits).start()
            fut.result()
        assert not release.is_set(), "the handler ran only after the request had finished"
    finally:
        release.set()
        guard.cancel()
        signal.signal(signal.SIGUSR1, previous)
