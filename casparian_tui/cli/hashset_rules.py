"""`rule add --hashset NAME --tag T`, hash-set rules in `rule list`, and `rule remove` of them.

Hash-set rules number apart from glob rules, so the CLI names them h<id>."""

from __future__ import annotations

import argparse
import re

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


def hashset_rule_ref(ref: str | None) -> int | None:
    """The id in 'h12' (a hash-set rule as `rule list` names it), else None."""
    m = re.fullmatch(r"[hH](\d+)", (ref or "").strip())
    return int(m.group(1)) if m else None


def cmd_remove_hashset_rule(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.errors import UsageError
    from casparian_tui.scout import hashsets, rules

    if args.hashset is not None and args.ref is not None:
        raise UsageError("Give a rule id or --hashset, not both.", hint="e.g. casparian rule remove h2")
    if args.hashset is None and args.ref is None:
        raise UsageError("Say which rule to remove.", hint="e.g. casparian rule remove case42 (see `casparian rule list`)")
    if args.tag is not None and args.hashset is None:
        raise UsageError("--tag goes with --hashset.", hint="e.g. casparian rule remove --hashset known-bad --tag known-bad")

    def remove(conn):
        if args.ref is not None:
            try:  # a glob rule that happens to be named like 'h2' wins: it is what `rule list` shows by name
                rules.find_rule(conn, args.ref)
            except rules.RuleNotFound:
                pass
            else:
                return None
            return hashsets.remove_rule(conn, rule_id=hashset_rule_ref(args.ref))
        return hashsets.remove_rule(conn, args.hashset, args.tag)

    rule = ctx.db.write("remove a hash-set rule", remove)
    if rule is None:  # the ref named a glob rule after all
        from casparian_tui.cli.rule_cmd import remove_glob_rule

        return remove_glob_rule(ctx, args)
    if ctx.json:
        print_json({**rule, "kind": "hashset"})
    else:
        print(f"Removed hash-set rule h{rule['id']}: files in {safe_text(rule['hashset'])} → {safe_text(rule['tag'])}.")
    return 0
