"""`casparian changes [SCAN_ID | --since WHEN]`: the files a scan found new, changed, renamed, deleted."""

from __future__ import annotations

import argparse

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_table, safe_text


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "changes",
        description="The files a scan found new, changed, renamed or deleted; a changed file whose new hash equals "
        "its old one (same size, only the mtime moved) shows as touched once it is hashed. Without SCAN_ID or --since: "
        "the latest scan (of --source, when given). `casparian scan --json` prints each scan's id.",
        epilog="examples:\n  casparian changes\n  casparian changes 42 --json\n"
        "  casparian changes --since 2d --source case42\n  casparian changes --since 2026-11-30T08:00",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("scan_id", nargs="?", type=int, metavar="SCAN_ID", help="one scan")
    p.add_argument("--since", metavar="WHEN", help="every scan started since WHEN (2h, 3d, 1w, or an ISO date/time)")
    p.add_argument("--source", metavar="S", help="only scans of this source (name or id)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="at most N files per scan")
    p.add_argument("--json", action="store_true", help="print a JSON list of scans with their files")
    p.set_defaults(handler=cmd_changes)


def cmd_changes(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.errors import UsageError
    from casparian_tui.scout import catalog, scan_changes

    if args.scan_id is not None and args.since:
        raise UsageError("Give a SCAN_ID or --since, not both.")
    since = scan_changes.parse_when(args.since) if args.since else None

    def query(conn):
        sid = catalog.resolve_source(conn, args.source)["id"] if args.source else None
        runs = scan_changes.scans_for(conn, scan_id=args.scan_id, since_us=since, source_id=sid)
        for r in runs:
            r["files"] = scan_changes.changes_of(conn, r["id"], args.limit)
        return runs

    runs = ctx.db.read(query)
    if ctx.json:
        print_json([{"scan_id": r.pop("id"), **r} for r in runs])
        return 0
    if not runs:
        print("No scans found.")
        return 0
    for r in runs:
        touched = f" ({r['touched_files']:,} only touched: same hash)" if r["touched_files"] else ""
        print(f"scan {r['id']} of {safe_text(r['source'])} ({r['status']}): {r['new_files']:,} new, "
              f"{r['changed_files']:,} changed{touched}, {r['renamed_files']:,} renamed, {r['deleted_files']:,} deleted")
        if r["files"]:
            print_table(
                ["change", "path", "was"],
                ([f["change"], f["path"], f["old_rel_path"] or ""] for f in r["files"]),
            )
    return 0
