"""The results grid paints its lines itself: they must be DataTable's own lines, segment for segment."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual.app import App
from textual.widgets import DataTable

from casparian_tui.tui.widgets.grid_table import GridTable
from casparian_tui.tui.widgets.result_grid import MAX_CELL, cell

VALUES = [None, "x[/y]", 0.123456789, 42, "日本語テキスト" * 4, "a" * 80, "", "  spaces  ", True]


class GridApp(App):
    CSS = "GridTable { height: 1fr; }"

    def compose(self):
        yield GridTable(cursor_type="cell", zebra_stripes=True)


def segments(strip) -> list[tuple]:
    return [(s.text, s.style, s.control) for s in strip]


def test_grid_lines_are_datatable_lines():
    async def go():
        for size, theme in (((60, 16), "textual-dark"), ((200, 16), "textual-light")):
            app = GridApp()
            async with app.run_test(size=size) as pilot:
                app.theme = theme
                table = app.query_one(GridTable)
                rows = [tuple(VALUES[(i * 3 + j) % len(VALUES)] for j in range(4)) for i in range(60)]
                for i, name in enumerate(["id", "名前", "value_with_long_name", "note"]):
                    width = max([len(name)] + [len(str(cell(r[i]))) for r in rows])
                    table.add_column(name, width=min(max(width, 3), MAX_CELL), key=f"c{i}")
                table.add_rows([[cell(v) for v in r] for r in rows])
                spans = Text("ab", style="italic")
                spans.append("cd", style="bold red")
                table.update_cell_at((3, 3), spans)
                for focused in (False, True):
                    app.set_focus(table if focused else None)
                    for row, column, x, y in ((0, 0, 0, 0), (3, 3, 0, 0), (30, 2, 12, 20), (59, 1, 40, 50)):
                        table.move_cursor(row=row, column=column, scroll=False)
                        table.scroll_to(x, y, animate=False)
                        await pilot.pause()
                        for line in range(table.size.height):
                            mine = table.render_line(line)
                            theirs = DataTable.render_line(table, line)
                            assert segments(mine) == segments(theirs), (size, theme, focused, row, column, line)

    asyncio.run(go())
