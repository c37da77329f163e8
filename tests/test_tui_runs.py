"""Runs started from the TUI: a separate background process, its progress on the status bar.

Real processes: the run is `python -m casparian_tui run ...` started by the
TUI in its own session; the test waits for its jobs to complete in the
database and for the TUI to say so (from the change stamp, never a poll).
"""

from pathlib import Path

from tui_support import SIZE, make_app, pilot_test, settle, tui_settings


async def wait_until(pilot, predicate, timeout: float = 10.0) -> None:
    """Like tui_support's, without waiting on workers: while a run writes, the
    Jobs screen's exclusive refresh is cancelled by the next one, by design."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)

from casparian_tui.sentinel import jobs
from casparian_tui.scout import tags

PARSER = Path("assets/parsers/jsonl_records.py")
TAG = "pick"


def app_with_tagged_files(tmp_path, monkeypatch, n: int = 3, read_only: bool = False, backend: str = "duckdb"):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)

    def pick(conn):
        ids = [r[0] for r in conn.query_all(
            "SELECT id FROM scout_files WHERE extension = 'jsonl' ORDER BY rel_path LIMIT ?", (n,))]
        tags.tag_file_ids(conn, ids, TAG)
        return ids

    app.db.write("tag a few files", pick)
    if read_only:
        app.db.set_read_only(True).result()
    return app


def record_notifications(app) -> list[str]:
    seen: list[str] = []
    original = app.notify

    def notify(message, *args, **kwargs):
        seen.append(str(message))
        return original(message, *args, **kwargs)

    app.notify = notify
    return seen


async def press_r_in_bench(pilot) -> None:
    """Parser Bench with the form filled (parser, tag) and the parser list focused, then r."""
    await settle(pilot)
    await pilot.press("3")
    await settle(pilot)
    screen = pilot.app.screen
    screen.query_one("#bench-parser").value = str(PARSER)
    screen.query_one("#bench-tag").value = TAG
    screen.query_one("#bench-parsers").focus()
    await pilot.press("r")


@pilot_test
async def test_r_in_parser_bench_runs_the_parser_in_the_background_until_done(tmp_path, backend, monkeypatch):
    app = app_with_tagged_files(tmp_path, monkeypatch, backend=backend)
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await press_r_in_bench(pilot)
        await wait_until(pilot, lambda: any("Started jsonl_records" in m for m in seen), timeout=30)
        assert any("quitting the TUI does not stop it" in m for m in seen)
        assert "run jsonl_records on pick" in app.run_progress
        from casparian_tui.tui.widgets.status_bar import StatusBar

        bar = app.screen.query_one(StatusBar)
        # On the status bar while it runs (a fresh process with workers: seconds, the bar ticks every 0.1 s).
        await wait_until(pilot, lambda: "run jsonl_records on pick" in str(bar.render()))
        await wait_until(pilot, lambda: not app.runs.runs, timeout=180)
        finished = [m for m in seen if m.startswith("Run ")]
        assert finished and "finished" in finished[-1] and "3 done" in finished[-1], finished
        assert app.run_progress == ""
        counts = app.db.read(lambda c: jobs.counts(c, parser="jsonl_records"))
        assert counts["COMPLETED"] == 3


@pilot_test
async def test_n_in_jobs_asks_for_parser_and_tag_and_the_queue_fills(tmp_path, monkeypatch):
    app = app_with_tagged_files(tmp_path, monkeypatch, n=2)
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press(*str(PARSER), "tab", *TAG, "enter")
        await wait_until(pilot, lambda: any("Started jsonl_records" in m for m in seen), timeout=30)
        await wait_until(pilot, lambda: not app.runs.runs, timeout=180)
        # The Jobs screen shows the run's jobs, refreshed by the change stamp.
        table = app.screen.query_one("#jobs-table")
        await wait_until(pilot, lambda: table.row_count == 2)
        assert {str(table.get_row_at(i)[1]) for i in range(2)} == {"completed"}


@pilot_test
async def test_read_only_refuses_to_start_a_run(tmp_path, monkeypatch):
    app = app_with_tagged_files(tmp_path, monkeypatch, read_only=True)
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await press_r_in_bench(pilot)
        await settle(pilot)
        await pilot.press("2", "n")
        await settle(pilot)
        assert [m for m in seen if "Read-only: cannot start a run" in m] and len(seen) == 2
        assert app.runs.runs == [] and not (app.db.settings.home / "logs").exists()
