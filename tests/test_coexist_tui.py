"""The TUI side by side with other processes (issue 6, tests 2 and 7), Pilot in-process.

The other process is the real CLI (`casparian scan`), run with small batches
so that it commits many times on a tree that is quick to make, and paced until
the test has seen what it checks: how long an unpaced scan lasts depends on the
machine (a CI run once finished 100,000 files in three refreshes). See `PACED_CLI`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from casparian_tui.db.lease import read_holder
from casparian_tui.scout.testtree import make_tree

from conftest import REPO
from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until

# `casparian scan` exactly, except for the batch size (32,768 by default) and
# a pace: while the file argv[2] exists each batch is followed by a short pause,
# so the scan keeps committing and holding the lease for far longer than the
# test needs to look. The test then deletes the file, and the scan runs out.
PACED_CLI = """
import os, sys, time
from casparian_tui.scout import scanner
scanner.Scanner.__init__.__kwdefaults__["batch_rows"] = int(sys.argv[1])
pace = sys.argv[2]
write_batch = scanner.Scanner._write_batch
def paced(self, *args, **kwargs):
    done = write_batch(self, *args, **kwargs)
    if os.path.exists(pace):
        time.sleep(0.05)
    return done
scanner.Scanner._write_batch = paced
from casparian_tui.cli.main import main
sys.exit(main(sys.argv[3:]))
"""

HOLD_LEASE = """
import sys
from pathlib import Path
from casparian_tui.db.lease import WriterLease
lease = WriterLease(Path(sys.argv[1]), "casparian scan /evidence/host1")
assert lease.acquire(timeout=10)
print("held", flush=True)
sys.stdin.readline()
"""


def count_status_updates(monkeypatch) -> list[int]:
    """The status bar refreshes on a timer: counting its updates shows the UI loop runs."""
    from casparian_tui.tui.widgets.status_bar import StatusBar

    ticks = [0]
    original = StatusBar.update_status

    def counted(self):
        ticks[0] += 1
        original(self)

    monkeypatch.setattr(StatusBar, "update_status", counted)
    return ticks


async def poll(pilot, predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.02)
    return True


def status_text(app) -> str:
    return str(app.screen.query_one("StatusBar").render())


@pilot_test
async def test_tui_keeps_refreshing_and_names_the_scanning_process(tmp_path, monkeypatch):
    n = 50_000  # 500 batches of 100: paced, the scan would last at least 25 s
    tree = tmp_path / "tree"
    make_tree(tree, n, seed=2)
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch))
    db_path = app.db.path
    pace = tmp_path / "pace"
    pace.touch()
    scan = subprocess.Popen([sys.executable, "-c", PACED_CLI, "100", str(pace), "scan", str(tree), "--json"],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen, latencies, named, served = [], [], 0, 0

    def seen_enough() -> bool:
        # it kept refreshing, saw the catalog grow, and the status bar named the scanning
        # process while it wrote (three times: not one lucky frame)
        return len({c for c in seen if 0 < c < n}) >= 2 and named >= 3

    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            deadline = time.monotonic() + 30
            while (read_holder(db_path) or {}).get("pid") != scan.pid:
                assert scan.poll() is None and time.monotonic() < deadline, scan.stderr.read()
                await pilot.pause(0.01)
            # "locked by" until our first read, then "reading through": the scan serves our reads
            await wait_until(pilot, lambda: any(f"{state} PID {scan.pid}: casparian scan" in status_text(app)
                                                for state in ("locked by", "reading through")))
            discover = app.screen
            deadline = time.monotonic() + 60
            while not seen_enough() and scan.poll() is None and time.monotonic() < deadline:
                started = time.monotonic()
                await discover.load_sources()  # the screen's own refresh, through the actor
                count = await app.db_read(lambda c: c.query_value("SELECT count(*) FROM scout_files"))
                latencies.append(time.monotonic() - started)
                seen.append(count)
                named += f"PID {scan.pid}" in status_text(app)
                served += f"reading through PID {scan.pid}: casparian scan" in status_text(app)
                await pilot.pause(0.2)
            still_scanning = scan.poll() is None
            pace.unlink()
            out, err = scan.communicate(timeout=120)
            await wait_until(pilot, lambda: status_text(app).endswith("· writer"))  # the bar sees it go
    finally:
        if scan.poll() is None:
            scan.kill()
    assert scan.returncode == 0, err
    assert json.loads(out)["new"] == n  # the pace changed its speed, not what it wrote
    print("refreshes:", len(seen), "max latency", round(max(latencies), 3), "counts", seen[:8], "...")
    assert still_scanning and seen_enough(), (seen, named)
    assert served >= 1, "the TUI's reads were never served by the scan"
    assert max(latencies) < 2.0, latencies


@pilot_test
async def test_tui_write_waits_in_the_background_and_says_so(tmp_path, monkeypatch):
    from textual.widgets import DataTable

    from casparian_tui.tui.screens.dialogs import RuleRequest

    ticks = count_status_updates(monkeypatch)
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch).with_(wait_s=30))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LEASE, str(app.db.path)], cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held"
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.screen._create_rule("*.log", RuleRequest(tag="logs", priority=0))  # what the rule dialog submits
            # (tui_support.wait_until also waits for workers, and the write worker is the one waiting)
            waiting = f"waiting for lock (PID {holder.pid}: casparian scan /evidence/host1 (since "
            assert await poll(pilot, lambda: waiting in status_text(app)), status_text(app)
            before = ticks[0]
            assert await poll(pilot, lambda: ticks[0] >= before + 3)  # the UI keeps running meanwhile
            assert waiting in status_text(app) and not app._notifications  # still waiting, no error
            holder.stdin.write("\n")
            holder.stdin.flush()
            done = "Rule *.log → logs created: it tags "
            assert await poll(pilot, lambda: any(n.message.startswith(done) for n in app._notifications)), \
                [n.message for n in app._notifications]
            await settle(pilot)
            assert app.screen.query_one("#rules-table", DataTable).row_count == 1
            assert status_text(app).endswith("· writer")
    finally:
        holder.stdin.close() if not holder.stdin.closed else None
        holder.wait(10)
