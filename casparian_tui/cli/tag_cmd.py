"""`casparian tag` and `casparian untag`: manual tags, untags, re-applying the rules."""

from __future__ import annotations

import argparse

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, safe_text
from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.scout import rules, tags

MODEL = """\
Tags add up: a file carries every tag whose enabled rule matches it, plus its
manual tags. `untag` removes one tag from the files that carry it and
remembers that, so rules do not give it back (tag the file again to undo).
An argument that exists on disk is a PATH; anything else is a glob PATTERN.
"""

TAG_EXAMPLES = """\
examples:
  casparian tag '*.evtx' evtx               tag every matching file by hand
  casparian tag /cases/42/dump.bin memory   a real path (file or folder) inside a source
  casparian tag --remove '*.tmp' logs       the same as `casparian untag '*.tmp' logs`
  casparian tag                             re-apply all rules to the whole catalog
"""

UNTAG_EXAMPLES = """\
examples:
  casparian untag /var/log/dpkg.log dpkg    remove one tag from one file (stays removed on rescans)
  casparian untag 'tmp/**' logs             remove it from every matching file
  casparian untag --reset /cases/42         forget manual tags and untags below a folder: rules decide again
"""


class PathNotCataloged(CasparianError):
    """A PATH or PATTERN that selects no cataloged file."""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tag",
        description="Add a manual tag. With no arguments, re-apply all rules.\n\n" + MODEL,
        epilog=TAG_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("target", nargs="?", metavar="PATTERN|PATH")
    p.add_argument("tag", nargs="?", metavar="TAG")
    p.add_argument("--remove", action="store_true", help="remove TAG instead (same as `casparian untag`)")
    _common(p)
    p.set_defaults(handler=cmd_tag)

    u = sub.add_parser(
        "untag",
        help="remove a tag from files (PATTERN|PATH TAG); it stays removed",
        description="Remove TAG from the selected files, whatever gave it.\n\n" + MODEL,
        epilog=UNTAG_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    u.add_argument("target", metavar="PATTERN|PATH")
    u.add_argument("tag", nargs="?", metavar="TAG")
    u.add_argument("--reset", action="store_true", help="forget these files' manual tags and untags instead")
    _common(u)
    u.set_defaults(handler=cmd_untag)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", metavar="S", help="limit a PATTERN to this source (name or id)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_tag(ctx: Context, args: argparse.Namespace) -> int:
    if args.remove:
        if args.target is None:
            raise UsageError("tag --remove needs a PATTERN or PATH and a TAG.", hint="e.g. casparian untag '*.tmp' logs")
        return cmd_untag(ctx, argparse.Namespace(**{**vars(args), "reset": False}))
    if args.target is None:
        n = ctx.db.write("re-apply tagging rules", lambda conn: rules.apply_rules(conn))
        _report(ctx, {"action": "apply_rules", "files_tagged_by_rules": n}, f"Re-applied rules: {n} files tagged by rules.")
        return 0
    if args.tag is None:
        raise UsageError("Missing TAG.", hint="casparian tag PATTERN|PATH TAG (or no arguments to re-apply rules)")
    rules.validate_tag(args.tag)
    n = ctx.db.write("tag files", lambda conn: tags.add_manual_tag(conn, _selection(conn, args), args.tag))
    _report(ctx, {"action": "tag", "tag": args.tag, "files_tagged": n}, f"Tagged {n} files with {safe_text(args.tag)!r}.")
    return 0


def cmd_untag(ctx: Context, args: argparse.Namespace) -> int:
    if args.reset:
        if args.tag is not None:
            raise UsageError("untag --reset takes no TAG.", hint="casparian untag --reset PATTERN|PATH")
        n = ctx.db.write("reset manual tags", lambda conn: tags.reset_manual(conn, _selection(conn, args)))
        _report(ctx, {"action": "reset", "manual_entries_removed": n}, f"Forgot {n} manual tags and untags; rules decide again.")
        return 0
    if args.tag is None:
        raise UsageError("Missing TAG.", hint="casparian untag PATTERN|PATH TAG (or --reset PATTERN|PATH)")
    rules.validate_tag(args.tag)

    def run(conn):
        flt = _selection(conn, args)
        tags.require_known_tag(conn, args.tag)
        return tags.untag(conn, flt, args.tag)

    n = ctx.db.write("remove a tag", run)
    _report(ctx, {"action": "untag", "tag": args.tag, "files_untagged": n}, f"Removed {safe_text(args.tag)!r} from {n} files.")
    return 0


def _selection(conn, args):
    """The files a PATH or PATTERN selects; an error when it selects none."""
    from casparian_tui.scout.catalog import count_files, resolve_source

    source_id = resolve_source(conn, args.source)["id"] if args.source else None
    flt = tags.selection_filter(conn, args.target, source_id=source_id)
    if not count_files(conn, flt):
        raise PathNotCataloged(
            f"No cataloged file matches {safe_text(args.target)}.",
            hint="A PATH must be a file or folder inside a scanned source; see `casparian files --glob PATTERN`.",
        )
    return flt


def _report(ctx: Context, obj: dict, text: str) -> None:
    if ctx.json:
        print_json(obj)
    else:
        print(text)
