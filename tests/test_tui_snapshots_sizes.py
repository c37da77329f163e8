"""SVG snapshots of every screen at 80x24 and at 200x50: the layout fits a small terminal and uses a big one.

Baselines are in snapshots/test_tui_snapshots_sizes/; look at each one before
accepting it (`pytest tests/test_tui_snapshots_sizes.py --snapshot-update`).
Same deterministic set-up as test_tui_snapshots.py.
"""

import pytest

from test_tui_snapshots import build, open_file_detail, pin_scan_times, query_app
from tui_support import settle, wait_until

SIZES = {"80x24": (80, 24), "200x50": (200, 50)}


async def _mode(pilot, key: str) -> None:
    await settle(pilot)
    await pilot.press(key)
    await settle(pilot, rounds=4)


async def _outputs(pilot) -> None:
    await _mode(pilot, "5")
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: getattr(pilot.app.screen, "outputs", None))
    await pilot.press("enter")
    grid = pilot.app.screen.query_one("#outputs-grid")
    await wait_until(pilot, lambda: grid.result is not None and grid.result.row_count is not None)
    await settle(pilot)


SCREENS = {
    "discover": lambda pilot: _mode(pilot, "1"),
    "jobs": lambda pilot: _mode(pilot, "2"),
    # No parser picked: the form would show the checkout's absolute path to the sample parsers.
    "bench": lambda pilot: _mode(pilot, "3"),
    "settings": lambda pilot: _mode(pilot, "4"),
    "query": lambda pilot: _mode(pilot, "5"),
    "outputs": _outputs,
    "file_detail": open_file_detail,
}


@pytest.fixture(autouse=True)
def _utc(utc):
    """Times on screen in UTC (the shared `utc` fixture)."""


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_at_size(snap_compare, tmp_path, monkeypatch, screen, size):
    app = query_app(tmp_path, monkeypatch) if screen == "outputs" else build(tmp_path, monkeypatch, "normal")
    if screen == "file_detail":
        pin_scan_times(app)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=SCREENS[screen])


def test_jobs_new_run_dialog_at_80x24(snap_compare, tmp_path, monkeypatch):
    """n on Jobs: which parser over which tag; it says the run outlives the TUI."""
    app = build(tmp_path, monkeypatch, "normal")

    async def open_dialog(pilot):
        await _mode(pilot, "2")
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*"assets/parsers/csv_rows.py")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZES["80x24"], run_before=open_dialog)
