"""`casparian jobs` and `casparian job ...`: look at the queue and steer it."""

from __future__ import annotations

import argparse
import sys

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_pairs, print_table, safe_text
from casparian_tui.errors import UsageError
from casparian_tui.sentinel import jobs
from casparian_tui.sentinel import queue as q

JOBS_EXAMPLES = """\
examples:
  casparian jobs                          counts by status and the latest 50 jobs
  casparian jobs --status failed --parser csv_rows
  casparian jobs --dead-letter            jobs that used up their attempts
  casparian jobs --json                   {"counts": {...}, "jobs": [...]}
  casparian jobs --workers --json         {"workers": [{"host", "pid", "parsers", "current_job", ...}]}
"""

JOB_EXAMPLES = """\
examples:
  casparian job show 42                   attempts, error, traceback, history
  casparian job retry 42                  a FAILED or CANCELLED job back to the queue
  casparian job retry --all-failed
  casparian job cancel 42                 a QUEUED or RUNNING job (a running worker's result is ignored)
  casparian job cancel --all-queued [--include-running]
  casparian job requeue 42                take job 42 out of the dead letter and queue it again
  casparian job purge --dead-letter --yes

Requeued and retried jobs run with the next `casparian run` of their parser.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("jobs",
                       description="Show job counts by status and the latest jobs.", epilog=JOBS_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
    p.add_argument("--status", type=str.upper, choices=q.STATUSES, metavar="S",
                   help="only jobs in this status: " + ", ".join(q.STATUSES).lower())
    p.add_argument("--parser", metavar="P", help="only jobs of this parser (its NAME)")
    p.add_argument("--limit", type=int, default=jobs.DEFAULT_LIMIT, metavar="N", help="show at most N jobs (50)")
    p.add_argument("--offset", type=int, default=0, metavar="N", help="skip the latest N jobs")
    p.add_argument("--dead-letter", action="store_true", help="list dead-lettered jobs instead")
    p.add_argument("--workers", action="store_true",
                   help="list worker processes instead (host, pid, parsers, current job, last heartbeat)")
    p.add_argument("--all", action="store_true", help="with --workers: stopped and vanished workers too")
    p.add_argument("--json", action="store_true", help="print one JSON object (keys counts, jobs)")
    p.set_defaults(handler=cmd_jobs)

    j = sub.add_parser("job",
                       description="Inspect and steer single jobs.", epilog=JOB_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
    jsub = j.add_subparsers(dest="job_command", metavar="COMMAND", required=True)

    def add(name: str, help_: str, handler):
        sp = jsub.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".", epilog=JOB_EXAMPLES,
                             formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
        sp.add_argument("--json", action="store_true", help="print JSON")
        sp.set_defaults(handler=handler)
        return sp

    show = add("show", "one job: attempts, error, traceback, events", cmd_show)
    show.add_argument("id", type=int, metavar="ID")
    retry = add("retry", "put a FAILED or CANCELLED job back in the queue", cmd_retry)
    retry.add_argument("id", type=int, nargs="?", metavar="ID")
    retry.add_argument("--all-failed", action="store_true", help="every FAILED job")
    retry.add_argument("--parser", metavar="P", help="with --all-failed: only this parser's jobs")
    cancel = add("cancel", "cancel a QUEUED or RUNNING job", cmd_cancel)
    cancel.add_argument("id", type=int, nargs="?", metavar="ID")
    cancel.add_argument("--all-queued", action="store_true", help="every QUEUED job")
    cancel.add_argument("--include-running", action="store_true", help="with --all-queued: RUNNING jobs too")
    cancel.add_argument("--parser", metavar="P", help="with --all-queued: only this parser's jobs")
    requeue = add("requeue", "take a job out of the dead letter and queue it again", cmd_requeue)
    requeue.add_argument("id", type=int, metavar="ID")
    purge = add("purge", "delete dead-letter entries (the jobs stay FAILED)", cmd_purge)
    purge.add_argument("--dead-letter", action="store_true", required=True, help="what to purge (required)")
    purge.add_argument("--parser", metavar="P", help="only this parser's entries")
    purge.add_argument("--yes", action="store_true", help="do not ask")


def cmd_jobs(ctx: Context, args: argparse.Namespace) -> int:
    if args.limit < 0 or args.offset < 0:
        raise UsageError("--limit and --offset must not be negative.")
    if args.workers:
        return _workers(ctx, args)

    def read(c):
        counts = jobs.counts(c, args.parser)
        if args.dead_letter:
            return counts, jobs.dead_letters(c, args.parser, args.limit, args.offset)
        return counts, jobs.list_jobs(c, args.status, args.parser, args.limit, args.offset)

    counts, rows = ctx.db.read(read)
    if ctx.json:
        key = "dead_letter" if args.dead_letter else "jobs"
        print_json({"counts": counts, key: [r.to_dict() for r in rows]})
        return 0
    print("  ".join(f"{s.lower()} {n}" for s, n in counts.items()))
    if args.dead_letter:
        print_table(["job", "parser", "attempts", "dead since", "file", "error"],
                    [(d.job_id, f"{d.parser} {d.version}", d.attempts, d.created, d.file, d.error[:80])
                     for d in rows])
        if rows:
            print("requeue: casparian job requeue JOB · details: casparian job show JOB")
    else:
        print_table(["id", "status", "parser", "tries", "rows", "updated", "file", "error"],
                    [(r.id, r.status, f"{r.parser} {r.version}", r.tries_text,
                      "" if r.rows_out is None else r.rows_out, r.updated, r.file,
                      (r.error or (f"(previous try) {r.previous_error}" if r.previous_error else ""))[:60])
                     for r in rows])
    if not rows:
        print("(no jobs)" if not args.dead_letter else "(dead letter is empty)")
    return 0


def _workers(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.sentinel import registry

    rows = ctx.db.read(lambda c: registry.workers_overview(c, include_stopped=args.all))
    if ctx.json:
        print_json({"workers": rows})
        return 0
    print_table(["host", "pid", "status", "parsers", "current job", "held", "done", "last heartbeat"],
                [(r["host"], r["pid"], r["status"], ", ".join(r["parsers"]) or "all",
                  r["current_job"] or "-", r["held"], r["jobs_done"], jobs.when(r["heartbeat_at"])) for r in rows])
    if not rows:
        print("(no workers running; start one with: casparian worker)")
    return 0


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    d = ctx.db.read(lambda c: jobs.job_detail(c, args.id))
    if ctx.json:
        print_json(d.to_dict())
        return 0
    j = d.job
    print_pairs([
        ("job", j.id), ("status", j.status), ("parser", f"{j.parser} {j.version} ({d.parser_fingerprint})"),
        ("parser file", d.parser_path or "-"), ("file", j.file),
        ("tries", f"{j.tries} of {j.max_attempts}" + (" (failed permanently: not retried)" if j.permanent else "")),
        ("rows", "-" if j.rows_out is None else f"{j.rows_out} ({j.rows_quarantined or 0} quarantined)"),
        ("created", jobs.when(j.created_at)), ("updated", j.updated), ("finished", jobs.when(j.finished_at) or "-"),
        ("lease", f"{d.lease_owner} until {jobs.when(d.lease_expires_at)}" if d.lease_owner else "-"),
        ("dead letter", "yes" if d.dead_letter_id else "no"),
        ("superseded by", d.superseded_by or "-"),
    ])
    for p in d.output_paths:
        print(f"output  {safe_text(p)}")
    if d.error:
        # a job still in play keeps the error of its last failed try, said as such
        heading = "previous try failed" if j.previous_error else "error"
        print(f"\n{heading}:\n  " + safe_text(d.error).replace("\\n", "\n  "))
    if d.traceback:
        print("\ntraceback:")
        for line in d.traceback.rstrip().splitlines():
            print("  " + safe_text(line))
    if d.output_tail:
        print("\nparser output (tail):")
        for line in d.output_tail.rstrip().splitlines():
            print("  " + safe_text(line))
    print("\nevents:")
    for e in d.events:
        print(f"  {e.when}  {e.event:<16} {safe_text(e.detail)}")
    return 0


def _report(ctx: Context, res: jobs.ActionResult, hint: str | None = None) -> int:
    if ctx.json:
        print_json(res.to_dict())
        return 0
    ids = ", ".join(str(i) for i in res.job_ids[:20]) + (" ..." if res.count > 20 else "")
    print(f"{res.action} {res.count} job{'s' if res.count != 1 else ''}" + (f": {ids}" if ids else ""))
    if hint and res.count:
        print(hint)
    return 0


RUN_HINT = "They run with the next `casparian run` of their parser."


def cmd_retry(ctx: Context, args: argparse.Namespace) -> int:
    if (args.id is None) == (not args.all_failed):
        raise UsageError("Give a job ID or --all-failed (not both).")
    if args.all_failed:
        res = ctx.db.write("retry failed jobs", lambda c: jobs.retry_all_failed(c, args.parser))
    else:
        res = ctx.db.write("retry a job", lambda c: jobs.retry(c, args.id))
    return _report(ctx, res, RUN_HINT)


def cmd_cancel(ctx: Context, args: argparse.Namespace) -> int:
    if (args.id is None) == (not args.all_queued):
        raise UsageError("Give a job ID or --all-queued (not both).")
    if args.all_queued:
        res = ctx.db.write("cancel jobs", lambda c: jobs.cancel_all(c, args.parser, args.include_running))
    else:
        res = ctx.db.write("cancel a job", lambda c: jobs.cancel(c, args.id))
    return _report(ctx, res)


def cmd_requeue(ctx: Context, args: argparse.Namespace) -> int:
    res = ctx.db.write("requeue a dead-lettered job", lambda c: jobs.requeue_dead_letter(c, args.id))
    return _report(ctx, res, RUN_HINT)


def cmd_purge(ctx: Context, args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty() or ctx.json:
            raise UsageError("Purging the dead letter needs confirmation.", hint="Add --yes.")
        n = ctx.db.read(lambda c: jobs.counts(c, args.parser))["DEAD_LETTER"]
        answer = input(f"Delete {n} dead-letter entr{'y' if n == 1 else 'ies'}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing purged.")
            return 1
    res = ctx.db.write("purge the dead letter", lambda c: jobs.purge_dead_letter(c, args.parser))
    return _report(ctx, res)
