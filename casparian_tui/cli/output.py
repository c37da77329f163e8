"""Printing for the CLI: JSON for scripts, tables for people, errors on one line."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from casparian_tui.errors import CasparianError

if TYPE_CHECKING:  # rich is imported when a table is printed, not for --json or an error line
    from rich.console import Console


def safe_text(value: Any) -> str:
    """Text that cannot move the cursor or change colours in a terminal."""
    s = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in s)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


def stdout_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns, title=title, header_style="bold", show_edge=False)
    for row in rows:
        table.add_row(*(Text(safe_text(v)) for v in row))
    stdout_console().print(table)


def print_pairs(pairs: Iterable[tuple[str, Any]]) -> None:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print(f"{key:<{width}}  {safe_text(value)}")


def print_error(err: CasparianError) -> None:
    print(f"error: {safe_text(err.message)}", file=sys.stderr)
    if err.hint:
        print(f"hint: {safe_text(err.hint)}", file=sys.stderr)
