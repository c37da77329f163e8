"""`casparian worker` and `casparian parser register|list`: running jobs on many hosts."""

from __future__ import annotations

import argparse
import signal
import sys

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_pairs, print_table, safe_text
from casparian_tui.errors import UsageError

WORKER_EXAMPLES = """\
examples:
  casparian --db postgresql://cf@dbhost/casparian worker
  casparian worker --parsers csv_rows log_lines --concurrency 4
  casparian worker --once --json           run what is queued now, then exit
  CASPARIAN_OUTPUT=/mnt/shared/output casparian worker

The worker runs queued jobs of registered parsers (casparian parser register,
or any casparian run) until stopped. Outputs go under the output root, which
every host must share (--output-root, CASPARIAN_OUTPUT, default <home>/output).
SIGTERM or Ctrl+C: held jobs go back to the queue, no partial output is
published, the worker exits 0. List workers with: casparian jobs --workers
"""

PARSER_EXAMPLES = """\
examples:
  casparian parser register assets/parsers/csv_rows.py
  casparian parser list --json

A registered parser's source is kept in the database under its fingerprint,
so a worker on any host runs exactly that version.
"""


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    w = sub.add_parser("worker", help="run queued jobs until stopped (one per host, or several)",
                       description="Run queued jobs of registered parsers until stopped.",
                       epilog=WORKER_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                       parents=parents)
    w.add_argument("--parsers", nargs="+", metavar="NAME", help="only jobs of these parsers (default: all)")
    w.add_argument("--concurrency", type=int, default=1, metavar="N", help="parser processes (default 1)")
    w.add_argument("--once", action="store_true", help="exit when nothing is left to claim")
    w.add_argument("--output-root", metavar="DIR", help="shared output root (env CASPARIAN_OUTPUT)")
    w.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="per-file time limit (default 300)")
    w.add_argument("--json", action="store_true", help="print one JSON object when the worker ends")
    # for tests and experiments: short leases, retry delays and idle polls
    w.add_argument("--lease-seconds", type=float, default=None, help=argparse.SUPPRESS)
    w.add_argument("--retry-delay", type=float, default=None, help=argparse.SUPPRESS)
    w.add_argument("--poll-seconds", type=float, default=2.0, help=argparse.SUPPRESS)
    w.set_defaults(handler=cmd_worker)

    p = sub.add_parser("parser", help="register parsers so workers on any host can run them",
                       description="Store parsers in the database.", epilog=PARSER_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter, parents=parents)
    psub = p.add_subparsers(dest="parser_command", metavar="COMMAND", required=True)
    reg = psub.add_parser("register", help="store a parser's source and fingerprint", parents=parents,
                          epilog=PARSER_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    reg.add_argument("file", metavar="FILE", help="the parser file")
    reg.add_argument("--json", action="store_true", help="print JSON")
    reg.set_defaults(handler=cmd_register)
    lst = psub.add_parser("list", help="registered parsers", parents=parents)
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(handler=cmd_list)


def cmd_worker(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.sentinel import queue as q
    from casparian_tui.sentinel.runner import DEFAULT_TIMEOUT_S
    from casparian_tui.sentinel.selection import resolve_output_root
    from casparian_tui.sentinel.worker_loop import WorkerOptions, WorkerService, check_output_root

    if args.concurrency < 1 or (args.timeout is not None and args.timeout <= 0):
        raise UsageError("--concurrency and --timeout must be positive.")
    opts = WorkerOptions(
        home=ctx.settings.home, output_root=resolve_output_root(args.output_root, ctx.settings.home),
        parsers=list(args.parsers or []), concurrency=args.concurrency, once=args.once,
        timeout_s=args.timeout or DEFAULT_TIMEOUT_S,
        lease_s=args.lease_seconds or q.DEFAULT_LEASE_S,
        retry_base_s=args.retry_delay if args.retry_delay is not None else q.DEFAULT_RETRY_BASE_S,
        poll_s=args.poll_seconds,
    )
    service = WorkerService(ctx.db, opts, log=lambda m: print(safe_text(m), file=sys.stderr, flush=True))
    check_output_root(opts.output_root, service.host)  # before saying we started

    def stop(signum, frame):
        service.request_stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    print(f"worker {service.owner} on {ctx.db.location}, output {opts.output_root}", file=sys.stderr, flush=True)
    try:
        stats = service.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    result = {"worker": service.owner, "host": service.host, "completed": stats.completed,
              "failed_attempts": stats.failed_attempts, "runs": stats.runs, "stopped": service.stopping}
    if ctx.json:
        print_json(result)
    else:
        print(f"worker {service.owner}: {stats.completed} jobs completed, "
              f"{stats.failed_attempts} failed attempts", file=sys.stderr)
    return 0


def cmd_register(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.sentinel import registry
    from casparian_tui.sentinel.hosts import host_name
    from casparian_tui.sentinel.plugin import load_parser

    spec = load_parser(args.file)
    new = ctx.db.write(f"register parser {spec.name}", lambda c: registry.register(c, spec, host_name()))
    out = {"name": spec.name, "version": spec.version, "fingerprint": spec.fingerprint, "new": new}
    if ctx.json:
        print_json(out)
    else:
        state = "registered" if new else "already registered"
        print(f"{safe_text(spec.name)} {safe_text(spec.version)} ({spec.fingerprint}): {state}")
    return 0


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.sentinel import registry
    from casparian_tui.sentinel.jobs import when

    rows = ctx.db.read(registry.list_parsers)
    if ctx.json:
        print_json({"parsers": rows})
        return 0
    print_table(["name", "version", "fingerprint", "file", "registered", "by"],
                [(r["name"], r["version"], r["fingerprint"], r["filename"], when(r["registered_at"]),
                  r["registered_by"] or "") for r in rows])
    if not rows:
        print("(no parsers registered)")
    return 0
