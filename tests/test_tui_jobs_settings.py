"""Jobs and Settings screens through Pilot (both backends)."""


import pytest
from textual.widgets import DataTable, Static, Switch

from tui_support import SIZE, make_app, pilot_test, seed_jobs, settle, tui_settings, wait_until
from casparian_tui.tui.screens.dialogs import ConfirmDialog


@pytest.fixture(autouse=True)
def _utc(utc):
    """Times on screen in UTC (the shared `utc` fixture)."""


@pilot_test
async def test_jobs_view_shows_states_and_retries_a_dead_letter(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    ids = seed_jobs(app.db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        counts = str(screen.query_one("#jobs-counts", Static).render())
        assert "completed 1" in counts and "failed 1" in counts and "dead letter 1" in counts and "queued 2" in counts
        table = screen.query_one("#jobs-table", DataTable)
        assert table.row_count == 4
        # the detail of the job that failed once shows its error and traceback
        row = [str(k.value) for k in table.rows].index(str(ids["retried"]))
        table.move_cursor(row=row)
        await settle(pilot)
        detail = str(screen.query_one("#job-detail", Static).render())
        assert "bad header in row 1" in detail and "Traceback" in detail and "retry_scheduled" in detail
        # requeue the dead-lettered job from the dead-letter tab
        await pilot.press("tab")  # focus the tabs
        screen.query_one("#jobs-tabs").active = "tab-dead"
        await settle(pilot)
        screen.query_one("#dead-table", DataTable).focus()
        await pilot.press("R")
        await wait_until(pilot, lambda: app.db.query_value("SELECT status FROM cf_processing_queue WHERE id = ?", (ids["dead"],)) == "QUEUED")
        assert app.db.query_value("SELECT count(*) FROM cf_dead_letter") == 0


@pilot_test
async def test_jobs_view_follows_changes_made_elsewhere(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    ids = seed_jobs(app.db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        from casparian_tui.sentinel import jobs

        app.db.write("cancel", lambda c: jobs.cancel(c, ids["queued"]))  # as another command would
        await wait_until(pilot, lambda: "cancelled 1" in str(app.screen.query_one("#jobs-counts", Static).render()))


@pilot_test
async def test_settings_show_the_lease_and_switch_read_only(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        table = app.screen.query_one("#settings-table", DataTable)
        values = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert values["backend"] == backend
        assert values["schema version"] == str(__import__("casparian_tui.db.schema", fromlist=["x"]).LATEST_VERSION)
        if backend == "postgres":  # host:port/dbname, never credentials; no lease
            assert values["lease"] == "shared server, no lease"
            from casparian_tui.db.pg_dsn import describe

            assert values["database"] == describe(app.db.settings.dsn) and "/cf_test_" in values["database"]
            assert "@" not in values["database"]
        else:
            assert values["lease"] == "writer"
            assert values["database file"].startswith("~/.casparian_flow/")
        app.screen.query_one("#read-only", Switch).value = True
        await wait_until(pilot, lambda: app.db.read_only)
        await settle(pilot)
        status = str(app.screen.query_one("StatusBar").render())
        assert "READ-ONLY" in status and "read-only" in status
        await pilot.press("1", "s")
        await pilot.pause()
        assert any("Read-only" in n.message for n in app._notifications)
        await pilot.press("4")
        await settle(pilot)
        await pilot.press("w")  # asks first
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.db.read_only)
        await settle(pilot)
        assert ("shared server" if backend == "postgres" else "writer") in str(app.screen.query_one("StatusBar").render())


@pilot_test
async def test_status_bar_names_another_writer(tmp_path, backend, monkeypatch):
    import subprocess
    import sys

    if backend == "postgres":
        pytest.skip("no lease on a server: nobody is named as the writer")

    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    code = (
        "import sys; from pathlib import Path; from casparian_tui.db.lease import WriterLease\n"
        "l = WriterLease(Path(sys.argv[1]), 'casparian scan /evidence'); assert l.acquire(5)\n"
        "l.set_activity('scanning 12,345 files'); print('held', flush=True); sys.stdin.readline()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(app.db.path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await wait_until(pilot, lambda: f"locked by PID {proc.pid}" in str(app.screen.query_one("StatusBar").render()))
            status = str(app.screen.query_one("StatusBar").render())
            assert "casparian scan /evidence" in status and "scanning 12,345 files" in status
    finally:
        proc.communicate("\n", timeout=10)


@pilot_test
async def test_leaving_read_only_asks_first(tmp_path, monkeypatch):
    """Read-only asked for on the command line: w (or the switch) asks; only yes leaves it."""
    settings = tui_settings(tmp_path, "duckdb", monkeypatch)
    make_app(settings, demo=True).db.close()  # the catalog exists; now open it as `tui --read-only` does
    app = make_app(settings.with_(read_only=True))
    assert app.db.read_only
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        settings_screen = app.screen
        for no in ("n", "escape", "enter"):  # Enter presses the focused button: stay read-only
            await pilot.press("w")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "started read-only" in str(app.screen.query_one("#confirm-body").render())
            await pilot.press(no)
            await wait_until(pilot, lambda: app.screen is settings_screen)
            await settle(pilot)
            assert app.db.read_only, no
        settings_screen.query_one("#read-only", Switch).value = False  # the switch asks too
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is settings_screen)
        await settle(pilot)
        assert app.db.read_only and settings_screen.query_one("#read-only", Switch).value
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.db.read_only)


@pilot_test
async def test_jobs_view_lists_the_workers(tmp_path, backend, monkeypatch):
    from casparian_tui.sentinel import queue as q
    from casparian_tui.sentinel import registry

    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    seed_jobs(app.db)
    owner = "host-a:4242:test"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)
        panel = app.screen.query_one("#jobs-workers", Static)
        assert not panel.display  # no worker ever registered: no panel

        def start(conn):  # as `casparian worker` on another host would
            registry.worker_started(conn, owner, "host-a", 4242, ["csv_rows"])
            job = q.claim_batch(conn, owner, 1)[0]
            registry.worker_heartbeat(conn, owner, "running csv_rows", job.id, 0)
            return job.id

        job_id = app.db.write("worker", start)

        def shown() -> str:
            return str(panel.render()) if panel.display else ""

        await wait_until(pilot, lambda: "host-a" in shown())
        line = shown()
        assert "workers 1" in line and "pid 4242" in line and f"job {job_id}" in line and "held 1" in line
        assert "csv_rows" in line and "heartbeat " in line

        app.db.write("worker", lambda c: registry.worker_stopped(c, owner, 0))
        await wait_until(pilot, lambda: not panel.display)


@pilot_test
async def test_a_hidden_screens_status_bar_catches_up_when_it_comes_back(tmp_path, monkeypatch):
    # Hidden screens' bars skip their ticks (an idle TUI costs nothing); the timer here
    # never fires, so only the catch-up on coming back can show the new activity.
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch))
    app.status_interval = 3600
    async with app.run_test(size=SIZE) as pilot:
        for key in ("2", "3", "2"):
            await pilot.press(key)
            await settle(pilot)
        app.activity = "exporting 7 rows"
        await pilot.press("3")
        await settle(pilot)
        assert "exporting 7 rows" in str(app.screen.query_one("StatusBar").render())
