"""The Query screen (5) and the Outputs browser: Pilot tests on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from textual.widgets import Static, TextArea, Tree

from casparian_tui.tui.screens.result_dialogs import ExportDialog, FrequencyScreen, HistoryScreen
from casparian_tui.tui.widgets.result_grid import ResultGrid
from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


def write_outputs(home: Path, n: int = 1000) -> Path:
    """An output with lineage columns and a quarantine naming lines of a real source file.

    The source path is written as ~/input.log ($HOME is the test's folder), so snapshots show the same text.
    """
    src = home.parent / "input.log"
    src.write_text("".join(f"2024-05-01 12:00:{i % 60:02d} INFO [c] line {i}\n" for i in range(1, 41)))
    folder = home / "output" / "log_lines" / "1.0" / "log_lines"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"level": [("INFO", "WARN", "ERROR", "INFO")[i % 4] for i in range(n)],
                             "line": pa.array(range(1, n + 1), pa.int64()),
                             "_cf_source_path": ["~/input.log"] * n,
                             "_cf_job_id": pa.array([1] * n, pa.int64())}), folder / "part-1.parquet")
    q = folder.with_name("log_lines_quarantine")
    q.mkdir()
    pq.write_table(pa.table({"_cf_row": [json.dumps({"line": 20, "message": "garbled"}), "{}"],
                             "_cf_error": ["ts: not a timestamp", "whole file: bad encoding"],
                             "_cf_source_path": ["~/input.log"] * 2}), q / "part-1.parquet")
    return src


def editor(app) -> TextArea:
    return app.screen.query_one("#query-editor", TextArea)


def grid(app, id="#query-results") -> ResultGrid:
    return app.screen.query_one(id, ResultGrid)


def summary(app, id="#query-results") -> str:
    return str(grid(app, id).query_one(".grid-summary", Static).render())


async def to_query_screen(pilot) -> None:
    await settle(pilot)
    await pilot.press("5")
    await settle(pilot)


async def run(pilot, sql: str) -> None:
    editor(pilot.app).text = sql
    await pilot.press("f5")
    await wait_until(pilot, lambda: not grid(pilot.app).running and "row" in summary(pilot.app)
                     or "✗" in summary(pilot.app))


@pytest.mark.parametrize("read_only", [False, True], ids=["writer", "read_only"])
@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
def test_query_screen_runs_pages_and_exports(tmp_path, monkeypatch, backend, read_only):
    settings = tui_settings(tmp_path, backend, monkeypatch)
    write_outputs(settings.home)
    app = make_app(settings, demo=True, read_only=read_only)

    @pilot_test
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await to_query_screen(pilot)
            tree = app.screen.query_one("#query-tree", Tree)
            names = [n.data for g in tree.root.children for n in g.children]
            assert "outputs.log_lines_log_lines" in names and "scout_files" in names
            await run(pilot, "SELECT * FROM outputs.log_lines_log_lines ORDER BY line")
            g = grid(app)
            assert g.result.columns[:2] == ["level", "line"] and g.loaded == 200
            await wait_until(pilot, lambda: g.result.row_count == 1000)
            assert "1,000 rows" in summary(app)
            # scrolling near the end of what is loaded fetches the next page
            g.table.focus()
            g.table.move_cursor(row=190)
            await wait_until(pilot, lambda: g.loaded == 400)
            assert g.rows[399][1] == 400
            # frequency of the cursor's column
            g.table.move_cursor(row=0, column=0)
            await pilot.press("f")
            await wait_until(pilot, lambda: isinstance(app.screen, FrequencyScreen))
            freq = app.screen.freq
            assert [(v, n) for v, n, _ in freq.rows] == [("INFO", 500), ("ERROR", 250), ("WARN", 250)]
            await pilot.press("escape")
            # export, then a refusal to overwrite until confirmed
            target = tmp_path / "out.parquet"
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
            await pilot.press(*str(target), "enter")
            await wait_until(pilot, lambda: "written" in summary(app))
            assert duckdb.sql("SELECT count(*), max(line) FROM read_parquet(?)",
                              params=[str(target)]).fetchall() == [(1000, 1000)]
            await run(pilot, "SELECT 1 AS one")
            g.table.focus()
            await pilot.press("e")
            await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
            await pilot.press(*str(target), "enter")
            await settle(pilot)
            assert "exists" in str(app.screen.query_one("#dialog-error", Static).render())
            assert pq.read_table(target).num_rows == 1000  # untouched so far
            await pilot.press("enter")  # the confirmation
            await wait_until(pilot, lambda: "written" in summary(app))
            assert pq.read_table(target).column_names == ["one"]

    go()


def test_query_screen_errors_history_and_tree_insert(tmp_path, monkeypatch):
    settings = tui_settings(tmp_path, "duckdb", monkeypatch)
    app = make_app(settings, demo=True)

    @pilot_test
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await to_query_screen(pilot)
            await run(pilot, "DROP TABLE scout_files")
            text = summary(app)
            assert text.startswith("✗") and "\n" not in text.strip()
            await run(pilot, "SELECT nope FROM scout_files")
            assert "✗ Query failed" in summary(app)
            # the statement under the cursor, not the whole editor
            editor(app).text = "SELECT 1 AS a;\nSELECT 2 AS b;"
            editor(app).move_cursor((1, 3))
            await pilot.press("f5")
            await wait_until(pilot, lambda: grid(app).result is not None and grid(app).result.columns == ["b"])
            # history: newest last, Ctrl+Up walks back, kept in the home folder
            await pilot.press("ctrl+up")
            assert editor(app).text == "SELECT 2 AS b"
            await pilot.press("ctrl+up")
            assert editor(app).text == "SELECT nope FROM scout_files"
            lines = (settings.home / "query_history.jsonl").read_text().splitlines()
            assert json.loads(lines[-1])["sql"] == "SELECT 2 AS b"
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
            await pilot.press("down", "enter")
            await settle(pilot)
            assert editor(app).text == "SELECT nope FROM scout_files"
            # Enter on a catalog table inserts its name at the cursor
            editor(app).text = "SELECT * FROM "
            editor(app).move_cursor((0, 14))
            tree = app.screen.query_one("#query-tree", Tree)
            tables = next(n for n in tree.root.children if n.data == "tables")
            tables.expand()
            await settle(pilot)
            node = next(n for n in tables.children if n.data == "scout_sources")
            tree.focus()
            tree.move_cursor(node)
            await pilot.press("enter")
            assert editor(app).text == "SELECT * FROM scout_sources"

    go()


def test_interrupt_returns_control(tmp_path, monkeypatch):
    settings = tui_settings(tmp_path, "duckdb", monkeypatch)
    app = make_app(settings)

    @pilot_test
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("5")
            editor(app).text = "SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3"
            await pilot.press("f5")
            await wait_until(pilot, lambda: grid(app)._pending is not None and grid(app)._pending.running())
            await pilot.press("escape")
            await wait_until(pilot, lambda: "interrupted" in summary(app), timeout=60)
            await run(pilot, "SELECT 42 AS x")
            assert grid(app).rows == [(42,)]

    go()


def test_outputs_browser_and_quarantine(tmp_path, monkeypatch):
    settings = tui_settings(tmp_path, "duckdb", monkeypatch)
    src = write_outputs(settings.home)
    app = make_app(settings)

    @pilot_test
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await to_query_screen(pilot)
            await pilot.press("ctrl+o")
            await wait_until(pilot, lambda: app.screen.query("#outputs-table") and app.screen.outputs)
            o = app.screen.outputs[0]
            assert (o.parser, o.version, o.output, o.rows, o.quarantine_rows, o.latest) == (
                "log_lines", "1.0", "log_lines", 1000, 2, True)
            await pilot.press("enter")
            await wait_until(pilot, lambda: grid(app, "#outputs-grid").loaded == 200)
            assert "_cf_source_path" in grid(app, "#outputs-grid").result.columns
            await pilot.press("b")
            await wait_until(pilot, lambda: grid(app, "#outputs-grid").loaded == 2)
            g = grid(app, "#outputs-grid")
            g.table.focus()
            g.table.move_cursor(row=0)
            await settle(pilot)
            raw = str(app.screen.query_one("#raw-input", Static).render())
            assert "ts: not a timestamp" in raw and "line 20" in raw and "~/input.log" in raw and src.exists()
            g.table.move_cursor(row=1)
            await settle(pilot)
            raw = str(app.screen.query_one("#raw-input", Static).render())
            assert "start of the file" in raw and "line 1\n" in raw
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.query("#query-editor")

    go()


def test_values_show_as_they_are(tmp_path, monkeypatch):
    """Brackets are data, not markup; floats keep every digit (the grid is where users check values)."""
    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch), demo=True)

    @pilot_test
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await to_query_screen(pilot)
            await run(pilot, "SELECT 'x[/y]' AS closing, '[bold]b[/bold] [red]' AS tags, 0.123456789::DOUBLE AS f, "
                             "1e-10::DOUBLE AS tiny, NULL AS nothing")
            g = grid(app)
            assert "✗" not in summary(app)
            await settle(pilot)
            row = [str(c) for c in g.table.get_row_at(0)]
            assert row[:4] == ["x[/y]", "[bold]b[/bold] [red]", "0.123456789", "1e-10"]
            lines = [app.screen.query_one(".grid-table").render_line(y).text for y in range(3)]
            assert any("x[/y]" in line and "[bold]b[/bold] [red]" in line and "0.123456789" in line
                       for line in lines), lines

    go()


def test_paging_shows_the_rows_of_each_page(tmp_path, monkeypatch):
    """Page Down past the first page: every painted line shows the row at its place, page 2 included."""
    settings = tui_settings(tmp_path, "duckdb", monkeypatch)
    write_outputs(settings.home)
    app = make_app(settings, demo=True)

    def painted(table) -> list[tuple[int, int]]:
        """(row index the line should show, the `line` value it shows) for each painted data line."""
        top = round(table.scroll_offset.y)
        shown = []
        for y in range(1, table.size.height):  # line 0 is the header
            if top + y - 1 < table.row_count:
                shown.append((top + y - 1, int(table.render_line(y).text.split()[0])))
        return shown

    @pilot_test
    async def go():
        async with app.run_test(size=SIZE) as pilot:
            await to_query_screen(pilot)
            await run(pilot, "SELECT line, level FROM outputs.log_lines_log_lines ORDER BY line")
            g = grid(app)
            table = g.table
            table.focus()
            await settle(pilot)
            assert painted(table)[:2] == [(0, 1), (1, 2)]
            while table.cursor_coordinate.row < 450:  # into the third page
                await pilot.press("pagedown")
                await wait_until(pilot, lambda: g.loaded > table.cursor_coordinate.row + 20)
                await settle(pilot)
                shown = painted(table)
                assert len(shown) > 10 and all(value == row + 1 for row, value in shown), shown
                assert any(row == table.cursor_coordinate.row for row, _ in shown)
            assert g.loaded >= 600 and [r[0] for r in g.rows] == list(range(1, g.loaded + 1))

    go()
