"""Screens follow changes made by other processes, and an idle screen never queries the database.

The app watches the change stamp writers leave beside the database (db/change_signal.py);
a screen re-queries only when it moved.
"""

import asyncio

import pytest
from textual.widgets import DataTable, Static, Tree

from casparian_tui.db import change_signal
from casparian_tui.errors import ReadOnlyViolation
from casparian_tui.scout import rules
from conftest import FILE_BACKENDS, run_cli
from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until



# The change signal is a small file beside a database file. A PostgreSQL
# catalog has no such file that every host sees, so its screens only follow
# this process's own writes (a known gap); these tests cover the file backends.
@pytest.fixture(params=FILE_BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def demo_app(tmp_path, backend, monkeypatch):
    return make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)


# ---- the signal itself ------------------------------------------------------
def test_each_committed_write_moves_the_stamp_and_reads_do_not(db):
    assert change_signal.read(db.path) is None  # nothing written through this Database yet
    db.write("add a rule", lambda c: rules.add_rule(c, "*.csv", "csv"))
    first = change_signal.read(db.path)
    assert first
    db.read(lambda c: rules.list_rules(c))
    assert change_signal.read(db.path) == first
    db.write("add a rule", lambda c: rules.add_rule(c, "*.txt", "txt"))
    second = change_signal.read(db.path)
    assert second and second != first


def test_a_failed_or_refused_write_leaves_the_stamp(db):
    db.write("add a rule", lambda c: rules.add_rule(c, "*.csv", "csv"))
    before = change_signal.read(db.path)

    def fails(conn):
        rules.add_rule(conn, "*.log", "log")
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        db.write("fail", fails)
    assert change_signal.read(db.path) == before
    db.set_read_only(True).result()
    with pytest.raises(ReadOnlyViolation):
        db.write("add a rule", lambda c: rules.add_rule(c, "*.txt", "txt"))
    assert change_signal.read(db.path) == before


def test_a_removed_stamp_file_is_made_again(db):
    db.write("add a rule", lambda c: rules.add_rule(c, "*.csv", "csv"))
    change_signal.signal_path(db.path).unlink()
    db.write("add a rule", lambda c: rules.add_rule(c, "*.txt", "txt"))
    assert change_signal.read(db.path)


# ---- Discover follows other processes ---------------------------------------
def cell_texts(table: DataTable, column: int) -> list[str]:
    return [str(table.get_row(key)[column]) for key in table.rows]


def source_labels(screen) -> list[str]:
    return [str(node.label) for node in screen.query_one("#source-tree", Tree).root.children]


async def cli(app, *args: str):
    """The real CLI in another process, on the app's database; the app keeps running meanwhile."""
    res = await asyncio.to_thread(run_cli, "--db", str(app.db.path), "--backend", app.db.backend, *args)
    assert res.returncode == 0, res.stderr
    return res


@pilot_test
async def test_discover_shows_a_rule_and_a_scan_made_by_another_process(demo_app, tmp_path):
    app = demo_app
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    for i in range(7):
        (folder / f"note{i}.md").write_text("x")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        rules_table = screen.query_one("#rules-table", DataTable)
        assert "**/*.md" not in cell_texts(rules_table, 0)
        before_info = str(screen.query_one("#table-info", Static).render())

        await cli(app, "rule", "add", "**/*.md", "--tag", "notes")
        await wait_until(pilot, lambda: "**/*.md" in cell_texts(rules_table, 0), timeout=60)

        await cli(app, "scan", str(folder))
        # The source row is committed before the scan's files, so a reload between the two commits shows it
        # with no files yet; the scan's last commit moves the stamp again and the count follows.
        await wait_until(pilot, lambda: any(label.startswith("elsewhere ·") and "7 files" in label
                                            for label in source_labels(screen)), timeout=60)
        await wait_until(pilot, lambda: str(screen.query_one("#table-info", Static).render()) != before_info,
                         timeout=60)


@pilot_test
async def test_discover_catches_up_when_it_comes_back(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        discover = app.screen
        await pilot.press("2")
        await settle(pilot)
        await cli(app, "rule", "add", "**/*.zz", "--tag", "zz")
        await wait_until(pilot, lambda: discover.stale, timeout=60)  # noticed while away…
        rules_table = discover.query_one("#rules-table", DataTable)
        assert "**/*.zz" not in cell_texts(rules_table, 0)  # …but not loaded by a hidden screen
        await pilot.press("1")
        await wait_until(pilot, lambda: "**/*.zz" in cell_texts(rules_table, 0), timeout=60)


# ---- idle costs nothing -------------------------------------------------------
@pytest.mark.parametrize("key", ["1", "2", "4"])
@pilot_test
async def test_an_idle_screen_does_not_query_the_database(demo_app, monkeypatch, key):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        reads, stamps = [0], [0]
        submit_read, read_stamp = app.db.submit_read, change_signal.read

        def counted_read(fn):
            reads[0] += 1
            return submit_read(fn)

        def counted_stamp(path):
            stamps[0] += 1
            return read_stamp(path)

        monkeypatch.setattr(app.db, "submit_read", counted_read)
        monkeypatch.setattr(change_signal, "read", counted_stamp)
        # The app's watcher ticks every 0.2 s here; the screens' own timers (status bar,
        # Settings) tick meanwhile too.
        await wait_until(pilot, lambda: stamps[0] >= 6)
        assert reads[0] == 0
        # The test can fail: once the stamp moves, the shown screen reads again.
        await asyncio.to_thread(app.db.write, "add a rule", lambda c: rules.add_rule(c, "*.qq", "qq"))
        await wait_until(pilot, lambda: reads[0] > 0)
