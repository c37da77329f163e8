"""Show fresh query results without redoing work when nothing changed.

`DataTable.clear()` + `add_row()` throws away the table's render caches, makes
it measure every new cell on the next idle, and repaints every visible cell
through Rich: at 130x40 that was most of a file-table refresh (tens of ms per
refresh; the database part is smaller). Most refreshes (a timer, a catalog
change elsewhere, a preview that ends on the same page) find the rows already
shown, so they leave the table alone; the result on screen is the same.
"""

from __future__ import annotations

import weakref
from typing import Sequence

from rich.text import Text

from textual.visual import VisualType
from textual.widgets import DataTable, Static

# What refill() last put in each table: (keys, rows in _comparable form). Weak: tables die with their screen.
_shown: "weakref.WeakKeyDictionary[DataTable, tuple]" = weakref.WeakKeyDictionary()


def refill(table: DataTable, keys: Sequence[str | None], rows: Sequence[tuple]) -> bool:
    """Show exactly `rows` (cells, one tuple a row) under `keys`, keeping the cursor's row index.

    Returns False when the table already showed these rows and was left alone.
    Cells are str, numbers or rich Text.
    """
    wanted = (list(keys), [tuple(_comparable(c) for c in row) for row in rows])
    if _shown.get(table) == wanted and table.row_count == len(rows):
        return False
    cursor = table.cursor_row
    table.clear()
    for key, cells in zip(keys, rows):
        table.add_row(*cells, key=key)
    if rows:
        table.move_cursor(row=min(cursor, len(rows) - 1))
    _shown[table] = wanted
    return True


def _comparable(cell: object) -> object:
    """A value equal for cells that look the same; rich's Text.__eq__ ignores the base style."""
    if isinstance(cell, Text):
        return ("Text", cell.plain, tuple(cell.spans), str(cell.style), cell.justify, cell.overflow, cell.no_wrap, cell.end)
    return (type(cell).__name__, cell)


def forget(table: DataTable) -> None:
    """The table was changed by hand (update_cell…): the next refill() rebuilds it."""
    _shown.pop(table, None)


def update_static(widget: Static, content: VisualType, *, layout: bool = True) -> bool:
    """`widget.update(content)` unless it already shows equal content (skips a layout and repaint).

    layout=False: the widget's size does not depend on its text (fixed by CSS).
    """
    if _comparable(widget.content) == _comparable(content):
        return False
    widget.update(content, layout=layout)
    return True
