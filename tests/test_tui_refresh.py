"""What the TUI's speed-ups skip, and that they never show stale content (Pilot, both backends)."""

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import DataTable

from casparian_tui.scout import tags
from casparian_tui.tui.widgets.fixed_table import FixedTable
from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


@pytest.fixture
def demo_app(tmp_path, backend, monkeypatch):
    return make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)


def count_calls(monkeypatch, cls, name, only=None) -> list[int]:
    calls = [0]
    original = getattr(cls, name)

    def counted(self, *args, **kwargs):
        if only is None or self is only:
            calls[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, counted)
    return calls


def row_of(table: DataTable, file_id: int) -> list[str]:
    return [str(c) for c in table.get_row(str(file_id))]


@pilot_test
async def test_refresh_rebuilds_the_file_table_only_when_rows_change(demo_app, monkeypatch):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#files", DataTable)
        clears = count_calls(monkeypatch, DataTable, "clear")
        await screen.load_files()
        assert clears[0] == 0  # same rows: the table was left alone
        first = int(next(iter(table.rows)).value)
        app.db.write("tag", lambda c: tags.tag_file_ids(c, [first], "hot"))  # as another process would
        await screen.load_files()  # (the change signal may reload it too: either rebuild counts)
        await settle(pilot)
        assert clears[0] >= 1 and "hot" in row_of(table, first)[2]
        rebuilt = clears[0]
        await screen.load_files()
        assert clears[0] == rebuilt  # the same rows again: left alone


@pilot_test
async def test_selection_marks_never_go_stale(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#files", DataTable)
        first = int(next(iter(table.rows)).value)
        app.db.write("tag", lambda c: tags.tag_file_ids(c, [first], "picked"))
        await screen.load_files()
        await pilot.press("space")  # select the first file: its mark is set by hand (update_cell)
        assert row_of(table, first)[0] == "●"
        # Tag it again with the tag it has: the selection is cleared and nothing else changes.
        screen._tag_files([first], "picked")
        await wait_until(pilot, lambda: not screen.selected)
        await settle(pilot)
        assert row_of(table, first)[0] == " " and "picked" in row_of(table, first)[2]


@pilot_test
async def test_switching_back_reuses_the_built_screen(demo_app, monkeypatch):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        discover = app.screen
        keys_before = list(discover.query("FooterKey"))
        assert keys_before
        restyles = count_calls(monkeypatch, Screen, "update_node_styles", only=discover)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        assert app.screen is discover
        assert list(discover.query("FooterKey")) == keys_before  # the footer was not rebuilt
        assert restyles[0] == 0
        # the terminal lost focus while Discover was away: it is restyled on return
        await pilot.press("2")
        await settle(pilot)
        app.app_focus = False
        await settle(pilot)
        restyles[0] = 0
        await app.switch_mode("discover")  # not a key: a key press gives the app focus back
        await settle(pilot)
        assert restyles[0] >= 1


@pilot_test
async def test_footer_follows_changed_bindings(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        screen._bindings.bind("x", "app.bell", "Ring the bell")
        screen.refresh_bindings()
        await settle(pilot)
        assert any("Ring the bell" in str(k.render()) for k in screen.query("FooterKey"))


@pilot_test
async def test_hidden_jobs_screen_does_not_poll(demo_app, monkeypatch):
    from casparian_tui.tui.screens.jobs import JobsScreen

    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        refreshes = count_calls(monkeypatch, JobsScreen, "refresh_jobs")
        await pilot.pause(0.6)  # the Jobs timer ticks every 0.2 s in these tests
        assert refreshes[0] == 0
        await pilot.press("2")
        await wait_until(pilot, lambda: refreshes[0] >= 1)  # back: refreshed at once


@pilot_test
async def test_fixed_table_still_measures_auto_width_columns():
    class One(App):
        def compose(self):
            yield FixedTable()

    app = One()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(FixedTable)
        table.add_column("fixed", width=4)
        table.add_column("auto")
        table.add_row("a", "a much longer cell")
        await pilot.pause()
        assert table.ordered_columns[1].content_width == len("a much longer cell")
        assert table.virtual_size.width == 4 + len("a much longer cell") + 4 * table.cell_padding


@pilot_test
async def test_screens_follow_a_theme_change_made_while_away_or_before_they_exist(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")  # Jobs built under the first theme
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)
        before = app.screen.styles.background
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await settle(pilot)
        after = app.screen.styles.background
        assert after != before
        await pilot.press("2")  # built before the change, shown after it
        await settle(pilot)
        assert app.screen.styles.background == after
        await pilot.press("4")  # built after the change
        await settle(pilot)
        assert app.screen.styles.background == after
