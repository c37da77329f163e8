"""SVG snapshots of every screen in a normal, an empty and a read-only state.

Baselines are in snapshots/test_tui_snapshots/; look at each one before
accepting it (`pytest tests/test_tui_snapshots.py --snapshot-update`).
Deterministic: fixed size, UTC, fixed demo corpus and job timestamps, a fake
$HOME so paths read ~/.casparian_flow/..., no blinking cursors.
"""

import time

import pytest

from tui_support import SIZE, make_app, seed_jobs, settle, tui_settings

SCREENS = {"discover": "1", "jobs": "2", "bench": "3", "settings": "4"}


@pytest.fixture(autouse=True)
def _utc(utc):
    """Times on screen in UTC (the shared `utc` fixture)."""


def build(tmp_path, monkeypatch, state):
    settings = tui_settings(tmp_path, "duckdb", monkeypatch)
    if state == "empty":
        return make_app(settings)
    app = make_app(settings, demo=True)
    seed_jobs(app.db)
    if state == "read_only":
        app.db.set_read_only(True).result()
    return app


@pytest.mark.parametrize("state", ["normal", "empty", "read_only"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, tmp_path, monkeypatch, screen, state):
    app = build(tmp_path, monkeypatch, state)

    async def go_to_screen(pilot):
        await settle(pilot)
        await pilot.press(SCREENS[screen])
        await settle(pilot, rounds=4)

    assert snap_compare(app, terminal_size=SIZE, run_before=go_to_screen)


def test_discover_pattern_preview(snap_compare, tmp_path, monkeypatch):
    app = build(tmp_path, monkeypatch, "normal")

    async def type_pattern(pilot):
        await settle(pilot)
        await pilot.press("slash", *"logs/**/*.log")
        await pilot.pause(0.3)
        await settle(pilot, rounds=4)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=type_pattern)


def test_help(snap_compare, tmp_path, monkeypatch):
    app = build(tmp_path, monkeypatch, "normal")

    async def open_help(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)
