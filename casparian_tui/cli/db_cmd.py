"""`casparian db ...`: look at the database file itself."""

from __future__ import annotations

import argparse

import contextlib
from pathlib import Path

from casparian_tui.cli.context import Context
from casparian_tui.config import PG_PREFIXES, SQLITE_SUFFIXES
from casparian_tui.cli.output import print_json, print_pairs, print_table, stdout_console
from casparian_tui.db.check import check_database
from casparian_tui.db.dialect import dialect_for
from casparian_tui.db.info import database_info, database_size
from casparian_tui.db.lease import describe_holder
from casparian_tui.db.transfer import TransferReport, transfer
from casparian_tui.errors import EXIT_ERROR, UsageError
from casparian_tui.units import human_bytes

def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "db",
        description="Inspect the database file.",
        parents=parents,
    )
    dsub = p.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    info = dsub.add_parser(
        "info",
        help="backend, path, size, schema version, read-only flag and lease holder",
        description=(
            "Show which database Casparian uses and who holds its writer lease. "
            "Creates and migrates the database when it does not exist yet "
            "(unless --read-only)."
        ),
        epilog="examples:\n  casparian db info\n  casparian --backend sqlite db info --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(handler=cmd_info)

    check = dsub.add_parser(
        "check",
        help="schema version, integrity (orphan tags, jobs without files, duplicate paths), size",
        description=(
            "Check the database: schema version, row counts, references that point nowhere "
            "(tags, jobs, dead letters, backtest results, contract versions), duplicate "
            "(source, path) entries, id sequences (DuckDB) and the file structure (SQLite). "
            "Exits 1 when a problem is found."
        ),
        epilog="examples:\n  casparian db check\n  casparian --db old.sqlite db check --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(handler=cmd_check)

    migrate = dsub.add_parser(
        "migrate",
        help="copy a database into a new one of another backend, verified (SQLite -> DuckDB by default)",
        description=(
            "Copy every table of a SQLite database into a new DuckDB file: ids, timestamps, "
            "NULLs and file names exactly; new ids continue after the highest. The source is "
            "opened read-only under its writer lease and never changed. The copy is built in a "
            "temporary file beside the target, verified table by table (row count and checksum) "
            "and only then renamed, so a failure leaves no target. An older SQLite schema is "
            "brought to the current one in the copy. Use the result with --db PATH."
        ),
        epilog=(
            "examples:\n  casparian db migrate --from ~/.casparian_flow/casparian_flow.sqlite "
            "--to ~/.casparian_flow/casparian_flow.duckdb\n"
            "  casparian db migrate --from old.sqlite --to new.duckdb --force --json\n"
            "  casparian db migrate --from casparian_flow.duckdb --to postgresql://cf@dbhost/casparian\n\n"
            "A postgresql:// target must hold no Casparian tables (or --force); it is filled in one\n"
            "transaction that commits only once verified."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="PATH",
                         help="the database to copy (a file or a postgresql:// URL)")
    migrate.add_argument("--to", dest="target", required=True, metavar="PATH",
                         help="the database to create (.duckdb, .sqlite or a postgresql:// URL)")
    migrate.add_argument("--force", action="store_true", help="replace the target if it exists")
    migrate.add_argument("--json", action="store_true", help="print one JSON object")
    migrate.set_defaults(handler=cmd_migrate)

    export = dsub.add_parser(
        "export",
        help="copy the current DuckDB database into a new SQLite file, verified (the way back)",
        description=(
            "Copy every table of the current DuckDB database (--db, or the default) into a new "
            "SQLite file, with the same guarantees as `db migrate`: the source is read under its "
            "writer lease, the copy is verified before it is renamed into place."
        ),
        epilog=(
            "examples:\n  casparian db export --to ~/.casparian_flow/casparian_flow.sqlite\n"
            "  casparian --db work.duckdb db export --to work.sqlite --force --json\n"
            "  casparian --db postgresql://cf@dbhost/casparian db export --to snapshot.duckdb"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    export.add_argument("--to", dest="target", required=True, metavar="PATH", help="the SQLite file to create")
    export.add_argument("--force", action="store_true", help="replace the target if it exists")
    export.add_argument("--json", action="store_true", help="print one JSON object")
    export.set_defaults(handler=cmd_export)


def cmd_info(ctx: Context, args: argparse.Namespace) -> int:
    info = database_info(ctx.db)
    if ctx.json:
        print_json(info)
        return 0
    lease = info["lease"]
    print_pairs(
        [
            ("backend", info["backend"]),
            ("path", info["path"]),
            ("size", human_bytes(info["size_bytes"])),
            ("schema version", info["schema_version"]),
            ("read-only", "yes" if info["read_only"] else "no"),
            ("lease", describe_holder(lease) if lease else
             "none (a server: every process reads and writes at once)" if ctx.db.shared else "free"),
        ]
    )
    return 0


def cmd_check(ctx: Context, args: argparse.Namespace) -> int:
    result = ctx.db.read(check_database)
    result = {"backend": ctx.db.backend, "path": ctx.db.location, "size_bytes": database_size(ctx.db), **result}
    result["ok"] = not result["problems"]
    if ctx.json:
        print_json(result)
    else:
        print_pairs(
            [
                ("backend", result["backend"]),
                ("path", result["path"]),
                ("size", human_bytes(result["size_bytes"])),
                ("schema version", result["schema_version"]),
                ("files", f"{result['rows'].get('scout_files', 0):,}"),
                ("jobs", f"{result['rows'].get('cf_processing_queue', 0):,}"),
                ("problems", len(result["problems"]) or "none"),
            ]
        )
        if result["problems"]:
            print_table(["check", "rows", "what"], [(p["check"], p["count"], p["detail"]) for p in result["problems"]])
    return 0 if result["ok"] else EXIT_ERROR


def _kind_of(place: str, default: str) -> str:
    """The backend a --from/--to names: a postgresql:// URL, else a file's contents or its suffix."""
    if place.lower().startswith(PG_PREFIXES):
        return "postgres"
    path = Path(place).expanduser()
    if path.exists() and path.is_file():
        kind = _file_kind(path)
        if kind != "unknown":
            return kind
    if place.lower().endswith(SQLITE_SUFFIXES):
        return "sqlite"
    return "duckdb" if place.lower().endswith(".duckdb") else default


def _place(text: str, backend: str):
    return dialect_for(backend).place(text)


def cmd_migrate(ctx: Context, args: argparse.Namespace) -> int:
    src_backend = _kind_of(args.source, "sqlite")
    dst_backend = _kind_of(args.target, "duckdb")
    if src_backend == dst_backend:
        raise UsageError(f"The source and the target are both {src_backend}; migrate copies between two backends.",
                         hint="Name a target of another kind, e.g. --to PATH.sqlite, or use: "
                              "casparian --db SOURCE db export --to PATH")
    return _run_transfer(ctx, args, _place(args.source, src_backend), src_backend,
                         _place(args.target, dst_backend), dst_backend)


def cmd_export(ctx: Context, args: argparse.Namespace) -> int:
    backend = ctx.settings.backend
    dst_backend = _kind_of(args.target, "sqlite")
    if dst_backend == backend:
        raise UsageError(
            f"db export copies the current database to another backend; the current one is {backend}, "
            f"and so is the target.",
            hint="To copy SQLite to DuckDB use: casparian db migrate --from SOURCE --to PATH",
        )
    source = ctx.settings.dsn if dialect_for(backend).is_server else ctx.settings.db_path
    return _run_transfer(ctx, args, source, backend, _place(args.target, dst_backend), dst_backend)


def _run_transfer(ctx: Context, args, source, src_backend: str, target, dst_backend: str) -> int:
    with _progress(ctx) as on_progress:
        report = transfer(
            source, src_backend, target, dst_backend,
            force=args.force, wait_s=ctx.settings.wait_s, command=ctx.settings.command, on_progress=on_progress,
        )
    if ctx.json:
        print_json(report.to_dict())
        return 0
    _print_report(report)
    return 0


@contextlib.contextmanager
def _progress(ctx: Context):
    """A rich progress bar per table on a terminal; nothing otherwise."""
    if not ctx.interactive:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bars: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=stdout_console(), transient=False,
    ) as progress:

        def on_progress(table: str, rows: int, total: int) -> None:
            if table not in bars:
                bars[table] = progress.add_task(table, total=total)
            elif rows:
                progress.advance(bars[table], rows)

        yield on_progress


def _print_report(report: TransferReport) -> None:
    print_table(
        ["table", "rows", "checksum", "verified"],
        [(t.table, f"{t.rows_target:,}", t.checksum_target, "yes") for t in report.tables],
    )
    print(f"Copied {report.source} ({report.source_backend}, schema {report.source_schema_version}) to "
          f"{report.target} ({report.target_backend}, schema {report.target_schema_version}) "
          f"in {report.duration_s:.1f} s; every table verified.")
    if dialect_for(report.target_backend).is_server:
        print("Use it with: casparian --db postgresql://HOST:PORT/DBNAME ... (the URL you gave)")
    else:
        print(f"Use it with: casparian --db {report.target} ...")


def _file_kind(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head == b"SQLite format 3\x00":
        return "sqlite"
    return "duckdb" if head[8:12] == b"DUCK" else "unknown"


