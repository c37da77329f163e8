"""`casparian tag`: manual tags, and re-applying the rules."""

from __future__ import annotations

import argparse

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, safe_text
from casparian_tui.errors import UsageError
from casparian_tui.scout import rules, tags

EXAMPLES = """\
examples:
  casparian tag '*.evtx' evtx               tag every matching file by hand
  casparian tag /cases/42/dump.bin memory   a real path (file or folder) inside a source
  casparian tag --remove '*.evtx' evtx      remove that manual tag (rules apply again)
  casparian tag --remove /cases/42          remove every manual tag below a folder
  casparian tag                             re-apply all rules to the whole catalog

An argument that exists on disk is a PATH; anything else is a glob PATTERN.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tag",
        description="Manual tags win over rules. With no arguments, re-apply all rules.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("target", nargs="?", metavar="PATTERN|PATH")
    p.add_argument("tag", nargs="?", metavar="TAG")
    p.add_argument("--remove", action="store_true", help="remove the manual TAG (or all manual tags)")
    p.add_argument("--source", metavar="S", help="limit a PATTERN to this source (name or id)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_tag)


def cmd_tag(ctx: Context, args: argparse.Namespace) -> int:
    if args.target is None:
        if args.remove:
            raise UsageError("tag --remove needs a PATTERN or PATH.", hint="e.g. casparian tag --remove '*.tmp'")
        n = ctx.db.write("re-apply tagging rules", lambda conn: rules.apply_rules(conn))
        _report(ctx, {"action": "apply_rules", "files_tagged_by_rules": n}, f"Re-applied rules: {n} files tagged by rules.")
        return 0
    if not args.remove and args.tag is None:
        raise UsageError("Missing TAG.", hint="casparian tag PATTERN|PATH TAG (or no arguments to re-apply rules)")
    if args.tag is not None:
        rules.validate_tag(args.tag)

    def run(conn):
        source_id = None
        if args.source:
            from casparian_tui.scout.catalog import resolve_source

            source_id = resolve_source(conn, args.source)["id"]
        flt = tags.selection_filter(conn, args.target, source_id=source_id)
        if args.remove:
            return tags.remove_manual_tag(conn, flt, args.tag)
        return tags.add_manual_tag(conn, flt, args.tag)

    if args.remove:
        n = ctx.db.write("remove manual tags", run)
        what = f"tag {safe_text(args.tag)!s}" if args.tag else "manual tags"
        _report(ctx, {"action": "remove", "tag": args.tag, "tags_removed": n}, f"Removed {n} {what}.")
    else:
        n = ctx.db.write("tag files", run)
        msg = f"Tagged {n} files with {safe_text(args.tag)!r}." if n else f"No files match {safe_text(args.target)}."
        _report(ctx, {"action": "tag", "tag": args.tag, "files_tagged": n}, msg)
    return 0


def _report(ctx: Context, obj: dict, text: str) -> None:
    if ctx.json:
        print_json(obj)
    else:
        print(text)
