"""`casparian source ...`: register, list, show and remove source folders."""

from __future__ import annotations

import argparse
import sys
import time

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_pairs, print_table, safe_text
from casparian_tui.scout.sources import add_source, list_sources, remove_source, source_details
from casparian_tui.units import human_bytes

def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "source",
        description="Source folders are what Casparian catalogs. `casparian scan PATH` adds one too.",
        parents=parents,
    )
    ssub = p.add_subparsers(dest="source_command", metavar="COMMAND", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    add = ssub.add_parser(
        "add",
        help="register a folder (does not scan it)",
        description="Register a folder as a source. Its name defaults to the folder name, made unique.",
        epilog="examples:\n  casparian source add /evidence/host1\n  casparian source add . --name case42\n"
        "  casparian source add /evidence/host2 --hash sha256",
        formatter_class=fmt,
        parents=parents,
    )
    add.add_argument("path", help="the folder")
    add.add_argument("--name", help="a name for the source (default: the folder name)")
    add.add_argument("--hash", choices=["sha256", "sha1", "md5"], metavar="ALGO",
                     help="always hash this source's new and changed files when it is scanned (sha256, sha1, md5)")
    add.add_argument("--json", action="store_true", help="print the new source as JSON")
    add.set_defaults(handler=cmd_add)

    ls = ssub.add_parser(
        "list",
        help="all sources with file counts",
        epilog="examples:\n  casparian source list\n  casparian source list --json",
        formatter_class=fmt,
        parents=parents,
    )
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(handler=cmd_list)

    show = ssub.add_parser(
        "show",
        help="one source: root, file counts by status, last scan",
        epilog="examples:\n  casparian source show case42 --json",
        formatter_class=fmt,
        parents=parents,
    )
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=cmd_show)

    rm = ssub.add_parser(
        "remove",
        help="forget a source and its catalog rows (files on disk are untouched)",
        description="Remove a source and everything cataloged for it. Asks first on a terminal.",
        epilog="examples:\n  casparian source remove case42 --yes",
        formatter_class=fmt,
        parents=parents,
    )
    rm.add_argument("name")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask")
    rm.add_argument("--json", action="store_true", help="print what was removed as JSON")
    rm.set_defaults(handler=cmd_remove)


def print_merged(merged: list[dict], src) -> None:
    """Say on stderr which nested sources the new one absorbed."""
    for m in merged:
        print(
            f"note: the source {safe_text(m['source'])} ({safe_text(m['root'])}) was inside"
            f" {safe_text(src.root_display)}: merged into {safe_text(src.name)}"
            f" ({m['files']:,} files keep their tags and jobs).",
            file=sys.stderr,
        )


def cmd_add(ctx: Context, args: argparse.Namespace) -> int:
    merged: list[dict] = []
    src = add_source(ctx.db, args.path, args.name, merged=merged)
    print_merged(merged, src)
    if args.hash:
        from casparian_tui.scout.hash_catalog import set_source_hash_algo

        ctx.db.write("set a source's hash", lambda c: set_source_hash_algo(c, src.id, args.hash))
    if ctx.json:
        print_json({**src.to_json(), "hash_algo": args.hash})
    else:
        print(f"Added source {safe_text(src.name)}: {safe_text(src.root_display)}")
        print(f"Scan it with: casparian scan {safe_text(src.name)}")
    return 0


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    sources = list_sources(ctx.db)
    if ctx.json:
        print_json([s.to_json() for s in sources])
        return 0
    if not sources:
        print("No sources yet. Add one with: casparian source add PATH (or casparian scan PATH)")
        return 0
    print_table(
        ["name", "root", "files", "size", "last scan"],
        [
            (s.name, s.root_display, f"{s.file_count:,}", human_bytes(s.total_bytes), when(s.last_scan_at))
            for s in sources
        ],
    )
    return 0


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    info = source_details(ctx.db, args.name)
    if ctx.json:
        print_json(info)
        return 0
    last = info["last_scan"]
    pairs = [
        ("name", info["name"]),
        ("root", info["root"]),
        ("files", f"{info['files']:,}"),
        ("size", human_bytes(info["bytes"])),
        ("deleted files", f"{info['deleted_files']:,}"),
        ("by status", ", ".join(f"{k} {v:,}" for k, v in info["by_status"].items()) or "-"),
        ("added", when(info["created_at"])),
    ]
    if last:
        pairs += [
            ("last scan", f"{when(last['started_at'])} ({last['status']}, {last['duration_s'] or 0:.2f} s)"),
            (
                "last scan found",
                f"{last['files_found']:,} files: {last['new_files']:,} new, {last['changed_files']:,} changed, "
                f"{last['renamed_files']:,} renamed, {last['deleted_files']:,} deleted, {last['error_count']:,} errors",
            ),
        ]
    else:
        pairs.append(("last scan", "never"))
    print_pairs(pairs)
    return 0


def cmd_remove(ctx: Context, args: argparse.Namespace) -> int:
    if not args.yes and sys.stdin.isatty() and ctx.interactive:
        info = source_details(ctx.db, args.name)
        answer = input(
            f"Remove source {safe_text(info['name'])} ({safe_text(info['root'])}) and its "
            f"{info['files'] + info['deleted_files']:,} catalog rows? Files on disk are not touched. [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing removed.")
            return 1
    out = remove_source(ctx.db, args.name)
    if ctx.json:
        print_json(out)
    else:
        print(f"Removed source {safe_text(out['source'])} and {out['files_removed']:,} catalog rows.")
    return 0


def when(ts_us: int | None) -> str:
    if not ts_us:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts_us / 1_000_000))
