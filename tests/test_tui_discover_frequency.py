"""Discover's F: pick a column, see how the filtered files spread over it (Pilot, file backends)."""

import pytest

from casparian_tui.scout.catalog import FileFilter
from casparian_tui.scout.file_frequency import file_frequency
from casparian_tui.tui.screens.discover_frequency import FrequencyColumnDialog
from casparian_tui.tui.screens.result_dialogs import FrequencyScreen

from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])  # the demo app runs on the file backends
@pilot_test
async def test_frequency_of_extensions_then_of_folders_within_a_filter(tmp_path, monkeypatch, backend):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    expected = app.db.read(lambda c: file_frequency(c, FileFilter(), "ext"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, FrequencyColumnDialog))
        await pilot.press("down", "enter")  # extension
        await wait_until(pilot, lambda: isinstance(app.screen, FrequencyScreen))
        freq = app.screen.freq
        assert freq.column == "extension" and freq.total == expected.total > 0
        assert freq.rows == expected.rows and freq.rows[0][1] >= freq.rows[-1][1]
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, FrequencyScreen))

        await pilot.press("f")  # filter: extension csv
        await settle(pilot)
        await pilot.press("tab", "tab", *"csv", "enter")
        await settle(pilot)
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, FrequencyColumnDialog))
        await pilot.press("enter")  # folder
        await wait_until(pilot, lambda: isinstance(app.screen, FrequencyScreen))
        by_folder = app.screen.freq
        csv_files = app.db.read(lambda c: file_frequency(c, FileFilter(extensions=["csv"]), "path"))
        assert by_folder.column == "folder" and by_folder.total == csv_files.total < freq.total
        assert by_folder.rows == csv_files.rows


@pilot_test
async def test_escape_in_the_picker_shows_nothing(tmp_path, monkeypatch):
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, FrequencyColumnDialog))
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, (FrequencyColumnDialog, FrequencyScreen))
