"""What the TUI prints from the data is shown as it is: brackets in paths, patterns and errors are not markup."""

from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


@pilot_test
async def test_a_notification_shows_brackets_as_they_are(tmp_path, monkeypatch):
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch), demo=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:  # run_test hides toasts by default
        await settle(pilot)
        app.notify("Rule **/[ab]*.csv → t deleted; x[/y] too.")
        await wait_until(pilot, lambda: app.screen.query("Toast"))
        await settle(pilot)
        shown = " ".join(str(t.render()) for t in app.screen.query("Toast"))
        assert "**/[ab]*.csv" in shown and "x[/y]" in shown, shown
