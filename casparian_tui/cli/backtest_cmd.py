"""`casparian backtest PARSER.py --tag T`: try a parser on many files before a real run."""

from __future__ import annotations

import argparse
import os
import sys

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_pairs, safe_text
from casparian_tui.errors import UsageError
from casparian_tui.scout.tags import require_known_tag
from casparian_tui.sentinel.backtest import FileResult, run_backtest
from casparian_tui.sentinel.parser_probe import inspect_parser

EXAMPLES = """\
examples:
  casparian backtest assets/parsers/log_lines.py --tag logs
  casparian backtest my_parser.py --tag evtx --sample 200 --json

Runs the parser on the tag's files (or an evenly spread sample) in worker
processes, checks rows against the contract (approved contract, else OUTPUTS),
publishes nothing, and records each file's result. Files that failed last time
are tried first. JSON keys: run_id, parser, version, tag, status, files_total,
files_tested, passed, failed, pass_rate, rows, quarantined_rows, p50_ms, p95_ms,
top_errors, observed (output -> column -> type), duration_s.
Exit code 1 when any file failed.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backtest",
                       description="Backtest a parser: pass rate, rows, timings and top errors.", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
    p.add_argument("parser", metavar="PARSER.py")
    p.add_argument("--tag", required=True, help="test the catalog files with this tag")
    p.add_argument("--sample", type=int, metavar="N", help="only N files, spread evenly (failed ones first)")
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4), help="worker processes")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="per-file time limit (60)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_backtest)


def cmd_backtest(ctx: Context, args: argparse.Namespace) -> int:
    if (args.sample is not None and args.sample < 1) or args.workers < 1 or args.timeout <= 0:
        raise UsageError("--sample, --workers and --timeout must be positive.")
    spec = inspect_parser(args.parser, args.timeout)
    ctx.db.read(lambda conn: require_known_tag(conn, args.tag))
    ctx.db.set_activity(f"backtesting {spec.name} on tag {args.tag}")
    kw = dict(sample=args.sample, workers=args.workers, timeout_s=args.timeout)
    if ctx.interactive:
        report = _with_progress(ctx, spec, args, kw)
    else:
        report = run_backtest(ctx.db, spec, args.tag, **kw)
    if ctx.json:
        print_json(report.to_dict())
    else:
        ms = lambda v: "-" if v is None else f"{v:.1f} ms"  # noqa: E731
        print_pairs([
            ("parser", f"{report.parser} {report.version}"),
            ("tag", f"{report.tag} ({report.files_tested} of {report.files_total} files tested)"),
            ("pass rate", f"{report.pass_rate:.1%} ({report.passed} passed, {report.failed} failed)"),
            ("rows", f"{report.rows} ({report.quarantined_rows} quarantined)"),
            ("time per file", f"p50 {ms(report.p50_ms)}, p95 {ms(report.p95_ms)}"),
            ("backtest run", report.run_id),
        ])
        if report.top_errors:
            print("top errors:")
            for error, n in report.top_errors:
                print(f"  {n:>5}  {safe_text(error)}")
        if report.files_total == 0:
            print(f"No files tagged {safe_text(args.tag)}.", file=sys.stderr)
    if report.status == "CANCELLED":
        return 130
    return 1 if report.failed else 0


def _with_progress(ctx: Context, spec, args, kw):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[failed]} failed"), transient=True) as bar:
        task = bar.add_task(safe_text(spec.name), total=args.sample, failed=0)
        failed = 0

        def on_result(r: FileResult) -> None:
            nonlocal failed
            failed += not r.passed
            bar.update(task, advance=1, failed=failed)

        return run_backtest(ctx.db, spec, args.tag, on_result=on_result, **kw)
