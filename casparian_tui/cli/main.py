"""`casparian`: the command-line face of Casparian Flow."""

from __future__ import annotations

import argparse
import signal
import sys
import traceback

from casparian_tui import __version__
from casparian_tui.cli import (
    backtest_cmd,
    bench_cmd,
    db_cmd,
    files_cmd,
    jobs_cmd,
    query_cmd,
    rule_cmd,
    run_cmd,
    scan_cmd,
    schema_cmd,
    source_cmd,
    tag_cmd,
    tui_cmd,
    worker_cmd,
)
from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_error, safe_text
from casparian_tui.errors import EXIT_ERROR, CasparianError

# Each module adds one command group; the order is the order in --help.
# In the order of the work: look, discover, tag, process, trust, query, the file itself.
COMMAND_GROUPS = [
    tui_cmd,
    source_cmd,
    scan_cmd,
    files_cmd,
    rule_cmd,
    tag_cmd,
    run_cmd,
    worker_cmd,
    jobs_cmd,
    backtest_cmd,
    schema_cmd,
    query_cmd,
    db_cmd,
    bench_cmd,
]

DESCRIPTION = """\
Casparian Flow turns a messy pile of files into data you can query and trust.
It catalogs files in a database (DuckDB by default, SQLite as legacy), tags
them with glob rules, runs parser plugins into Parquet, and shows it all in a
terminal UI. The CLI and the TUI can use the same database at the same time.
"""

EPILOG = """\
examples:
  casparian tui --demo              the terminal UI, with a demo corpus to explore
  casparian scan /evidence/host1    catalog a folder (rescan: casparian scan host1)
  casparian source list             the folders Casparian catalogs
  casparian files --glob '*.evtx' --json
  casparian rule add '**/*.evtx' --tag evtx   tag files by pattern (preview: rule test)
  casparian run assets/parsers/csv_rows.py --tag csv --json
  casparian jobs --status failed    the queue; steer it with: casparian job show|retry|cancel ID
  casparian --db postgresql://cf@dbhost/cf worker   run queued jobs; one per host, many hosts
  casparian backtest my_parser.py --tag logs --sample 100   pass rate before a full run
  casparian schema propose my_parser.py && casparian schema approve my_parser
  casparian query "SELECT count(*) FROM outputs.csv_rows_csv_rows" --json
  casparian db info --json          where the database is and who holds it
  casparian db migrate --from old.sqlite --to new.duckdb   move to DuckDB, verified
  casparian db check                integrity: orphans, duplicates, sequences
  casparian --backend sqlite db info
  CASPARIAN_READONLY=1 casparian files     read while another process writes
  casparian bench --quick           the performance targets, measured here

exit codes:
  0 ok · 1 error · 2 usage · 3 database locked by another process ·
  4 refused in read-only mode

environment:
  CASPARIAN_HOME      home folder (default ~/.casparian_flow)
  CASPARIAN_DB        database file (default <home>/casparian_flow.duckdb)
  CASPARIAN_BACKEND   duckdb (default) or sqlite
  CASPARIAN_READONLY  1 to refuse every write
"""


def global_options(suppress: bool, backend: bool = True) -> argparse.ArgumentParser:
    """Options accepted before or after any command.

    Sub-commands get SUPPRESS defaults so a value given before the command
    is not overwritten by the sub-parser's default.
    """
    d = argparse.SUPPRESS if suppress else None
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("global options")
    g.add_argument("--db", metavar="PATH", default=d,
                   help="database file, or a postgresql:// URL (env CASPARIAN_DB)")
    if backend:
        g.add_argument(
            "--backend", choices=["duckdb", "sqlite", "postgres"], default=d,
            help="database backend (env CASPARIAN_BACKEND; a postgresql:// --db implies postgres)",
        )
    g.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="never write; refuse commands that would (env CASPARIAN_READONLY=1)",
    )
    g.add_argument(
        "--wait", type=float, metavar="SECONDS", default=d, help="how long to wait for a locked database (default 30)"
    )
    g.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="show tracebacks",
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="casparian",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_options(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"casparian {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    parents = [global_options(suppress=True)]
    for group in COMMAND_GROUPS:
        group.register(sub, parents)
    return parser


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    ctx = None
    try:
        ctx = Context.from_args(args, argv)
        return args.handler(ctx, args) or 0
    except CasparianError as err:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print_error(err)
        return err.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except PermissionError as exc:  # the machine's doing, not a bug: say which file
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"error: Permission denied: {safe_text(exc.filename or exc)}", file=sys.stderr)
        print("hint: check that folder's permissions, or choose another with CASPARIAN_HOME or --db "
              "(--read-only needs no write access).", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: still one line unless --debug
        if getattr(args, "debug", False):
            traceback.print_exc()
        else:
            print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
            print("hint: run again with --debug for the traceback, and please report it.", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if ctx is not None:
            ctx.close()


if __name__ == "__main__":
    raise SystemExit(main())
