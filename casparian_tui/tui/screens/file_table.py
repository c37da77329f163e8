"""Discover's file table and Rules panel, laid out for the terminal's width.

At 80 columns the side panel narrows and the file table keeps the path
(elided in the middle), size and tags, dropping ext, status and modified in
that order (ext first, as soon as paths would get under 36 cells: the path
shows it); wider terminals give paths the room. Sizes are never cut:
`human_bytes` is at most 10 cells ("1023.9 KiB").
"""

from __future__ import annotations

from rich.text import Text

from casparian_tui.tui.columns import Col, ColumnLayout
from casparian_tui.tui.widgets.format import human_time
from casparian_tui.units import human_bytes

FILE_COLUMNS = [
    Col("sel", " ", 1),
    Col("path", "path", 16, grow=5, elide=True, want=36),
    Col("tags", "tags", 8, grow=1, cap=30, want=10),
    Col("size", "size", 10),
    Col("ext", "ext", 5, drop=3),
    Col("status", "status", 9, drop=2),
    Col("mtime", "modified", 16, drop=1),
]
RULE_COLUMNS = [
    Col("pattern", "pattern", 8, grow=2),
    Col("tag", "tag", 5, grow=1, cap=16),
    Col("prio", "prio", 4),
]
NARROW = 100  # below this many columns the side panel narrows
SCROLLBAR = 2


def side_width(screen_width: int) -> int:
    return 24 if screen_width < NARROW else 30


def file_room(screen_width: int) -> int:
    """Cells for the file table's columns: the screen less the side panel (border included) and a scrollbar.

    The table's region is two cells narrower than its panel (measured at 80
    and 200 columns); without those two the last column was cut.
    """
    return screen_width - side_width(screen_width) - SCROLLBAR - 2


def rule_room(screen_width: int) -> int:
    return side_width(screen_width) - 1  # the panel's right border


def file_values(row: dict, selected: set[int]) -> dict:
    return {
        "sel": "●" if row["id"] in selected else " ",
        "path": Text(row["rel_path"]),
        "tags": Text(", ".join(row["tags"])),
        "size": Text(human_bytes(row["size"]), justify="right"),
        "ext": Text(row["extension"] or ""),
        "status": Text(row["status"]),
        "mtime": human_time(row["mtime"]),
    }


class FileTableLayout:
    """The file table's and Rules panel's columns for one Discover screen."""

    def __init__(self) -> None:
        self.files = ColumnLayout(FILE_COLUMNS)
        self.rules = ColumnLayout(RULE_COLUMNS)
        self.width = 0

    def fit(self, screen, width: int) -> tuple[bool, bool]:
        """Lay both tables out for a screen `width` wide; which of (files, rules) were rebuilt (emptied)."""
        self.width = width
        screen.query_one("#discover-left").styles.width = side_width(width)
        return (
            self.files.apply(screen.query_one("#files"), file_room(width)),
            self.rules.apply(screen.query_one("#rules-table"), rule_room(width)),
        )

    def file_cells(self, row: dict, selected: set[int]) -> tuple:
        return self.files.cells(file_values(row, selected))
