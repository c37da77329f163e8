"""Discover workflows through Pilot (in-process, both backends)."""

import pytest
from textual.widgets import DataTable, Static

from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


def cell_texts(table: DataTable, column: str) -> list[str]:
    return [str(table.get_cell(row_key, column)) for row_key in table.rows]


@pytest.fixture
def demo_app(tmp_path, backend, monkeypatch):
    return make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)


@pilot_test
async def test_empty_catalog_says_how_to_add_a_source(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        empty = app.screen.query_one("#empty-state", Static)
        assert empty.display
        assert "Press s to add a folder" in str(empty.render())


@pilot_test
async def test_add_source_scans_and_reports_files_found(tmp_path, backend, monkeypatch):
    corpus = tmp_path / "evidence"
    for i in range(37):
        (corpus / f"d{i % 4}").mkdir(parents=True, exist_ok=True)
        (corpus / f"d{i % 4}" / f"f{i}.txt").write_text("x" * i)
    app = make_app(tui_settings(tmp_path, backend, monkeypatch))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        # a missing path is an inline error, the dialog stays
        await pilot.press(*"/no/such/folder", "enter")
        await pilot.pause()
        err = app.screen.query_one("#dialog-error", Static)
        assert "No such folder" in str(err.render())
        app.screen.query_one("#path").value = str(corpus)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "files found" in str(app.screen.query_one("#scan-label", Static).render()))
        assert "37 files found" in str(app.screen.query_one("#scan-label", Static).render())
        # An indeterminate bar would go on redrawing 15 times a second, hidden or not.
        assert app.screen.query_one("#scan-bar").percentage is not None
        await settle(pilot)
        table = app.screen.query_one("#files", DataTable)
        assert table.row_count == 37
        assert app.db.query_value("SELECT count(*) FROM scout_files") == 37


@pilot_test
async def test_pattern_preview_then_rule_tags_the_files(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"*.txt")
        await wait_until(pilot, lambda: app.screen.last_preview is not None and app.screen.last_preview.pattern == "*.txt")
        preview = app.screen.last_preview
        assert preview.count == 101  # 100 notes + "docs/notes with spaces.txt"
        assert "txt" in preview.by_extension
        assert len(preview.sample) == 20
        await pilot.press("enter")  # keep the pattern, back to the table
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"notes")
        app.screen.query_one("#priority").value = "5"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.db.query_value("SELECT count(*) FROM scout_file_tags WHERE tag = 'notes'") == 101)
        await settle(pilot)
        table = app.screen.query_one("#files", DataTable)
        assert set(cell_texts(table, "tags")) == {"notes"}


@pilot_test
async def test_invalid_pattern_is_an_inline_message(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"[abc")
        await wait_until(pilot, lambda: "✗" in str(app.screen.query_one("#preview", Static).render()))


@pilot_test
async def test_stale_preview_answers_are_dropped(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"*.csv")
        await pilot.press(*"x")  # "*.csvx" supersedes "*.csv" before its answer shows
        await wait_until(pilot, lambda: app.screen.last_preview is not None)
        await settle(pilot)
        assert app.screen.last_preview.pattern == "*.csvx"
        assert app.screen.last_preview.count == 0


@pilot_test
async def test_select_and_tag_files(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")
        assert len(app.screen.selected) == 2
        chosen = set(app.screen.selected)
        await pilot.press("t")
        await pilot.pause()
        await pilot.press(*"keep", "enter")
        await wait_until(pilot, lambda: app.db.query_value("SELECT count(*) FROM scout_file_tags WHERE tag = 'keep'") == 2)
        ids = {r[0] for r in app.db.query_all("SELECT file_id FROM scout_file_tags WHERE tag = 'keep' AND tag_source = 'manual'")}
        assert ids == chosen


@pilot_test
async def test_read_only_refuses_write_keys_with_a_message(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "DiscoverScreen"  # no dialog opened
        assert any("Read-only: cannot add a source" in n.message for n in app._notifications)
        assert app.db.query_value("SELECT count(*) FROM scout_sources") == 1


@pilot_test
async def test_a_key_right_after_enter_in_the_pattern_box_reaches_the_table(demo_app):
    """Enter then `n` typed faster than the app handles them (as a person or tmux can):
    the `n` must open the rule dialog, not be typed into the pattern box."""
    from textual import events

    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"*.txt")
        box = app.screen.query_one("#pattern")
        await wait_until(pilot, lambda: box.value == "*.txt")
        # both keys sent at once, before the app has handled the first (Pilot's press waits between keys)
        for key, char in (("enter", "\r"), ("n", "n")):
            event = events.Key(key, char)
            event.set_sender(app)
            app._driver.send_message(event)
        await wait_until(pilot, lambda: app.screen.query("#tag"))  # the new-rule dialog
        assert box.value == "*.txt"


@pilot_test
async def test_keys_typed_while_slow_previews_run_arrive_in_order(demo_app, monkeypatch):
    """Backspaces and characters sent faster than the app handles them, while each
    preview takes a while: the box must end up exactly as typed, every time."""
    import time

    from textual import events

    import casparian_tui.tui.screens.discover as discover

    real = discover.preview

    def slow_preview(conn, pattern, source_id=None):
        time.sleep(0.3)
        return real(conn, pattern, source_id=source_id)

    monkeypatch.setattr(discover, "preview", slow_preview)
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"**/*.py")
        box = app.screen.query_one("#pattern")
        for attempt in range(3):
            await wait_until(pilot, lambda: app.screen.last_preview is not None)
            # all at once, before the app has handled the first: a fast typist, or tmux
            for key, char in (("backspace", None), ("backspace", None), ("s", "s"), ("o", "o"),
                              ("left", None), ("delete", None), ("q", "q")):
                app.post_message(events.Key(key, char))
            await wait_until(pilot, lambda: box.value.endswith("q") or len(box.value) > 8)
            assert box.value == "**/*.sq", (attempt, box.value)
            for key, char in (("ctrl+u", None), *[(c, c) for c in "**/*.py"]):
                app.post_message(events.Key(key, char))
            await wait_until(pilot, lambda: box.value == "**/*.py")


@pilot_test
async def test_pattern_box_keeps_spaces_at_the_ends_like_the_cli(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"*.txt ")
        await wait_until(pilot, lambda: app.screen.last_preview is not None
                         and app.screen.last_preview.pattern == "*.txt ")
        assert app.screen.last_preview.count == 0  # no demo name ends in a space, as `files --glob '*.txt '` says
