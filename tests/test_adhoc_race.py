"""Two runs on a server register the same unknown files at the same time.

On the embedded backends writers take turns, so two registrations never
overlap. On PostgreSQL they do: the second insert of the `adhoc` source and
of its files waits on the first transaction's unique keys, and must then
find the winner's rows instead of failing with a duplicate key.
"""

from __future__ import annotations

import threading

import pytest

from casparian_tui.db import Database
from casparian_tui.sentinel import selection
from waiting import wait_for


@pytest.fixture
def server(backend):
    if backend != "postgres":
        pytest.skip("embedded writers take turns: two registrations never overlap")
    return backend


def _someone_waits_on_a_lock(dsn: str) -> bool:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        return con.execute("SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                           " AND wait_event_type = 'Lock'").fetchone() is not None


def test_concurrent_registrations_of_new_files_share_one_catalog_row_each(server, settings, db_url, tmp_path):
    (tmp_path / "in").mkdir()
    for i in range(3):
        (tmp_path / "in" / f"f{i}.txt").write_text(str(i))
    files = selection.expand_paths([str(tmp_path / "in")])
    first, second = Database(settings), Database(settings)
    inserted, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def hold(conn):
        table = selection.register_paths(conn, files)
        inserted.set()
        assert release.wait(60), "the test never released the first transaction"
        return table

    def run(name, database, fn):
        try:
            results[name] = database.write("register", fn)
        except Exception as exc:  # reported by the assertions below
            results[name] = exc

    a = threading.Thread(target=run, args=("first", first, hold))
    a.start()
    try:
        assert inserted.wait(60), "the first registration never reached its insert"
        b = threading.Thread(target=run, args=("second", second, lambda c: selection.register_paths(c, files)))
        b.start()
        assert wait_for(lambda: _someone_waits_on_a_lock(db_url), timeout=60), \
            "the second registration never waited on the first"
    finally:
        release.set()
        a.join(60)
    b.join(60)
    first.close()
    second.close()
    assert not isinstance(results["first"], Exception), results["first"]
    assert not isinstance(results["second"], Exception), results["second"]
    assert results["first"].column("file_id").to_pylist() == results["second"].column("file_id").to_pylist()
    assert len(set(results["first"].column("file_id").to_pylist())) == 3
