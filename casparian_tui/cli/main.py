"""`casparian`: the command-line face of Casparian Flow."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import traceback

from casparian_tui import __version__
from casparian_tui.errors import EXIT_ERROR, CasparianError

# Start-up time is a feature: a command module (and the services, duckdb,
# pyarrow or textual it needs) is imported only when its command runs, so
# --version, --help and each command pay only for what they use. The top-level
# help lists commands from this table; the chosen module then builds its own
# parser. Order: the order of the work (look, discover, tag, process, trust,
# query, the file itself).
COMMANDS: list[tuple[str, str, str]] = [  # (command, module in casparian_tui.cli, one-line help)
    ("tui", "tui_cmd", "the interactive terminal UI (Discover, Jobs, Parser Bench, Settings)"),
    ("source", "source_cmd", "register, list, show and remove source folders"),
    ("scan", "scan_cmd", "scan a folder or a source: catalog new, changed, renamed and deleted files"),
    ("files", "files_cmd", "list cataloged files (filter by source, tag, status, extension, glob)"),
    ("hash", "hash_cmd", "hash file contents of a source (new and changed files only; sha256, sha1, md5)"),
    ("dupes", "hash_cmd", "groups of identical files (same hash and size), largest waste first"),
    ("hashset", "hash_cmd", "known-file hash sets (NSRL-style or known-bad): import, list, remove"),
    ("changes", "changes_cmd", "the files a scan found new, changed, renamed or deleted"),
    ("rule", "rule_cmd", "tagging rules: add, list, remove, test a pattern"),
    ("tag", "tag_cmd", "tag files by hand (PATTERN|PATH TAG), or re-apply rules"),
    ("untag", "tag_cmd", "remove one tag from files (stays removed across rescans and rules)"),
    ("run", "run_cmd", "run a parser plugin over files into Parquet (with lineage, quarantine, retries)"),
    ("worker", "worker_cmd", "run queued jobs until stopped (one per host, or several)"),
    ("parser", "worker_cmd", "register parsers so workers on any host can run them"),
    ("jobs", "jobs_cmd", "job counts by status and the latest jobs (or the dead letter)"),
    ("job", "jobs_cmd", "show, retry, cancel, requeue or purge jobs"),
    ("backtest", "backtest_cmd", "run a parser over a tag's files without publishing outputs"),
    ("schema", "schema_cmd", "schema contracts for parser outputs (list, show, propose, approve)"),
    ("query", "query_cmd", "read-only SQL over the catalog and parser outputs"),
    ("db", "db_cmd", "the database file: info, check, migrate SQLite to DuckDB, export DuckDB to SQLite"),
    ("bench", "bench_cmd", "measure every performance target (DuckDB and SQLite side by side)"),
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
  4 refused in read-only mode · 130 interrupted (Ctrl+C) · 143 SIGTERM
  1 also when the work was done but not all of it went through: run (a job
  failed, was dead-lettered or cancelled), backtest (a file failed), db check
  (a problem found), bench (a target missed, not with --quick), job purge and
  source remove (you answered no). scan exits 0 when some files could not be
  read: it lists them (errors in --json).

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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, that command's module adds its full sub-parser.

    Without it every command is a placeholder that only names it: enough for
    --help, --version and to find which command was asked for.
    """
    parser = argparse.ArgumentParser(
        prog="casparian",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_options(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"casparian {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    module = next((m for name, m, _ in COMMANDS if name == command), None)
    if module is None:
        for name, _, help_ in COMMANDS:
            sub.add_parser(name, help=help_, add_help=False)
    else:
        importlib.import_module(f"casparian_tui.cli.{module}").register(sub, [global_options(suppress=True)])
    return parser


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    outline = build_parser()
    found, _ = outline.parse_known_args(argv)  # --help, --version and bad global options end here
    if not found.command:
        outline.print_help()
        return 0
    args = build_parser(found.command).parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    ctx = None
    try:
        from casparian_tui.cli.context import Context

        ctx = Context.from_args(args, argv)
        return args.handler(ctx, args) or 0
    except CasparianError as err:
        if getattr(args, "debug", False):
            traceback.print_exc()
        from casparian_tui.cli.output import print_error

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
        from casparian_tui.cli.output import safe_text

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
