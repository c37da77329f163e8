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
from casparian_tui.contracts.policy import quarantine_limit
from casparian_tui.errors import UsageError
from casparian_tui.outputs import parquet
from casparian_tui.scout.tags import require_known_tag
from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel import registry, selection, supersede
from casparian_tui.sentinel.hosts import host_name
from casparian_tui.sentinel.parser_probe import inspect_parser
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
dead_lettered, done_by_other_runs (when another run of the parser shares the
jobs, each run counts only its own share), skipped, changed (files whose size
or mtime changed since the catalog saw them: parsed again, catalog updated),
rows, quarantined_rows, outputs, duration_s. What a parser prints is kept with
its job (casparian job show ID), never on this command's stdout.
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
    p.add_argument("--output-root", "--output", dest="output", metavar="DIR",
                   help="output root shared by every host (env CASPARIAN_OUTPUT; default <home>/output)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPU count)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help=f"per-file time limit; a stuck worker is killed (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--force", action="store_true", help="rerun files whose output is up to date")
    p.add_argument("--max-attempts", type=int, default=q.DEFAULT_MAX_ATTEMPTS, help="attempts before dead letter")
    p.add_argument("--enqueue-only", action="store_true",
                   help="queue the jobs and register the parser, run nothing here (workers run them)")
    p.add_argument("--max-quarantine", type=float, metavar="SHARE",
                   help="fail a file when more than this share of its rows is quarantined "
                        "(default: the parser's MAX_QUARANTINE, else 0.10)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    # for tests and experiments: short leases and retry delays
    p.add_argument("--lease-seconds", type=float, default=q.DEFAULT_LEASE_S, help=argparse.SUPPRESS)
    p.add_argument("--retry-delay", type=float, default=q.DEFAULT_RETRY_BASE_S, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_run)


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    if args.workers < 1 or args.timeout <= 0 or args.max_attempts < 1:
        raise UsageError("--workers, --timeout and --max-attempts must be positive.")
    started = time.monotonic()
    spec = inspect_parser(args.parser, args.timeout)  # before anything is queued, in a child process
    quarantine_limit(spec, args.max_quarantine)  # a bad limit fails before anything is queued
    disk = selection.expand_paths(args.files)
    tag, source = args.tag, args.source
    use_parser_tags = not (args.files or tag or source)
    if use_parser_tags and not spec.tags:
        raise UsageError("Nothing to run on.", hint="Give FILES, --tag or --source (or set TAGS in the parser).")
    output_root = selection.resolve_output_root(args.output, ctx.settings.home)

    def select(conn):
        tables = []
        if tag:
            require_known_tag(conn, tag)  # an unknown tag is a typo, not an empty run
        if tag or source:
            tables.append(selection.select_catalog(conn, tag, source))
        for t in spec.tags if use_parser_tags else ():
            tables.append(selection.select_catalog(conn, t, None))
        return tables

    # stat outside the write: it takes a while on a big selection
    catalog = [selection.on_disk_now(t) for t in ctx.db.read(select)]

    def plan(conn):
        tables = list(catalog)
        if disk:
            tables.append(selection.register_paths(conn, disk))
        files = pa.concat_tables(tables) if tables else selection._file_table([], [], [])
        changed = selection.record_disk_changes(conn, files)
        # workers on any host run exactly this version of the parser
        registry.register(conn, spec, host_name())
        # an approved schema contract wins over the parser's declared OUTPUTS
        return selection.plan_jobs(conn, spec, files, args.force, args.max_attempts), \
            contracts.effective_schemas(conn, spec), changed

    planned, schemas, changed = ctx.db.write(f"queue jobs for {spec.name}", plan)
    if args.enqueue_only:
        summary = _summary(ctx, spec, planned, changed, RunStats(), time.monotonic() - started)
        if ctx.json:
            print_json({**summary, "queued": len(planned.job_ids)})
        else:
            print(f"Queued {len(planned.job_ids)} jobs of {safe_text(spec.name)} {safe_text(spec.version)} "
                  f"({planned.skipped} up to date, skipped); start workers with: casparian worker")
        return 0
    _recover(ctx, spec, output_root)
    opts = RunOptions(output_root=output_root, workers=args.workers, timeout_s=args.timeout,
                      lease_s=args.lease_seconds, retry_base_s=args.retry_delay, schemas=schemas,
                      quarantine_max=args.max_quarantine)
    stats = _execute(ctx, spec, opts, len(planned.job_ids)) if planned.job_ids else RunStats()
    summary = _summary(ctx, spec, planned, changed, stats, time.monotonic() - started)
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


def _summary(ctx: Context, spec, planned, changed: int, stats: RunStats, duration: float) -> dict:
    ids = planned.job_ids

    def count(conn):
        if not ids:
            return []
        with q.staged_table(conn, "_cf_run_jobs", pa.table({"id": pa.array(ids, pa.int64())})) as name:
            return conn.query_all(
                f"SELECT j.status, count(*) FROM {q.Q} j "
                f"JOIN {name} AS r ON r.id = j.id GROUP BY j.status")

    by_status = {r[0]: r[1] for r in ctx.db.write("summarize the run", count)}
    # Another run of this parser may share these jobs: count what this one did,
    # and how many the others finished, so two runs do not both claim the whole.
    finished = by_status.get(q.COMPLETED, 0) + by_status.get(q.FAILED, 0)
    others = max(finished - stats.completed - stats.dead_lettered, 0)
    return {
        "parser": spec.name,
        "version": spec.version,
        "jobs": len(ids),
        "completed": stats.completed,
        "failed": stats.dead_lettered + by_status.get(q.CANCELLED, 0),
        "dead_lettered": stats.dead_lettered,
        "done_by_other_runs": others,
        "skipped": planned.skipped,
        "changed": changed,
        "rows": stats.rows,
        "quarantined_rows": stats.quarantined,
        "outputs": sorted(set(stats.outputs)),
        "duration_s": round(duration, 3),
    }


def _print_summary(s: dict, stats: RunStats) -> None:
    if stats.interrupted:
        print("Interrupted: running jobs were requeued; no partial output was published.", file=sys.stderr)
    folders = sorted({str(Path(p).parent) for p in s["outputs"]})
    print_pairs([
        ("parser", f"{s['parser']} {s['version']}"),
        ("jobs", f"{s['jobs']} ({s['skipped']} up to date, skipped; {s['changed']} changed on disk since the last scan)"),
        ("completed", s["completed"]),
        ("failed", f"{s['failed']} ({s['dead_lettered']} dead-lettered; see: casparian jobs --dead-letter)"),
        *([("other runs", f"{s['done_by_other_runs']} of these jobs finished by another run")]
          if s["done_by_other_runs"] else []),
        ("rows", f"{s['rows']} ({s['quarantined_rows']} quarantined)"),
        ("outputs", ", ".join(folders) or "-"),
        ("duration", f"{s['duration_s']:.2f} s"),
    ])
