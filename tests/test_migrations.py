import hashlib

import pytest

from casparian_tui.db import Database
from casparian_tui.db.migrate import current_version, migrate
from casparian_tui.db.schema import LATEST_VERSION, MIGRATIONS
from casparian_tui.errors import NotADatabase, SchemaTooNew
from conftest import raw_connection

ALL_TABLES = {
    "cf_schema_version",
    "scout_sources",
    "scout_files",
    "scout_file_tags",
    "scout_tagging_rules",
    "scout_folders",
    "scout_scan_runs",
    "cf_processing_queue",
    "cf_dead_letter",
    "cf_job_events",
    "schema_contracts",
    "schema_contract_versions",
    "cf_backtest_runs",
    "cf_backtest_results",
}


@pytest.fixture
def db_url(backend, tmp_path, request) -> str:
    """These tests start from an empty database, on PostgreSQL too."""
    if backend == "postgres":
        return request.getfixturevalue("pg_cluster").empty_database()
    return str(tmp_path / f"test.{backend}")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def state(settings) -> str:
    """A digest of the database: its file's bytes, or on a server its tables and version rows."""
    if settings.backend != "postgres":
        return digest(settings.db_path)
    conn = raw_connection(settings)
    try:
        tables = sorted(conn.table_names())
        versions = conn.query_all("SELECT * FROM cf_schema_version ORDER BY version") if tables else []
        return repr((tables, versions))
    finally:
        conn.close()


def test_empty_database_is_created_at_latest_version(db):
    assert db.read(current_version) == LATEST_VERSION
    assert ALL_TABLES <= db.read(lambda c: c.table_names())
    versions = [r[0] for r in db.query_all("SELECT version FROM cf_schema_version ORDER BY version")]
    assert versions == [m.version for m in MIGRATIONS]


@pytest.mark.parametrize("start", [m.version for m in MIGRATIONS[:-1]])
def test_older_database_is_migrated_and_keeps_its_rows(settings, start):
    conn = raw_connection(settings)
    conn.prepare_new()
    assert migrate(conn, target=start) == list(range(1, start + 1))
    conn.execute(
        "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES (?, ?, ?, ?)",
        ("kept", "/evidence", 1, 2),
    )
    assert current_version(conn) == start
    conn.close()

    with Database(settings) as db:
        assert db.read(current_version) == LATEST_VERSION
        assert db.query_all("SELECT name, root FROM scout_sources") == [("kept", "/evidence")]
        assert ALL_TABLES <= db.read(lambda c: c.table_names())


def test_migration_failure_rolls_back(settings, monkeypatch):
    from casparian_tui.db import schema

    broken = schema.Migration(LATEST_VERSION + 1, "broken", ["CREATE TABLE t_ok (a INTEGER)", "THIS IS NOT SQL"])
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, broken])
    import casparian_tui.db.migrate as mig

    monkeypatch.setattr(mig, "MIGRATIONS", schema.MIGRATIONS)
    conn = raw_connection(settings)
    with pytest.raises(Exception):
        migrate(conn, target=LATEST_VERSION + 1)
    assert current_version(conn) == 0
    assert "t_ok" not in conn.table_names()
    conn.close()


def test_newer_schema_is_refused_and_left_untouched(settings):
    conn = raw_connection(settings)
    conn.prepare_new()
    migrate(conn)
    conn.execute(
        "INSERT INTO cf_schema_version (version, description, applied_at) VALUES (?, ?, ?)",
        (LATEST_VERSION + 5, "from the future", 0),
    )
    conn.close()
    before = state(settings)
    db = Database(settings)
    with pytest.raises(SchemaTooNew) as err:
        db.query_all("SELECT 1")
    assert "newer" in err.value.message
    with pytest.raises(SchemaTooNew):
        db.execute("add a source", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('x','/',0,0)")
    db.close()
    assert state(settings) == before


def test_non_database_file_is_refused_and_left_untouched(settings):
    if settings.backend == "postgres":
        pytest.skip("a server has no database file to mistake")
    settings.db_path.write_bytes(b"this is a shopping list, not a database\n" * 200)
    before = digest(settings.db_path)
    with Database(settings) as db:
        with pytest.raises(NotADatabase) as err:
            db.query_all("SELECT 1")
    assert str(settings.db_path) in err.value.message
    assert digest(settings.db_path) == before


def test_sqlite_file_opened_as_duckdb_gets_a_hint(tmp_path):
    from casparian_tui.config import Settings

    sqlite_settings = Settings.resolve(db=tmp_path / "legacy.sqlite", env={})
    with Database(sqlite_settings) as db:
        db.query_all("SELECT 1")
    duck = Settings.resolve(db=tmp_path / "legacy.sqlite", backend="duckdb", wait_s=1, env={})
    before = digest(duck.db_path)
    with Database(duck) as db:
        with pytest.raises(NotADatabase) as err:
            db.query_all("SELECT 1")
    assert "--backend sqlite" in (err.value.hint or "")
    assert digest(duck.db_path) == before
