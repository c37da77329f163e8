"""`casparian db ...`: look at the database file itself."""

from __future__ import annotations

import argparse

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_pairs
from casparian_tui.db.info import database_info
from casparian_tui.db.lease import describe_holder

HELP = "inspect the database file (backend, size, schema version, lock holder)"


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "db",
        help=HELP,
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
            ("size", _human_bytes(info["size_bytes"])),
            ("schema version", info["schema_version"]),
            ("read-only", "yes" if info["read_only"] else "no"),
            ("lease", describe_holder(lease) if lease else "free"),
        ]
    )
    return 0


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


