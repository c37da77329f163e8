"""`q` in a text box is typed; Esc leaves the box, and then `q` quits, on every screen with one."""

import pytest

from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


async def _esc_then_q_quits(pilot, box, typed_q) -> None:
    app = pilot.app
    assert app.focused is box
    if typed_q is not None:
        await pilot.press("q")
        await settle(pilot)
        assert app.is_running and typed_q(), "q in a text box is a character, not quit"
    await pilot.press("escape")
    await settle(pilot)
    assert app.focused is not box
    await pilot.press("q")
    await wait_until(pilot, lambda: not app.is_running)


@pytest.mark.parametrize("typed", [None, "", "*.cs"], ids=["left-empty", "q-only", "with-pattern"])
@pilot_test
async def test_discover_pattern_box(tmp_path, monkeypatch, typed):
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *(typed or ""))
        await settle(pilot)
        box = app.screen.query_one("#pattern")
        await _esc_then_q_quits(pilot, box, None if typed is None else lambda: box.value == typed + "q")


@pilot_test
async def test_parser_bench_form(tmp_path, monkeypatch):
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("enter", "tab", "tab")
        await settle(pilot)
        box = app.screen.query_one("#bench-tag")
        await _esc_then_q_quits(pilot, box, lambda: box.value.endswith("q"))  # Tab selects the box text: q may replace it


@pilot_test
async def test_query_editor(tmp_path, monkeypatch):
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        editor = app.screen.query_one("#query-editor")
        await _esc_then_q_quits(pilot, editor, lambda: "q" in editor.text)


@pilot_test
async def test_help_says_how(tmp_path, monkeypatch):
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert "Esc, then q" in str(app.screen.query_one("#help-text").render())
