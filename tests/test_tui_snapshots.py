"""SVG snapshots of every screen in a normal, an empty and a read-only state.

Baselines are in snapshots/test_tui_snapshots/; look at each one before
accepting it (`pytest tests/test_tui_snapshots.py --snapshot-update`).
Deterministic: fixed size, UTC, fixed demo corpus and job timestamps, a fake
$HOME so paths read ~/.casparian_flow/..., no blinking cursors.
"""


import pytest

from tui_support import SIZE, make_app, seed_jobs, settle, tui_settings

SCREENS = {"discover": "1", "jobs": "2", "bench": "3", "settings": "4", "query": "5"}


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


def test_discover_untag_dialog(snap_compare, tmp_path, monkeypatch):
    app = build(tmp_path, monkeypatch, "normal")

    async def open_untag(pilot):
        await settle(pilot)
        await pilot.press("space", "space", "u")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_untag)


def test_discover_rule_delete_confirm(snap_compare, tmp_path, monkeypatch):
    """A disabled rule (struck through, `off`) in the focused Rules panel, then `d` on the next rule."""
    app = build(tmp_path, monkeypatch, "normal")

    async def disable_then_delete(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#rules-table").focus()
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot, rounds=4)
        await pilot.press("down", "d")
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=disable_then_delete)


def pin_scan_times(app) -> None:
    """Times the file detail shows, fixed for snapshots."""
    from tui_support import FIXED_US

    app.db.write("fix the scan times", lambda c: c.execute(
        "UPDATE scout_files SET first_seen_at = ?, last_seen_at = ?", (FIXED_US, FIXED_US)))
    # "last seen" also counts the latest complete scan (unchanged rows are not rewritten)
    app.db.write("fix the scan runs", lambda c: c.execute("UPDATE scout_scan_runs SET started_at = ?", (FIXED_US,)))


async def open_file_detail(pilot) -> None:
    """Filter to csv files, then Enter on the first one."""
    await settle(pilot)
    await pilot.press("f")
    await settle(pilot)
    await pilot.press(*"csv", "enter")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


def test_discover_file_detail(snap_compare, tmp_path, monkeypatch):
    """Enter on a csv file with a completed job: its tags and why, the job and its rows."""
    app = build(tmp_path, monkeypatch, "normal")
    pin_scan_times(app)
    assert snap_compare(app, terminal_size=SIZE, run_before=open_file_detail)


# ---- the Query screen and the Outputs browser -------------------------------------------------
def query_app(tmp_path, monkeypatch):
    from test_tui_query import write_outputs

    app = build(tmp_path, monkeypatch, "normal")
    write_outputs(app.db.settings.home)
    return app


async def _run_sql(pilot, sql: str) -> None:
    from tui_support import wait_until

    await settle(pilot)
    await pilot.press("5")
    await settle(pilot)
    pilot.app.screen.query_one("#query-editor").text = sql
    await pilot.press("f5")
    grid = pilot.app.screen.query_one("#query-results")
    await wait_until(pilot, lambda: not grid.running and grid.result is not None
                     and (grid.result.row_count is not None or "✗" in str(grid.query_one(".grid-summary").render())))
    await settle(pilot)


@pytest.mark.parametrize("sql", [
    "SELECT level, count(*) AS n, min(line) AS first_line\nFROM outputs.log_lines_log_lines\nGROUP BY 1 ORDER BY 2 DESC",
    "SELECT * FROM no_such_table",
], ids=["results", "error"])
def test_query_screen(snap_compare, tmp_path, monkeypatch, sql):
    app = query_app(tmp_path, monkeypatch)

    async def run_it(pilot):
        await _run_sql(pilot, sql)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_it)


def test_query_frequency(snap_compare, tmp_path, monkeypatch):
    app = query_app(tmp_path, monkeypatch)

    async def frequency(pilot):
        from tui_support import wait_until

        await _run_sql(pilot, "SELECT level, line FROM outputs.log_lines_log_lines")
        pilot.app.screen.query_one("#query-results .grid-table").focus()
        await pilot.press("f")
        await wait_until(pilot, lambda: pilot.app.screen.has_class("frequency-screen"))
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=frequency)


@pytest.mark.parametrize("view", ["outputs", "quarantine"])
def test_outputs_browser(snap_compare, tmp_path, monkeypatch, view):
    app = query_app(tmp_path, monkeypatch)

    async def browse(pilot):
        from tui_support import wait_until

        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: getattr(pilot.app.screen, "outputs", None))
        await pilot.press("b" if view == "quarantine" else "enter")
        grid = pilot.app.screen.query_one("#outputs-grid")
        await wait_until(pilot, lambda: grid.result is not None and grid.result.row_count is not None)
        if view == "quarantine":
            grid.table.focus()
            grid.table.move_cursor(row=0)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=browse)
