"""`rule add --hashset NAME --tag T` and hash-set rules in `rule list`."""

from __future__ import annotations

import argparse

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, safe_text


def cmd_add_hashset_rule(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.errors import UsageError
    from casparian_tui.scout import hashsets, rules

    if args.pattern is not None and args.hashset is not None:
        raise UsageError("Give a PATTERN or --hashset, not both.", hint="One rule per pattern or hash set.")
    if args.hashset is None:
        raise UsageError("Give a PATTERN (or --hashset NAME).", hint="e.g. casparian rule add '**/*.evtx' --tag evtx")
    rules.validate_tag(args.tag)

    def add(conn):
        rule = hashsets.add_rule(conn, args.hashset, args.tag)
        rule["files"] = _files(conn, rule["id"])
        return rule

    rule = ctx.db.write("add a hash-set rule", add)
    if ctx.json:
        print_json({**rule, "kind": "hashset"})
    else:
        print(f"Added hash-set rule {rule['id']}: files in {safe_text(rule['hashset'])} → {safe_text(rule['tag'])};"
              f" {rule['files']} files tagged now. Hash more files with `casparian hash SOURCE`.")
    return 0


def _files(conn, rule_id: int) -> int:
    return conn.query_value(
        "SELECT count(*) FROM scout_file_tags WHERE tag_source = 'hashset' AND rule_id = ?", [rule_id], 0
    )


def hashset_rules_or_none(ctx: Context) -> list[dict]:
    """Hash-set rules with their tagged file counts (the `rule list` extras)."""
    from casparian_tui.scout import hashsets

    def query(conn):
        out = hashsets.list_rules(conn)
        for r in out:
            r["files"] = _files(conn, r["id"])
            r["kind"] = "hashset"
        return out

    return ctx.db.read(query)
