"""`casparian rule ...`: tagging rules and the pattern preview."""

from __future__ import annotations

import argparse

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_table, safe_text
from casparian_tui.scout import catalog, preview, rules
from casparian_tui.scout.patterns import compile_glob


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "rule",
        description=(
            "Tagging rules map a glob pattern to a tag. Tags add up: a file carries the tag of "
            "every enabled rule that matches it, plus its manual tags, minus the tags removed "
            "from it with `casparian untag`. Priority only orders the list."
        ),
        parents=parents,
    )
    rsub = p.add_subparsers(dest="rule_command", metavar="COMMAND", required=True)

    add = rsub.add_parser(
        "add",
        help="add a rule and tag the catalog with it",
        epilog="examples:\n  casparian rule add '**/*.evtx' --tag evtx\n"
        "  casparian rule add 'case42/**' --tag case42 --priority 10 --name case42\n"
        "  casparian rule add --hashset known-bad --tag known-bad   tag files whose current hash is in the set",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    add.add_argument("pattern", metavar="PATTERN", nargs="?")
    add.add_argument("--hashset", metavar="NAME",
                     help="instead of a pattern: tag files whose current hash is in this hash set")
    add.add_argument("--tag", required=True, metavar="TAG")
    add.add_argument("--priority", type=int, default=0, metavar="N", help="higher is listed first (display order only; default 0)")
    add.add_argument("--name", metavar="NAME", help="a name to refer to the rule by")
    add.add_argument("--json", action="store_true", help="print the rule as JSON")
    add.set_defaults(handler=cmd_add)

    ls = rsub.add_parser(
        "list", help="list rules (priority high to low, then oldest)", epilog="example:\n  casparian rule list --json",
        formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents,
    )
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(handler=cmd_list)

    rm = rsub.add_parser(
        "remove", help="remove a rule (by id or name, or a hash-set rule) and re-tag",
        epilog="examples:\n  casparian rule remove case42\n  casparian rule remove h2                      "
        "a hash-set rule, by the id `rule list` shows\n  casparian rule remove --hashset known-bad --tag known-bad",
        formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents,
    )
    rm.add_argument("ref", metavar="ID|NAME", nargs="?", help="a glob rule's id or name, or h<id> for a hash-set rule")
    rm.add_argument("--hashset", metavar="NAME", help="remove the rule that tags by this hash set")
    rm.add_argument("--tag", metavar="TAG", help="with --hashset: the rule's tag (needed when the set has several rules)")
    rm.add_argument("--json", action="store_true", help="print the removed rule as JSON")
    rm.set_defaults(handler=cmd_remove)

    for verb, what in (("enable", "use a rule again"), ("disable", "stop using a rule (its tags go; it is kept)")):
        sw = rsub.add_parser(
            verb, help=what, epilog=f"example:\n  casparian rule {verb} case42",
            formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents,
        )
        sw.add_argument("ref", metavar="ID|NAME")
        sw.add_argument("--json", action="store_true", help="print the rule as JSON")
        sw.set_defaults(handler=cmd_enable)

    test = rsub.add_parser(
        "test",
        help="preview what a pattern matches: count, sample paths, per extension and folder",
        epilog="examples:\n  casparian rule test '*.evtx'\n  casparian rule test 'logs/**' --source case42 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    test.add_argument("pattern", metavar="PATTERN")
    test.add_argument("--source", metavar="S", help="only this source (name or id)")
    test.add_argument("--case-sensitive", action="store_true", help="match with case")
    test.add_argument("--json", action="store_true", help="print one JSON object")
    test.set_defaults(handler=cmd_test)


def cmd_add(ctx: Context, args: argparse.Namespace) -> int:
    if args.hashset is not None or args.pattern is None:
        from casparian_tui.cli.hashset_rules import cmd_add_hashset_rule

        return cmd_add_hashset_rule(ctx, args)
    compile_glob(args.pattern)  # a bad pattern fails before the database is opened
    rules.validate_tag(args.tag)

    def add(conn):
        rule = rules.add_rule(conn, args.pattern, args.tag, priority=args.priority, name=args.name)
        rules.apply_rules(conn)
        return rule, rules.count_matches(conn, rule), _files_with_tag(conn, rule.tag)

    rule, matched, with_tag = ctx.db.write("add a tagging rule", add)
    if ctx.json:
        print_json({**rule.to_json(), "files_matched": matched, "files_with_tag": with_tag})
    else:
        label = f" ({safe_text(rule.name)})" if rule.name else ""
        print(f"Added rule {rule.id}{label}: {safe_text(rule.pattern)} → {safe_text(rule.tag)} (priority {rule.priority}).")
        print(f"It matches {matched} files; {with_tag} files now carry {safe_text(rule.tag)!r}.")
    return 0


def _files_with_tag(conn, tag: str) -> int:
    return conn.query_value(
        "SELECT count(*) FROM scout_file_tags t JOIN scout_files f ON f.id = t.file_id "
        "WHERE t.tag = ? AND f.deleted_at IS NULL",
        (tag,),
        0,
    )


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    def query(conn):
        rs = rules.list_rules(conn)
        counts = dict(
            conn.query_all(
                "SELECT t.rule_id, count(*) FROM scout_file_tags t JOIN scout_files f ON f.id = t.file_id "
                "WHERE t.tag_source = 'rule' AND f.deleted_at IS NULL GROUP BY t.rule_id"
            )
        )
        return rs, counts

    rs, counts = ctx.db.read(query)
    from casparian_tui.cli.hashset_rules import hashset_rules_or_none

    by_set = hashset_rules_or_none(ctx)
    if ctx.json:
        print_json([{**r.to_json(), "files": counts.get(r.id, 0)} for r in rs] + by_set)
        return 0
    if by_set:
        print_table(["id", "hash set", "tag", "files"], ([f"h{r['id']}", r["hashset"], r["tag"], r["files"]] for r in by_set),
                    title="hash-set rules")
    if not rs:
        if not by_set:
            print("No rules yet. Add one: casparian rule add '**/*.evtx' --tag evtx")
        return 0
    print_table(
        ["id", "name", "pattern", "tag", "priority", "enabled", "files"],
        ([r.id, r.name or "", r.pattern, r.tag, r.priority, "yes" if r.enabled else "no", counts.get(r.id, 0)] for r in rs),
    )
    return 0


def cmd_remove(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.cli.hashset_rules import cmd_remove_hashset_rule, hashset_rule_ref

    if args.hashset is not None or args.ref is None or hashset_rule_ref(args.ref) is not None:
        return cmd_remove_hashset_rule(ctx, args)
    return remove_glob_rule(ctx, args)


def remove_glob_rule(ctx: Context, args: argparse.Namespace) -> int:
    def remove(conn):
        rule = rules.remove_rule(conn, args.ref)
        rules.apply_rules(conn)
        return rule, _files_with_tag(conn, rule.tag)

    rule, with_tag = ctx.db.write("remove a tagging rule", remove)
    if ctx.json:
        print_json({**rule.to_json(), "files_with_tag": with_tag})
    else:
        print(f"Removed rule {rule.id}: {safe_text(rule.pattern)} → {safe_text(rule.tag)}.")
        print(f"{with_tag} files still carry {safe_text(rule.tag)!r} (from other rules or by hand).")
    return 0


def cmd_enable(ctx: Context, args: argparse.Namespace) -> int:
    enabled = args.rule_command == "enable"

    def switch(conn):
        rule = rules.set_enabled(conn, args.ref, enabled)
        rules.apply_rules(conn)
        return rule, _files_with_tag(conn, rule.tag)

    rule, with_tag = ctx.db.write(f"{args.rule_command} a tagging rule", switch)
    if ctx.json:
        print_json({**rule.to_json(), "files_with_tag": with_tag})
    else:
        state = "Enabled" if enabled else "Disabled"
        print(f"{state} rule {rule.id}: {safe_text(rule.pattern)} → {safe_text(rule.tag)}; {with_tag} files carry the tag.")
    return 0


def cmd_test(ctx: Context, args: argparse.Namespace) -> int:
    compile_glob(args.pattern, case_sensitive=args.case_sensitive)

    def query(conn):
        source_id = catalog.resolve_source(conn, args.source)["id"] if args.source else None
        return preview.preview(conn, args.pattern, source_id=source_id, case_sensitive=args.case_sensitive)

    pv = ctx.db.read(query)
    if ctx.json:
        print_json(pv.to_json())
        return 0
    print(f"{pv.count} files match {safe_text(args.pattern)}")
    if pv.sample:
        more = f" (first {len(pv.sample)})" if pv.count > len(pv.sample) else ""
        print(f"\nsample{more}:")
        for path in pv.sample:
            print(f"  {safe_text(path)}")
    if pv.by_extension:
        print_table(["extension", "files"], ([k or "(none)", v] for k, v in pv.by_extension.items()))
    if pv.by_folder:
        print_table(["folder", "files"], pv.by_folder.items())
    return 0
