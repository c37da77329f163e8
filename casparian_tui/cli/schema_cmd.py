"""`casparian schema list|show|propose|approve`: the contracts parser outputs must meet."""

from __future__ import annotations

import argparse
import sys

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_table, safe_text
from casparian_tui.contracts import infer
from casparian_tui.contracts import store as contracts
from casparian_tui.errors import UsageError
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.sentinel.runner import file_paths
from casparian_tui.sentinel.selection import tagged_file_ids

EXAMPLES = """\
examples:
  casparian schema propose assets/parsers/log_lines.py          from the parser's declared OUTPUTS
  casparian schema propose assets/parsers/csv_rows.py --from-sample 20   from what parse() returns on 20 tagged files
  casparian schema list
  casparian schema show log_lines.log_lines
  casparian schema approve log_lines                             the latest version of every output of log_lines
  casparian schema approve csv_rows.csv_rows --version 2
  casparian schema withdraw csv_rows                             stop applying its approved contract

A contract is named PARSER.OUTPUT and keeps numbered versions; the current one
is the latest approved. `casparian run` validates rows against it (it wins over
the parser's OUTPUTS): rows with a wrong type or a missing required column go
to <output>_quarantine, and a file with more than its quarantine limit of such
rows fails (MAX_QUARANTINE in the parser, default 0.10; `run --max-quarantine`
overrides it). A column is required unless declared nullable: "string?" or
{"type": "string", "nullable": True}.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schema",
                       description="Schema contracts: what each parser output must look like.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
    ssub = p.add_subparsers(dest="schema_command", metavar="COMMAND", required=True)

    def add(name, help_, handler):
        sp = ssub.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".", epilog=EXAMPLES,
                             formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
        sp.add_argument("--json", action="store_true", help="print JSON")
        sp.set_defaults(handler=handler)
        return sp

    ls = add("list", "every contract with its current and latest version", cmd_list)
    ls.add_argument("--parser", metavar="P", help="only this parser's contracts")
    show = add("show", "a contract's columns and versions", cmd_show)
    show.add_argument("name", metavar="NAME", help="PARSER.OUTPUT, or PARSER for all its outputs")
    prop = add("propose", "propose a new contract version from a parser", cmd_propose)
    prop.add_argument("parser", metavar="PARSER.py")
    prop.add_argument("--from-sample", type=int, metavar="N",
                      help="infer the columns from parse() output on N random catalog files (of --tag or the "
                           "parser's TAGS); columns empty in some rows or files are proposed nullable")
    prop.add_argument("--tag", action="append", help="with --from-sample: files with this tag (repeatable)")
    appr = add("approve", "approve a contract version (default: the latest)", cmd_approve)
    appr.add_argument("name", metavar="NAME", help="PARSER.OUTPUT, or PARSER for all its outputs")
    appr.add_argument("--version", type=int, metavar="V", help="the version to approve")
    wd = add("withdraw", "withdraw approved contract versions, so they no longer apply", cmd_withdraw)
    wd.add_argument("name", metavar="NAME", help="PARSER.OUTPUT, or PARSER for all its outputs")
    wd.add_argument("--version", type=int, metavar="V", help="only this approved version (default: all)")


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    found = ctx.db.read(lambda c: contracts.list_contracts(c, args.parser))
    if ctx.json:
        print_json([c.to_dict() for c in found])
        return 0
    print_table(["contract", "current", "latest", "columns"],
                [(c.name, c.current_version or "-", c.latest_version,
                  ", ".join(f"{k}:{v}" for k, v in c.columns.items())[:100]) for c in found])
    if not found:
        print("(no contracts; propose one with: casparian schema propose PARSER.py)")
    return 0


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    found = ctx.db.read(lambda c: contracts.show(c, args.name))
    if ctx.json:
        print_json([c.to_dict(with_versions=True) for c in found])
        return 0
    for c in found:
        print(f"{safe_text(c.name)}  current version: {c.current_version or 'none approved'}")
        for v in c.versions:
            mark = "*" if v.version == c.current_version else " "
            when = f"approved {v.approved}" if v.approved else f"proposed {v.created}"
            print(f" {mark} v{v.version}  {v.status:<9} {when}")
            for col, alias in v.columns.items():
                print(f"       {safe_text(col)}: {safe_text(alias)}")
    return 0


def cmd_propose(ctx: Context, args: argparse.Namespace) -> int:
    spec = load_parser(args.parser)
    notes: list[str] = []
    if args.from_sample is not None:
        if args.from_sample < 1:
            raise UsageError("--from-sample needs a positive number of files.")
        proposal = _from_sample(ctx, spec, args.tag or list(spec.tags), args.from_sample, notes)
    else:
        proposal = infer.declared_columns(spec)
        if not proposal:
            raise UsageError(f"Parser {spec.name} declares no OUTPUTS.",
                             hint="Infer the columns from its output instead: add --from-sample N.")
    created = ctx.db.write("propose a schema contract", lambda c: [
        (f"{spec.name}.{out}", *contracts.propose(c, spec.name, out, cols)) for out, cols in proposal.items()])
    if ctx.json:
        print_json({"proposed": [{"name": n, "version": v, "new": new, "columns": proposal[n.split(".", 1)[1]]}
                                 for n, v, new in created], "notes": notes})
        return 0
    for note in notes:
        print(f"note: {safe_text(note)}", file=sys.stderr)
    for name, version, new in created:
        state = "proposed" if new else "unchanged, already"
        print(f"{safe_text(name)}: {state} version {version}")
    print(f"approve with: casparian schema approve {spec.name}")
    return 0


def _from_sample(ctx: Context, spec, tags: list[str], n: int, notes: list[str]) -> dict:
    if not tags:
        raise UsageError("No files to sample.", hint="Give --tag T (or set TAGS in the parser).")
    import random

    def pick(conn):
        ids = tagged_file_ids(conn, tags)
        # A fresh random sample each time: proposing again looks at other files.
        return file_paths(conn, sorted(random.sample(ids, min(n, len(ids)))))

    paths = ctx.db.read(pick)
    if not paths:
        raise UsageError(f"No catalog files tagged {', '.join(tags)}.", hint="Scan and tag files first.")
    proposal: dict = {}
    nulls = infer.NullTracker()
    failed = 0
    for os_path, _stored in paths.values():
        try:
            schemas, with_nulls = infer.sample_file(spec, os_path)
        except Exception as exc:  # a parser bug on one file should not stop the proposal
            failed += 1
            if failed <= 3:
                notes.append(f"{os_path}: {type(exc).__name__}: {exc}")
            continue
        infer.merge(proposal, schemas)
        nulls.add(schemas, with_nulls)
    notes.insert(0, f"sampled {len(paths)} files at random, {failed} failed to parse")
    proposal = nulls.apply({out: cols for out, cols in proposal.items() if cols})
    if not proposal:
        raise UsageError("The sample produced no columns.", hint="Check the parser on one file with casparian backtest.")
    return proposal


def cmd_approve(ctx: Context, args: argparse.Namespace) -> int:
    done = ctx.db.write("approve a schema contract", lambda c: contracts.approve(c, args.name, args.version))
    if ctx.json:
        print_json({"approved": [{"name": n, "version": v} for n, v in done]})
        return 0
    for name, version in done:
        print(f"{safe_text(name)}: version {version} approved")
    print("Runs now require exactly these columns: rows of files shaped otherwise are quarantined "
          "(undo with: casparian schema withdraw NAME).", file=sys.stderr)
    return 0


def cmd_withdraw(ctx: Context, args: argparse.Namespace) -> int:
    done = ctx.db.write("withdraw a schema contract", lambda c: contracts.withdraw(c, args.name, args.version))
    if ctx.json:
        print_json({"withdrawn": [{"name": n, "versions": vs} for n, vs in done]})
        return 0
    for name, versions in done:
        if versions:
            print(f"{safe_text(name)}: version {', '.join(map(str, versions))} withdrawn")
    return 0
