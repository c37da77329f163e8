"""On PostgreSQL the TUI follows writes made by processes on other hosts (NOTIFY, not the stamp file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from textual.widgets import Static

from tui_support import SIZE, make_app, pilot_test, seed_jobs, settle, tui_settings, wait_until

REPO = Path(__file__).resolve().parents[1]


@pilot_test
async def test_a_write_from_another_host_reaches_the_jobs_screen(tmp_path, pg_dsn, monkeypatch):
    monkeypatch.setenv("CASPARIAN_DB", pg_dsn)
    app = make_app(tui_settings(tmp_path, "postgres", monkeypatch), demo=True)
    ids = seed_jobs(app.db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await settle(pilot)

        def counts() -> str:
            return str(app.screen.query_one("#jobs-counts", Static).render())

        assert "cancelled 0" in counts()
        # Another home (so another stamp file nobody here reads) and another host name.
        env = dict(os.environ, CASPARIAN_HOME=str(tmp_path / "other-host"), CASPARIAN_HOSTNAME="other-host")
        done = subprocess.run(
            [sys.executable, "-m", "casparian_tui", "--db", pg_dsn, "job", "cancel", str(ids["queued"])],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,  # a guard, not a bound
        )
        assert done.returncode == 0, done.stderr
        await wait_until(pilot, lambda: "cancelled 1" in counts(), timeout=30)
