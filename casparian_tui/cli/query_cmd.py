"""`casparian query "SQL"`: read-only SQL over the catalog and the parser outputs."""

from __future__ import annotations

import argparse
import sys

from casparian_tui.cli import query_export
from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_csv, print_json, print_table
from casparian_tui.errors import UsageError
from casparian_tui.outputs import query
from casparian_tui.sentinel.selection import resolve_output_root

EXAMPLES = """\
examples:
  casparian query "SELECT extension, count(*) FROM scout_files GROUP BY 1 ORDER BY 2 DESC"
  casparian query "SELECT level, count(*) FROM outputs.log_lines_log_lines GROUP BY 1" --json
  casparian query "SELECT * FROM read_parquet('out/*.parquet')" --csv --limit 0
  casparian query "SHOW ALL TABLES"
  casparian query "SELECT * FROM outputs.log_lines_log_lines" --output lines.parquet
  casparian query "SELECT * FROM scout_files" --output files.csv --force

Only one read-only statement (SELECT, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN).
Writes, ATTACH, COPY ... TO, INSTALL/LOAD, SET, PRAGMA, CHECKPOINT and
side-effect functions (checkpoint(), setseed(), query()) are refused (exit 1),
also inside EXPLAIN ANALYZE. Reading files (read_csv, glob) is allowed: it
reads what your user may read.
--csv: RFC 4180 quoting, LF line ends; exact to a pipe or file, control
characters escaped on a terminal.
Each parser output is a view outputs.<parser>_<output> over its latest version.
On the SQLite backend a query that reads outputs runs on an in-memory DuckDB
over the Parquet; the catalog tables it joins are copied in (at most 200,000
rows in all; the DuckDB backend has no such limit).

--output FILE writes the whole result (--limit only if given) as CSV, Parquet
or JSON Lines, the format taken from the extension (.csv, .parquet, .jsonl) or
--format. An existing FILE is refused (exit 1) unless --force.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("query",
                       description="Run one read-only SQL query.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
    p.add_argument("sql", metavar="SQL")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON: columns, rows (objects), truncated")
    fmt.add_argument("--csv", action="store_true", help="print CSV with a header line (RFC 4180 quoting, LF line ends; "
                     "on a terminal control characters are escaped)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help=f"at most N rows (default {query.DEFAULT_LIMIT}, all with --output; 0 for no limit)")
    p.add_argument("--output", metavar="FILE", dest="output_file", help="write the result to FILE instead")
    p.add_argument("--format", choices=["csv", "parquet", "jsonl"], help="format of --output (default: its extension)")
    p.add_argument("--force", action="store_true", help="let --output overwrite an existing file")
    p.add_argument("--output-root", metavar="DIR", dest="output",
                   help="output root holding the Parquet outputs (default <home>/output)")
    p.set_defaults(handler=cmd_query)


def cmd_query(ctx: Context, args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must not be negative.")
    if (args.format or args.force) and not args.output_file:
        raise UsageError("--format and --force go with --output FILE.")
    root = resolve_output_root(args.output, ctx.settings.home)
    if args.output_file:
        return query_export.export_to_file(ctx, args.sql, root, args.output_file, args.format, args.force, args.limit)
    args.limit = query.DEFAULT_LIMIT if args.limit is None else args.limit
    result = query_export.fetch(ctx, args.sql, root, args.limit or 1 << 62)
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
