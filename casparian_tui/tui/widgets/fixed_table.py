"""A DataTable whose columns all have fixed widths: new rows are not measured.

After rows are added, DataTable measures every cell of every new row through
Rich to widen auto-width columns (700 measurements for a 100-row page of the
file table: 10-18 ms of each page change here). With every column given a
width, those measurements change nothing, so only the scrollable size is
updated. Any auto-width column, row label or auto-height row takes
DataTable's own path.

Rows appended below a table that already scrolls (a page of query results)
change only how far it scrolls: its own size is fixed by CSS and its
scrollbar stays. Setting `virtual_size` the usual way would lay out the
whole screen again, and the layout repaints the scrollbar a second time one
frame later (two frames, 17 ms apart, for rows nobody sees yet). So the new
height is set without a layout and the scrollbar is told directly.
"""

from __future__ import annotations

from typing import Iterable

from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class FixedTable(DataTable):
    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        new_rows = list(new_rows)
        if any(c.auto_width for c in self.columns.values()) or any(
            (row := self.rows.get(key)) is not None and (row.label is not None or row.auto_height)
            for key in new_rows
        ):
            super()._update_dimensions(new_rows)
            return
        # The tail of DataTable._update_dimensions (textual is pinned).
        width = sum(column.get_render_width(self) for column in self.columns.values()) + self._row_label_column_width
        header_height = self.header_height if self.show_header else 0
        size = Size(width, self._total_row_height + header_height)
        if not self.grow_in_place(size):
            self.virtual_size = size

    def grow_in_place(self, size: Size) -> bool:
        """Take the taller scrollable `size` without a layout, if nothing but the scroll range changes.

        That is: only taller, the table's height fixed by CSS, and its vertical scrollbar already shown.
        """
        old = self.virtual_size
        height = self.styles.height
        if not (size.width == old.width and size.height > old.height and height is not None
                and not height.is_auto and self.show_vertical_scrollbar):
            return False
        self.set_reactive(Widget.virtual_size, size)
        self.vertical_scrollbar.window_virtual_size = size.height
        return True
