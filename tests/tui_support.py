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
        await workers_done(pilot.app)
    await pilot.pause()


async def workers_done(app) -> None:
    """Until the app's workers have ended; one cancelled on the way (an exclusive worker replaced
    by a newer one, by design) is not a failure of the test."""
    import asyncio

    from textual.worker import WorkerCancelled

    for outcome in await asyncio.gather(*[worker.wait() for worker in app.workers], return_exceptions=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, WorkerCancelled):
            raise outcome


async def wait_until(pilot, predicate, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)
        await workers_done(pilot.app)


def pilot_test(fn):
    """Run an async test body with asyncio.run (no async pytest plugin needed)."""
    import asyncio
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


FIXED_US = 1_767_268_800_000_000  # 2026-01-01 12:00 UTC: snapshots must not show the clock


def seed_jobs(db) -> dict[str, int]:
    """One completed job, one that failed once (back in the queue), one dead-lettered, one queued."""
    import pyarrow as pa

    from casparian_tui.sentinel import queue as q

    def build(conn):
        files = [r[0] for r in conn.query_all("SELECT id FROM scout_files WHERE extension = 'csv' ORDER BY rel_path LIMIT 4")]
        ids = q.enqueue(
            conn,
            pa.table(
                {
                    "file_id": pa.array(files, pa.int64()),
                    "parser_name": ["csv_rows"] * 4,
                    "parser_version": ["1.0"] * 4,
                    "parser_fingerprint": ["f" * 16] * 4,
                    "max_attempts": pa.array([3, 3, 1, 3], pa.int32()),
                }
            ),
        )
        claimed = q.claim_batch(conn, "w1", 3, now=FIXED_US)
        by_id = {c.id: c for c in claimed}
        done, retried, dead = ids[0], ids[1], ids[2]
        q.complete_batch(conn, "w1", [q.Completion(done, by_id[done].attempts, rows_out=12)], now=FIXED_US)
        q.fail_batch(
            conn, "w1",
            [q.Failure(retried, by_id[retried].attempts, "ValueError: bad header in row 1", "Traceback (most recent call last):\n  File \"csv_rows.py\", line 20, in parse\nValueError: bad header in row 1"),
             q.Failure(dead, by_id[dead].attempts, "UnicodeDecodeError: invalid start byte", None)],
            now=FIXED_US,
        )
        for table, cols in (
            ("cf_processing_queue", ("created_at", "updated_at")),
            ("cf_job_events", ("event_at",)),
            ("cf_dead_letter", ("created_at",)),
        ):
            conn.execute(f"UPDATE {table} SET " + ", ".join(f"{c} = ?" for c in cols), [FIXED_US] * len(cols))
        conn.execute("UPDATE cf_processing_queue SET finished_at = ? WHERE finished_at IS NOT NULL", [FIXED_US])
        conn.execute("UPDATE cf_processing_queue SET run_after = ? WHERE status = 'QUEUED'", [FIXED_US])
        return {"completed": done, "retried": retried, "dead": dead, "queued": ids[3]}

    return db.write("seed jobs", build)
