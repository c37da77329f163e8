"""`casparian run PARSER.py [FILES...]`: run a parser over files into Parquet."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pyarrow as pa

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_pairs, safe_text
from casparian_tui.contracts import store as contracts
from casparian_tui.errors import UsageError
from casparian_tui.outputs import parquet
from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel import selection, supersede
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.sentinel.runner import DEFAULT_TIMEOUT_S, RunOptions, RunStats, Runner

EXAMPLES = """\
examples:
  casparian run assets/parsers/csv_rows.py data/*.csv
  casparian run assets/parsers/log_lines.py --tag logs --workers 4 --json
  casparian run my_parser.py --source evidence --timeout 60 --force

Files whose output is up to date (same size, mtime and parser fingerprint) are
skipped unless --force. Without FILES, --tag or --source, the parser's TAGS
select the files. Outputs: <home>/output/<parser>/<version>/<output>/*.parquet.
JSON keys: parser, version, jobs, completed, failed (jobs that did not complete),
dead_lettered, skipped, rows, quarantined_rows, outputs, duration_s.
Ctrl+C stops claiming, requeues running jobs and publishes no partial output.
Exit code 1 when any job did not complete (failed and dead-lettered, or
cancelled; the completed ones are published), 130 when interrupted.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run", description="Run a parser plugin over files; write Parquet outputs.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents,
    )
    p.add_argument("parser", metavar="PARSER.py", help="the parser file")
    p.add_argument("files", nargs="*", metavar="FILES", help="files or folders (registered in the catalog if new)")
    p.add_argument("--tag", help="run over catalog files with this tag")
    p.add_argument("--source", help="run over catalog files of this source (name)")
    p.add_argument("--output", metavar="DIR", help="output root (default <home>/output)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPU count)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help=f"per-file time limit; a stuck worker is killed (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--force", action="store_true", help="rerun files whose output is up to date")
    p.add_argument("--max-attempts", type=int, default=q.DEFAULT_MAX_ATTEMPTS, help="attempts before dead letter")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    # for tests and experiments: short leases and retry delays
    p.add_argument("--lease-seconds", type=float, default=q.DEFAULT_LEASE_S, help=argparse.SUPPRESS)
    p.add_argument("--retry-delay", type=float, default=q.DEFAULT_RETRY_BASE_S, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_run)


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    if args.workers < 1 or args.timeout <= 0 or args.max_attempts < 1:
        raise UsageError("--workers, --timeout and --max-attempts must be positive.")
    started = time.monotonic()
    spec = load_parser(args.parser)  # before anything is queued
    disk = selection.expand_paths(args.files)
    tag, source = args.tag, args.source
    use_parser_tags = not (args.files or tag or source)
    if use_parser_tags and not spec.tags:
        raise UsageError("Nothing to run on.", hint="Give FILES, --tag or --source (or set TAGS in the parser).")
    output_root = Path(args.output).expanduser().absolute() if args.output else selection.default_output_root(
        ctx.settings.home)

    def plan(conn):
        tables = []
        if disk:
            tables.append(selection.register_paths(conn, disk))
        if tag or source:
            tables.append(selection.select_catalog(conn, tag, source))
        for t in spec.tags if use_parser_tags else ():
            tables.append(selection.select_catalog(conn, t, None))
        files = pa.concat_tables(tables) if tables else selection._file_table([], [], [])
        # an approved schema contract wins over the parser's declared OUTPUTS
        return selection.plan_jobs(conn, spec, files, args.force, args.max_attempts), \
            contracts.effective_schemas(conn, spec)

    planned, schemas = ctx.db.write(f"queue jobs for {spec.name}", plan)
    _recover(ctx, spec, output_root)
    opts = RunOptions(output_root=output_root, workers=args.workers, timeout_s=args.timeout,
                      lease_s=args.lease_seconds, retry_base_s=args.retry_delay, schemas=schemas)
    stats = _execute(ctx, spec, opts, len(planned.job_ids)) if planned.job_ids else RunStats()
    summary = _summary(ctx, spec, planned, stats, time.monotonic() - started)
    if ctx.json:
        print_json(summary)
    else:
        _print_summary(summary, stats)
    if stats.interrupted:
        return 130
    return 1 if summary["failed"] else 0


def _execute(ctx: Context, spec, opts: RunOptions, total: int) -> RunStats:
    if not ctx.interactive:
        return Runner(ctx.db, spec, opts).run()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:.0f} files/s"), TextColumn("{task.fields[failures]} failed attempts"),
               TimeElapsedColumn()]
    t0 = time.monotonic()
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(safe_text(spec.name), total=total, rate=0.0, failures=0)

        def progress(stats: RunStats) -> None:
            rate = stats.done / max(time.monotonic() - t0, 1e-6)
            bar.update(task, completed=stats.done, rate=rate, failures=stats.failed_attempts)

        return Runner(ctx.db, spec, opts, progress).run()


def _recover(ctx: Context, spec, output_root: Path) -> None:
    """Finish publishing parts a crashed run committed but did not rename."""
    folder = output_root / spec.name / spec.version

    def committed(finals: set[str]) -> set[str]:
        def find(conn):
            hit = set()
            for final in finals:
                if conn.query_value(
                    f"SELECT count(*) FROM {q.Q} WHERE status = 'COMPLETED' AND parser_name = ? "
                    "AND output_paths LIKE ? ESCAPE '\\'", [spec.name, "%" + _like_escape(final) + "%"]):
                    hit.add(final)
            return hit
        return ctx.db.read(find)

    parquet.recover_parts(folder, committed)
    supersede.finish_pending(ctx.db, spec.name, spec.version)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _summary(ctx: Context, spec, planned, stats: RunStats, duration: float) -> dict:
    ids = planned.job_ids

    def count(conn):
        if not ids:
            return []
        with q.staged_table(conn, "_cf_run_jobs", pa.table({"id": pa.array(ids, pa.int64())})) as name:
            return conn.query_all(
                f"SELECT j.status, count(*), sum(j.rows_out), sum(j.rows_quarantined) FROM {q.Q} j "
                f"JOIN {name} AS r ON r.id = j.id GROUP BY j.status")

    by_status = {r[0]: (r[1], r[2] or 0, r[3] or 0) for r in ctx.db.write("summarize the run", count)}
    completed = by_status.get(q.COMPLETED, (0, 0, 0))
    dead = by_status.get(q.FAILED, (0, 0, 0))[0]
    not_done = dead + by_status.get(q.CANCELLED, (0, 0, 0))[0]
    return {
        "parser": spec.name,
        "version": spec.version,
        "jobs": len(ids),
        "completed": completed[0],
        "failed": not_done,
        "dead_lettered": dead,
        "skipped": planned.skipped,
        "rows": int(completed[1]),
        "quarantined_rows": int(completed[2]),
        "outputs": sorted(set(stats.outputs)),
        "duration_s": round(duration, 3),
    }


def _print_summary(s: dict, stats: RunStats) -> None:
    if stats.interrupted:
        print("Interrupted: running jobs were requeued; no partial output was published.", file=sys.stderr)
    folders = sorted({str(Path(p).parent) for p in s["outputs"]})
    print_pairs([
        ("parser", f"{s['parser']} {s['version']}"),
        ("jobs", f"{s['jobs']} ({s['skipped']} up to date, skipped)"),
        ("completed", s["completed"]),
        ("failed", f"{s['failed']} ({s['dead_lettered']} dead-lettered; see: casparian jobs --dead-letter)"),
        ("rows", f"{s['rows']} ({s['quarantined_rows']} quarantined)"),
        ("outputs", ", ".join(folders) or "-"),
        ("duration", f"{s['duration_s']:.2f} s"),
    ])
