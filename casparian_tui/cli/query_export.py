"""`casparian query`'s result through the paged result service, and `--output FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json
from casparian_tui.outputs.query import QueryResult


def _result(ctx: Context, sql: str, root, page_rows: int):
    from casparian_tui.outputs.results import ResultSet

    return ResultSet(ctx.db, sql, Path(root), page_rows=page_rows)


def fetch(ctx: Context, sql: str, root, limit: int) -> QueryResult:
    """At most `limit` rows (one page of limit + 1 tells whether more exist)."""
    r = _result(ctx, sql, root, limit + 1)
    page = _wait(r, r.open())
    return QueryResult(r.columns, page.rows[:limit], len(page.rows) > limit)


def export_to_file(ctx: Context, sql: str, root, path: str, fmt: str | None, force: bool, limit: int | None) -> int:
    from casparian_tui.outputs.results import ResultSet

    params = []
    if limit:
        sql, params = f"SELECT * FROM (\n{sql.strip().rstrip(';')}\n) AS q LIMIT ?", [limit]
    r = ResultSet(ctx.db, sql, Path(root), params=params, page_rows=1)
    progress = None
    if ctx.interactive:
        def progress(rows: int) -> None:
            print(f"\r  {rows:,} rows written", end="", file=sys.stderr, flush=True)

    fut = r.export(Path(path), fmt, overwrite=force, progress=progress)
    try:
        done = _wait(r, fut)
    finally:
        if progress is not None:
            print(file=sys.stderr)
    if ctx.json:
        print_json({"path": done.path, "format": done.format, "rows": done.rows, "bytes": done.bytes})
    else:
        print(f"{done.rows:,} row{'s' if done.rows != 1 else ''} written to {done.path} ({done.format})",
              file=sys.stderr)
    return 0


def _wait(r, fut):
    try:
        return fut.result()
    except KeyboardInterrupt:
        r.interrupt()  # stop the query too, not only our wait for it
        raise
