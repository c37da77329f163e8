"""`casparian files`: list cataloged files, filtered, sorted and paged."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_table
from casparian_tui.scout import catalog

EXAMPLES = """\
examples:
  casparian files --ext evtx --limit 20
  casparian files --glob 'logs/**/*.csv' --sort size --json
  casparian files --tag evtx --source case42
  casparian files --untagged --status pending --offset 50
  casparian files --status failed --json     files whose latest job (for some parser) failed
  casparian files --hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --json
  casparian files --not-in-hashset nsrl --source case42

An unknown --tag or --source exits 1; an unknown --status exits 2.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "files",
        description="List files from the catalog (deleted files are never shown).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("--source", metavar="S", help="only this source (name or id)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tag", metavar="T", help="only files with this tag")
    g.add_argument("--untagged", action="store_true", help="only files without any tag")
    p.add_argument("--status", metavar="S", action="append", default=[], help="only files with this status: pending, queued, processed or failed, from their jobs (repeatable)")
    p.add_argument("--ext", metavar="E", action="append", default=[], help="only this extension, e.g. csv (repeatable)")
    p.add_argument(
        "--glob",
        metavar="PATTERN",
        action="append",
        default=[],
        help="only paths matching PATTERN (repeatable; '!PATTERN' excludes)",
    )
    p.add_argument("--case-sensitive", action="store_true", help="match --glob with case")
    p.add_argument("--hash", metavar="H", help="only files whose current content hash is H (hex)")
    p.add_argument("--in-hashset", metavar="NAME", action="append", default=[],
                   help="only files whose current hash is in this hash set (repeatable)")
    p.add_argument("--not-in-hashset", metavar="NAME", action="append", default=[],
                   help="only files not in this hash set, unhashed ones included (repeatable)")
    p.add_argument("--dupes", action="store_true", help="only files with an identical copy (see `casparian dupes`)")
    p.add_argument("--changed-in", type=int, metavar="SCAN_ID",
                   help="only files that scan found new, changed or renamed; not those only touched "
                        "(same hash, new mtime; see `casparian changes`)")
    p.add_argument("--limit", type=int, default=catalog.DEFAULT_LIMIT, metavar="N", help="at most N files (default 50)")
    p.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N files")
    p.add_argument("--sort", choices=list(catalog.SORTS), default="path", help="order (default path)")
    p.add_argument("--desc", action="store_true", help="reverse the order")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=cmd_files)


def cmd_files(ctx: Context, args: argparse.Namespace) -> int:
    flt = catalog.FileFilter.build(
        tag=args.tag,
        untagged=args.untagged,
        statuses=args.status,
        extensions=args.ext,
        patterns=args.glob,
        case_sensitive=args.case_sensitive,
    )  # patterns are validated here, before the database is opened
    flt.content_hash = args.hash
    flt.in_hashsets = args.in_hashset
    flt.not_in_hashsets = args.not_in_hashset
    flt.duplicates = args.dupes
    flt.changed_in_scan = args.changed_in

    def query(conn):
        if args.source:
            flt.source_id = catalog.resolve_source(conn, args.source)["id"]
        if args.tag:
            from casparian_tui.scout.tags import require_known_tag

            require_known_tag(conn, args.tag)
        if flt.in_hashsets or flt.not_in_hashsets:
            from casparian_tui.scout.hashsets import sets_named

            sets_named(conn, [*flt.in_hashsets, *flt.not_in_hashsets])
        rows = catalog.list_files(
            conn, flt, sort=args.sort, descending=args.desc, limit=args.limit, offset=args.offset,
            with_hashes=ctx.json,
        )
        total = catalog.count_files(conn, flt) if ctx.interactive else None
        return rows, total

    rows, total = ctx.db.read(query)
    if ctx.json:
        print_json(rows)
        return 0
    print_table(
        ["id", "source", "path", "size", "modified", "status", "tags"],
        (
            [r["id"], r["source"], r["rel_path"], r["size"], _when(r["mtime"]), r["status"], ", ".join(r["tags"])]
            for r in rows
        ),
    )
    if total is not None:
        shown = f"{args.offset + 1}-{args.offset + len(rows)}" if rows else "none"
        print(f"{shown} of {total} files")
    return 0


def _when(mtime_us: int | None) -> str:
    if mtime_us is None:
        return ""
    return datetime.fromtimestamp(mtime_us / 1e6, tz=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")
