"""Shared fixtures: every service test runs on every backend.

PostgreSQL comes from `tests/support/pg.py` (casparian_tui/db/pg_cluster.py): a throwaway cluster for the
session (or `CASPARIAN_TEST_PG_DSN`), one fresh database per test. Without
either the postgres cases skip with the reason; under CI=true that skip is a
failure, so CI cannot quietly stop testing the backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database
from support import pg

FILE_BACKENDS = ["duckdb", "sqlite"]
BACKENDS = [*FILE_BACKENDS, "postgres"]
REPO = Path(__file__).resolve().parent.parent


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must test PostgreSQL, but: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster():
    """The session's PostgreSQL server, with a migrated template database."""
    reason = pg.unavailable_reason()
    if reason:
        skip_or_fail(reason)
    cluster = pg.Cluster()
    cluster.start()
    try:
        cluster.make_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_dsn(pg_cluster) -> str:
    """A fresh, migrated database of this test's own."""
    return pg_cluster.new_database()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """No test ever touches the real ~/.casparian_flow."""
    home = tmp_path / "home"
    monkeypatch.setenv("CASPARIAN_HOME", str(home))
    for var in ("CASPARIAN_DB", "CASPARIAN_BACKEND", "CASPARIAN_READONLY", "CASPARIAN_IDLE_GRACE",
                "CASPARIAN_OUTPUT", "CASPARIAN_HOSTNAME"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC for the test (times shown on screen and in snapshots)."""
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch) -> str:
    if request.param == "postgres":
        # The CLI in a subprocess finds the test's database the way a user's would.
        monkeypatch.setenv("CASPARIAN_DB", request.getfixturevalue("pg_dsn"))
    return request.param


@pytest.fixture
def db_url(backend, tmp_path, request) -> str:
    """What --db / CASPARIAN_DB is for this test's backend: a file path or a PostgreSQL DSN."""
    if backend == "postgres":
        return request.getfixturevalue("pg_dsn")
    suffix = "duckdb" if backend == "duckdb" else "sqlite"
    return str(tmp_path / f"test.{suffix}")


def raw_connection(settings: Settings):
    """A connection of the test's backend opened directly, without the actor."""
    if settings.backend == "postgres":
        from casparian_tui.db.postgres_backend import PostgresConnection

        return PostgresConnection(settings.dsn, read_only=False)
    from casparian_tui.db.duckdb_backend import DuckDBConnection
    from casparian_tui.db.sqlite_backend import SQLiteConnection

    factory = DuckDBConnection if settings.backend == "duckdb" else SQLiteConnection
    return factory(settings.db_path, read_only=False)


@pytest.fixture
def settings(backend, db_url) -> Settings:
    return Settings.resolve(
        db=db_url, backend=backend, wait_s=5.0, command="pytest", env={}
    ).with_(idle_grace_s=0.1)


@pytest.fixture
def db(settings):
    database = Database(settings)
    yield database
    database.close()


def run_cli(*args: str, env: dict | None = None, timeout: float = 120, input: str | None = None):
    """Run the real `casparian` in a subprocess (same interpreter)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "casparian_tui", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        input=input,
        cwd=REPO,
    )


@pytest.fixture
def cli():
    return run_cli


def _snapshots_in_top_level_folder() -> None:
    """SVG baselines live in <repo>/snapshots/<test module>/, not tests/__snapshots__/."""
    try:
        import pytest_textual_snapshot as pts
    except ImportError:  # the plugin is only needed by the snapshot tests
        return

    class TopLevelSVGExtension(pts.SVGImageExtension):
        @classmethod
        def dirname(cls, *, test_location) -> str:
            return str(REPO / "snapshots" / test_location.basename)

    pts.SVGImageExtension = TopLevelSVGExtension


_snapshots_in_top_level_folder()
