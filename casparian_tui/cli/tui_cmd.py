"""`casparian tui`: the interactive terminal UI."""

from __future__ import annotations

import argparse
import sys

from casparian_tui.cli.context import Context
from casparian_tui.errors import CasparianError, UsageError

def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tui",
        description=(
            "Open the terminal UI on the database. Keys 1-4 switch screens, ? shows the keys of the "
            "current screen, q quits. It can run while CLI commands use the same database."
        ),
        epilog="examples:\n  casparian tui\n  casparian tui --demo\n  casparian tui --read-only",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="create a demo corpus under <home>/demo (a few thousand files), scan it and add sample rules first",
    )
    p.set_defaults(handler=cmd_tui)


def cmd_tui(ctx: Context, args: argparse.Namespace) -> int:
    if not sys.stdout.isatty() or not sys.stdin.isatty():
        raise UsageError("casparian tui needs a terminal.", hint="Run it in an interactive terminal (not piped).")
    db = ctx.db
    if args.demo:
        if db.read_only:
            raise CasparianError("--demo needs to write the demo catalog.", hint="Drop --read-only for the first run.")
        from casparian_tui.scout.demo import ensure_demo

        print("Preparing the demo corpus…", file=sys.stderr)
        result = ensure_demo(db)
        print(f"{result.files_found:,} demo files ready.", file=sys.stderr)
    from casparian_tui.tui.app import CasparianApp

    CasparianApp(db).run()
    return 0
