"""Helpers for driving the TUI in tests: a database with or without the demo corpus."""

from __future__ import annotations

import os
from pathlib import Path

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.tui.app import CasparianApp

SIZE = (130, 40)


def tui_settings(tmp_path: Path, backend: str, monkeypatch) -> Settings:
    """A home under a fake $HOME so paths show as ~/.casparian_flow/... in every run."""
    monkeypatch.setenv("HOME", str(tmp_path))
    home = tmp_path / ".casparian_flow"
    monkeypatch.setenv("CASPARIAN_HOME", str(home))
    return Settings.resolve(backend=backend, wait_s=5, command="casparian tui", env=dict(os.environ)).with_(
        idle_grace_s=0.1
    )


def make_app(settings: Settings, *, demo: bool = False, read_only: bool = False) -> CasparianApp:
    db = Database(settings)
    db.query_value("SELECT 1")  # create and migrate before the UI starts
    if demo:
        from casparian_tui.scout.demo import ensure_demo

        ensure_demo(db)
    if read_only:
        db.set_read_only(True).result()
    return CasparianApp(db, status_interval=0.1, deterministic=True)


async def settle(pilot, rounds: int = 3) -> None:
    """Let queued messages, timers and workers finish (no fixed sleeps)."""
    for _ in range(rounds):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def wait_until(pilot, predicate, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()


def pilot_test(fn):
    """Run an async test body with asyncio.run (no async pytest plugin needed)."""
    import asyncio
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper
