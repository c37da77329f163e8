"""Parser Bench through Pilot: backtest a sample parser, watch results, propose and approve a contract."""

from textual.widgets import DataTable, Static

from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


@pilot_test
async def test_backtest_then_contract(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        names = [str(screen.query_one("#bench-parsers", DataTable).get_row_at(i)[0]) for i in range(3)]
        assert names == ["csv_rows", "jsonl_records", "log_lines"]
        await pilot.press("enter")  # pick csv_rows: the form fills in, the list keeps the focus
        await settle(pilot)
        assert app.focused is screen.query_one("#bench-parsers", DataTable)
        assert screen.query_one("#bench-parser").value.endswith("csv_rows.py")
        assert screen.query_one("#bench-tag").value == "csv"
        screen.query_one("#bench-sample").value = "25"
        await pilot.press("b")  # as the README's key table says: Enter, then b
        await settle(pilot)
        assert screen.query_one("#bench-tag").value == "csv"
        await wait_until(pilot, lambda: screen.report is not None, timeout=60)
        await settle(pilot)
        report = screen.report
        assert report.files_tested == 25 and report.passed == 25
        assert screen.query_one("#bench-results", DataTable).row_count == 25  # one row per file, as they arrived
        assert "100% passed" in str(screen.query_one("#bench-summary", Static).render())
        assert report.observed["csv_rows"]["amount"] == "string"
        await pilot.press("p")
        await wait_until(pilot, lambda: app.db.query_value("SELECT count(*) FROM schema_contract_versions") == 1)
        await pilot.press("a")
        await wait_until(
            pilot, lambda: app.db.query_value("SELECT status FROM schema_contract_versions WHERE version = 1") == "approved"
        )
        # csv_rows has no OUTPUTS: the bench says approving pins one header's columns for every CSV.
        summary = screen.query_one("#bench-summary", Static)
        await wait_until(pilot, lambda: "declares no OUTPUTS" in str(summary.render()))
        assert "another CSV header" in str(summary.render())
        runs = app.db.query_all("SELECT files_total, files_passed FROM cf_backtest_runs")
        assert runs == [(25, 25)]


@pilot_test
async def test_backtest_needs_parser_and_tag(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        app.screen.query_one("#bench-results", DataTable).focus()
        await pilot.press("b")
        await settle(pilot)
        assert "Give a parser file and a tag" in str(app.screen.query_one("#bench-summary", Static).render())


@pilot_test
async def test_tab_then_digits_sent_at_once_land_in_the_sample_box(tmp_path, backend, monkeypatch):
    """Tab and the sample size typed faster than the app handles them: the digits
    belong to the box Tab moved to, not to the tag box Tab left."""
    from textual import events

    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("enter", "tab", "tab")  # pick a parser; Tab into the form, to the tag
        await settle(pilot)
        screen = app.screen
        assert app.focused is screen.query_one("#bench-tag")
        for key, char in (("tab", "\t"), ("2", "2"), ("0", "0")):
            app.post_message(events.Key(key, char))
        sample = screen.query_one("#bench-sample")
        await wait_until(pilot, lambda: sample.value == "20" or screen.query_one("#bench-tag").value != "csv")
        assert (screen.query_one("#bench-tag").value, sample.value) == ("csv", "20")


@pilot_test
async def test_enter_in_a_form_box_runs_the_backtest_and_esc_leaves_the_box(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        screen = app.screen
        parsers = screen.query_one("#bench-parsers", DataTable)
        await pilot.press("enter", "tab", "tab", "tab", "5", "escape")  # into the sample box, then out
        await settle(pilot)
        assert screen.query_one("#bench-sample").value == "5"
        assert app.focused is parsers
        await pilot.press("tab", "tab", "tab", "enter")
        await wait_until(pilot, lambda: screen.report is not None, timeout=60)
        assert screen.report.files_tested == 5


@pilot_test
async def test_form_placeholders_fit(tmp_path, monkeypatch):
    """The sample box shows its whole placeholder, narrow or wide."""
    for size in ((80, 24), (200, 50)):
        app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch))
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await pilot.press("3")
            await settle(pilot)
            for box in app.screen.query("#bench-form TextInput"):
                # one cell more than the text, for the cursor
                assert box.content_region.width > len(box.placeholder), (size, box.id, box.content_region)
