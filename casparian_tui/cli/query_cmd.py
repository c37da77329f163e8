"""`casparian query "SQL"`: read-only SQL over the catalog and the parser outputs."""

from __future__ import annotations

import argparse
import sys

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_csv, print_json, print_table
from casparian_tui.errors import UsageError
from casparian_tui.outputs import query
from casparian_tui.sentinel.selection import default_output_root

EXAMPLES = """\
examples:
  casparian query "SELECT extension, count(*) FROM scout_files GROUP BY 1 ORDER BY 2 DESC"
  casparian query "SELECT level, count(*) FROM outputs.log_lines_log_lines GROUP BY 1" --json
  casparian query "SELECT * FROM read_parquet('out/*.parquet')" --csv --limit 0
  casparian query "SHOW ALL TABLES"

Only one read-only statement (SELECT, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN).
Writes, ATTACH, COPY ... TO, INSTALL/LOAD, SET, PRAGMA, CHECKPOINT and
side-effect functions (checkpoint(), setseed(), query()) are refused (exit 1),
also inside EXPLAIN ANALYZE. Reading files (read_csv, glob) is allowed: it
reads what your user may read.
--csv: RFC 4180 quoting, LF line ends; exact to a pipe or file, control
characters escaped on a terminal.
Each parser output is a view outputs.<parser>_<output> over its latest version.
On the SQLite backend only the catalog tables can be queried (SQLite cannot
read Parquet); use the DuckDB backend to query outputs.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("query", help="read-only SQL over the catalog and parser outputs",
                       description="Run one read-only SQL query.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
    p.add_argument("sql", metavar="SQL")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON: columns, rows (objects), truncated")
    fmt.add_argument("--csv", action="store_true", help="print CSV with a header line (RFC 4180 quoting, LF line ends; "
                     "on a terminal control characters are escaped)")
    p.add_argument("--limit", type=int, default=query.DEFAULT_LIMIT, metavar="N",
                   help=f"at most N rows (default {query.DEFAULT_LIMIT}; 0 for no limit)")
    p.add_argument("--output", metavar="DIR", help="output root holding the Parquet outputs (default <home>/output)")
    p.set_defaults(handler=cmd_query)


def cmd_query(ctx: Context, args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise UsageError("--limit must not be negative.")
    limit = args.limit or 1 << 62
    root = args.output or default_output_root(ctx.settings.home)
    result = ctx.db.read(lambda c: query.run_query(c, args.sql, root, limit))
    if ctx.json:
        print_json({"columns": result.columns, "rows": [dict(zip(result.columns, r)) for r in result.rows],
                    "truncated": result.truncated})
    elif args.csv:
        print_csv(result.columns, result.rows)
    else:
        print_table(result.columns, result.rows)
        note = f"{len(result.rows)} row{'s' if len(result.rows) != 1 else ''}"
        if result.truncated:
            note += f" (stopped at --limit {args.limit})"
        print(note, file=sys.stderr)
    return 0
