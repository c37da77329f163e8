"""Shared fixtures: every service test runs on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database

BACKENDS = ["duckdb", "sqlite"]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """No test ever touches the real ~/.casparian_flow."""
    home = tmp_path / "home"
    monkeypatch.setenv("CASPARIAN_HOME", str(home))
    for var in ("CASPARIAN_DB", "CASPARIAN_BACKEND", "CASPARIAN_READONLY", "CASPARIAN_IDLE_GRACE"):
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
def backend(request) -> str:
    return request.param


@pytest.fixture
def settings(backend, tmp_path) -> Settings:
    suffix = "duckdb" if backend == "duckdb" else "sqlite"
    return Settings.resolve(
        db=tmp_path / f"test.{suffix}", backend=backend, wait_s=5.0, command="pytest", env={}
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
