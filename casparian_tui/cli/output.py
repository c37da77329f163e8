"""Printing for the CLI: JSON for scripts, tables for people, errors on one line."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from casparian_tui.errors import CasparianError
from casparian_tui.scout.pathcodec import ShownPath, json_path

if TYPE_CHECKING:  # rich is imported when a table is printed, not for --json or an error line
    from rich.console import Console


def safe_text(value: Any) -> str:
    """Text that cannot move the cursor or change colours in a terminal."""
    s = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in s)


def json_text(value: Any) -> str:
    """JSON where every character that is not printable is a \\uXXXX escape.

    json escapes only C0 controls; C1 controls (U+009B is a terminal's CSI),
    bidi overrides (U+202E), other format characters, separators and lone
    surrogates would reach a terminal or a pager raw. Printable text (accents,
    CJK) stays readable. Values are unchanged: any JSON parser reads back the
    exact string.
    """
    text = json.dumps(_exact_paths(value), ensure_ascii=False, indent=2, default=str)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\n " else _json_escape(ch) for ch in text)


def _exact_paths(value: Any) -> Any:
    """Each ShownPath as its exact name (pathcodec.json_path), binary values
    (a query's BLOB column, such as _cf_source_path_bytes) as {"bytes":
    base64} like a name that is not UTF-8; the rest as is."""
    if isinstance(value, ShownPath):
        return json_path(value.stored)
    if isinstance(value, (bytes, bytearray, memoryview)):
        import base64

        return {"bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: _exact_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_exact_paths(v) for v in value]
    return value


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def print_json(value: Any) -> None:
    sys.stdout.write(json_text(value))
    sys.stdout.write("\n")
    sys.stdout.flush()


# Wide enough for any path: a listing piped or redirected keeps whole values.
_UNLIMITED_WIDTH = 1_000_000


def stdout_console() -> Console:
    """A terminal gets tables fitted to its width; a pipe or file gets them at
    unlimited width, so `casparian files | grep` sees every value whole."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console(highlight=False, soft_wrap=False)
    return Console(highlight=False, soft_wrap=False, width=_UNLIMITED_WIDTH)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(*columns, title=title, header_style="bold", show_edge=False)
    for row in rows:
        table.add_row(*(Text(safe_text(v)) for v in row))
    stdout_console().print(table)


def print_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """CSV with a header line: RFC 4180 quoting (a field holding a comma, a
    quote, CR or LF is quoted, quotes doubled), lines ending in LF, NULL as an
    empty field. On a terminal each value is first escaped as in the tables,
    so a control character in the data cannot reach the terminal; to a file
    or a pipe values are exact."""
    import csv

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(columns)
    if sys.stdout.isatty():
        out.writerows([("" if v is None else safe_text(v)) for v in row] for row in rows)
    else:
        out.writerows(rows)
    sys.stdout.flush()


def print_pairs(pairs: Iterable[tuple[str, Any]]) -> None:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print(f"{key:<{width}}  {safe_text(value)}")


def print_error(err: CasparianError) -> None:
    print(f"error: {safe_text(err.message)}", file=sys.stderr)
    if err.hint:
        print(f"hint: {safe_text(err.hint)}", file=sys.stderr)
