"""Table columns laid out for the width the terminal has, and paths elided in the middle.

A table names its columns once (`Col`); `fit` picks which ones are shown and
how wide, for the room there is: fixed columns (sizes, times) keep their
width, flexible ones (paths, tags, errors) share what is left, and optional
columns are dropped, least useful first, before a flexible one would fall
under its minimum. `ColumnLayout` applies that to a DataTable and renders a
row (a dict by column key) into the cells of the shown columns, eliding
paths in the middle so the file name stays visible.

Widths are terminal cells, not characters: a CJK character takes two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from rich.cells import cell_len
from rich.text import Text

ELLIPSIS = "…"
# A display name shows an undecodable byte as \xNN and a control character
# as its escape (\n, \u200b): never cut one in half.
_UNIT = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|.", re.DOTALL)


def _units(text: str) -> list[str]:
    return _UNIT.findall(text)


def _take(units: list[str], width: int, *, from_end: bool = False) -> str:
    """As many units as fit in `width` cells, from the start (or the end)."""
    taken: list[str] = []
    used = 0
    for unit in (reversed(units) if from_end else units):
        w = cell_len(unit)
        if used + w > width:
            break
        taken.append(unit)
        used += w
    return "".join(reversed(taken) if from_end else taken)


def elide_middle(path: str, width: int) -> str:
    """`path` in at most `width` cells; when it does not fit, the middle gives way to "…".

    The file name (after the last "/") is kept whole when it fits with at
    least "…/" before it; the folders are cut from their end, so the start of
    the path and the name both show. A name too long even for that keeps its
    start and, mostly, its end (the extension).
    """
    if cell_len(path) <= width:
        return path
    if width <= 0:
        return ""
    if width == 1:
        return ELLIPSIS
    head, sep, name = path.rpartition("/")
    if sep and cell_len(name) + 2 <= width:
        tail = "/" + name
        room = width - cell_len(tail) - 1
        return _take(_units(head), room) + ELLIPSIS + tail
    units = _units(path if not sep else name)
    room = width - 1
    end = _take(units, room - room // 3, from_end=True)
    start = _take(units, room - cell_len(end))
    return start + ELLIPSIS + end


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int  # a fixed column's width; a flexible one's minimum
    grow: int = 0  # share of the spare room (0: fixed)
    cap: int | None = None  # a flexible column grows no wider than this
    drop: int = 0  # 0: always shown; otherwise dropped when narrow, highest first
    want: int = 0  # a flexible column's preferred width: optional columns give way to reach it
    elide: bool = False  # a path: elided in the middle to its width


def fit(cols: list[Col], room: int, padding: int = 1) -> list[tuple[Col, int]]:
    """The columns to show in `room` cells and their widths (each column also takes 2*padding)."""
    shown = list(cols)

    def need(cs, wanted=False):
        return sum(max(c.width, c.want if wanted else 0) + 2 * padding for c in cs)

    for victim in sorted((c for c in cols if c.drop), key=lambda c: -c.drop):
        if need(shown, wanted=True) <= room:
            break
        shown.remove(victim)
    widths = {c.key: c.width for c in shown}
    spare = max(room - need(shown), 0)
    growing = [c for c in shown if c.grow]
    while spare and growing:
        total = sum(c.grow for c in growing)
        handed = 0
        for c in growing:
            add = max(spare * c.grow // total, 1)
            if c.cap is not None:
                add = min(add, c.cap - widths[c.key])
            add = min(add, spare - handed)
            widths[c.key] += add
            handed += add
        spare -= handed
        growing = [c for c in growing if c.cap is None or widths[c.key] < c.cap]
        if not handed:
            break
    return [(c, widths[c.key]) for c in shown]


class ColumnLayout:
    """One table's columns, re-fitted when the room changes."""

    def __init__(self, cols: list[Col]) -> None:
        self.cols = cols
        self.shown: list[tuple[Col, int]] = []

    @property
    def keys(self) -> list[str]:
        return [c.key for c, _w in self.shown]

    def width_of(self, key: str) -> int | None:
        return next((w for c, w in self.shown if c.key == key), None)

    def apply(self, table: Any, room: int) -> bool:
        """Give `table` the columns that fit in `room` cells; True when they changed (rows are cleared)."""
        shown = fit(self.cols, room, table.cell_padding)
        if shown == self.shown and len(table.columns) == len(shown):
            return False
        self.shown = shown
        table.clear(columns=True)
        for col, width in shown:
            table.add_column(col.label, key=col.key, width=width)
        return True

    def cells(self, values: Mapping[str, Any]) -> tuple:
        """A row's cells for the shown columns; path columns elided to their width."""
        out = []
        for col, width in self.shown:
            value = values.get(col.key, "")
            if col.elide:
                plain = value.plain if isinstance(value, Text) else str(value)
                value = Text(elide_middle(plain, width))
            out.append(value)
        return tuple(out)
