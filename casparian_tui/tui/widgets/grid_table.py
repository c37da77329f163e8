"""The results grid's table: DataTable's behaviour, with lines painted without Rich layout.

DataTable paints each cell through `console.render_lines(Padding(...))`
(about 0.1-0.5 ms a cell here), and every added row bumps a counter that is
part of all its render-cache keys, so appending a page of results throws
every cached cell away. Scrolling to the next page of a query therefore
repainted a screenful of cells through Rich: 16-50 ms of the 65-120 ms it
took. The grid's cells are one-line `Text`s in fixed-width columns, so a
line is simple to build directly from the Text's segments: this does it
with the same styles, padding, cropping, cursor, zebra stripes and mouse
metadata as DataTable, so what is on screen is the same.

Anything the fast path does not model (fixed rows or columns, a row or
column cursor, a cell holding a tab, a newline or something other than a
Text) takes DataTable's own `render_line`.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.color import Color
from textual.geometry import Size
from textual.strip import Strip

from casparian_tui.tui.widgets.fixed_table import FixedTable


class _Paint:
    """The styles of one frame (looked up once, not once a line)."""

    def __init__(self, table: "GridTable") -> None:
        get = table.get_component_rich_style
        self.base = table.rich_style
        self.header = get("datatable--header")
        self.even = get("datatable--even-row") if table.zebra_stripes else self.base
        self.odd = get("datatable--odd-row") if table.zebra_stripes else self.base
        self.cursor = get("datatable--cursor") if table.show_cursor else Style()
        self.hover = get("datatable--hover") if table.show_cursor else Style()
        self.header_hover = self.hover + get("datatable--header-hover") if table.show_cursor else Style()
        self.css_fg = table.cursor_foreground_priority == "css"
        self.css_bg = table.cursor_background_priority == "css"
        self.background = table.background_colors[1]
        self.columns = table.ordered_columns
        self.widths = [c.get_render_width(table) for c in self.columns]
        self.extends: dict[Style, Style] = {}

    def post(self, component: Style) -> Style:
        fg = Style.from_color(color=component.color) if self.css_fg else Style.null()
        bg = Style.from_color(bgcolor=component.bgcolor) if self.css_bg else Style.null()
        return fg + bg

    def extend(self, row_style: Style) -> Style:
        """The style of the space right of the last column (faded like DataTable's)."""
        style = self.extends.get(row_style)
        if style is None:
            if row_style.bgcolor is not None:
                faded = Color.from_rich_color(row_style.bgcolor).blend(self.background, factor=0.25)
                style = Style.from_color(color=row_style.color, bgcolor=faded.rich_color)
            else:
                style = Style.from_color(row_style.color, row_style.bgcolor)
            self.extends[row_style] = style
        return style


class GridTable(FixedTable):
    """A FixedTable for one-line Text cells and a cell cursor; lines are built from segments."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._paint: _Paint | None = None
        self._hover_shown = False  # DataTable shows the hover cell after a mouse move, until a key

    def add_rows(self, rows) -> list:
        """Append rows; the scroll range grows now, so the frame that shows them has the right scrollbar.

        DataTable sizes itself on its next idle, which can come after the next frame: the scrollbar
        then took a second frame. The grid's rows are all one line high.
        """
        keys = super().add_rows(rows)
        header = self.header_height if self.show_header else 0
        width = sum(column.get_render_width(self) for column in self.ordered_columns)
        if keys and self.virtual_size.width == width:
            self.grow_in_place(Size(width, self.row_count + header))
        return keys

    def render_lines(self, crop):
        self._paint = None  # styles may have changed (focus, theme) since the last frame
        return super().render_lines(crop)

    def notify_style_update(self) -> None:
        self._paint = None
        super().notify_style_update()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        self._hover_shown = bool(event.style.meta)

    def on_leave(self, event: events.Leave) -> None:
        self._hover_shown = False

    def on_key(self, event: events.Key) -> None:
        self._hover_shown = False

    def render_line(self, y: int) -> Strip:
        if self.cursor_type != "cell" or self.fixed_rows or self.fixed_columns:
            return super().render_line(y)
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        header_height = self.header_height if self.show_header else 0
        if y < header_height:
            if y:
                return super().render_line(y)
            row_index = -1
        else:
            row_index = y - header_height + scroll_y
            if row_index >= self.row_count:
                return Strip.blank(width, self.rich_style)
        segments = self._line(row_index, width)
        if segments is None:
            return super().render_line(y)
        if scroll_x == 0 and sum(self._paint.widths) <= width:  # exactly `width` cells: nothing to crop or pad
            return Strip(list(Segment.simplify(segments)), width)
        return Strip(segments).crop(scroll_x, scroll_x + width).adjust_cell_length(width, self.rich_style).simplify()

    def _line(self, row_index: int, width: int) -> list[Segment] | None:
        paint = self._paint
        if paint is None:
            paint = self._paint = _Paint(self)
        if row_index == -1:
            cells = [c.label for c in paint.columns]
            row_style = paint.header
        else:
            cells = self.get_row_at(row_index)
            row_style = paint.odd if row_index % 2 else paint.even
        cursor = self.cursor_coordinate
        hover = self.hover_coordinate if self._hover_shown else None
        pad = self.cell_padding
        console = self.app.console
        segments: list[Segment] = []
        for column_index, (cell, cell_width) in enumerate(zip(cells, paint.widths)):
            if not isinstance(cell, Text) or "\t" in cell.plain or "\n" in cell.plain:
                return None
            component = Style()
            if hover is not None and hover.row == row_index and hover.column == column_index:
                component = paint.header_hover if row_index == -1 else paint.hover
            if row_index == cursor.row and column_index == cursor.column:
                component = component + paint.cursor
            pre = row_style + Style.from_meta({"row": row_index, "column": column_index}) + component
            post = paint.post(component)
            padding = pre + post
            segments.append(Segment(" " * pad, padding))
            content = Segment.adjust_line_length(_segments(cell, console), cell_width - 2 * pad)
            for text, style, control in content:
                styled = pre + style if style is not None else pre
                segments.append(Segment(text, styled + post if styled else post, control))
            segments.append(Segment(" " * pad, padding))
        remaining = max(0, width - sum(paint.widths))
        extend = paint.extend(row_style) + Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * remaining, extend))
        return segments


def _segments(text: Text, console) -> list[Segment]:
    """The segments of a one-line Text as Rich renders it inside a cell.

    `Text.render` ignores the Text's own style when it has no spans; Rich's
    console path first joins the lines, which turns that style into a span.
    """
    if text.spans:
        return list(Text("").join([text]).render(console))
    return [Segment(text.plain, console.get_style(text.style) if text.style else None)]
