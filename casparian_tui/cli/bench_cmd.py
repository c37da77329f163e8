"""`casparian bench`: every performance target of DESIGN §7, measured on this machine."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from casparian_tui.cli.context import Context
from casparian_tui.errors import CasparianError, UsageError

BENCH_DSN_ENV = "CASPARIAN_BENCH_PG_DSN"


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    from casparian_tui.bench.suite import BENCHMARKS
    from casparian_tui.cli.main import global_options

    # Here --backend picks what to measure (both by default), not the database to open.
    parents = [global_options(suppress=True, backend=False)]
    p = sub.add_parser(
        "bench",
        description=(
            "Run the benchmark suite on deterministic synthetic inputs (cached under <home>/bench and reused): "
            "batch upsert, scan vs find, a 1M-file scan with peak memory, analytical and preview queries on a "
            "1M-file catalog, a Parquet aggregate, TUI refresh, job claims, a parser run, two processes "
            "sharing one database, and CLI start-up. Each figure: warm-up, repeats, min/median/max, pass/fail "
            "against its target. "
            "The full suite takes several minutes and a few GB of disk the first time."
        ),
        epilog=(
            "benchmarks: " + ", ".join(BENCHMARKS) + "\n\nexamples:\n  casparian bench --quick\n"
            "  casparian bench scan preview --backend duckdb\n  casparian bench --json bench.json --markdown bench.md\n"
            "  casparian bench claims --backend postgres --quick\n"
            "  CASPARIAN_BENCH_PG_DSN=postgresql://bench@dbhost/postgres casparian bench upsert claims run\n\n"
            "PostgreSQL (upsert, claims, run): a server given by CASPARIAN_BENCH_PG_DSN or --db postgresql://... "
            "(a role that may create databases; the bench creates and drops its own), else with --backend "
            "postgres|all a throwaway cluster started from the local server binaries."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    p.add_argument("--quick", action="store_true", help="small sizes of everything (a minute or two); figures are shown, not judged")
    p.add_argument("--json", dest="json_path", metavar="PATH", help="also write the figures as JSON to PATH")
    p.add_argument("--markdown", dest="markdown_path", metavar="PATH",
                   help="also write the table as Markdown to PATH (as in the README's Performance section)")
    p.add_argument("--backend", dest="bench_backend", choices=["both", "all", "duckdb", "sqlite", "postgres"],
                   default="both", help="which backends to measure (default both: duckdb and sqlite, and postgres "
                                        "when a server is given; all: the three)")
    p.set_defaults(handler=cmd_bench)


def cmd_bench(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.bench import report
    from casparian_tui.bench.context import FULL, QUICK, SERVER_BENCHMARKS, Context as BenchContext
    from casparian_tui.bench.suite import BENCHMARKS

    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        raise UsageError(f"Unknown benchmark(s): {', '.join(unknown)}.", hint=f"Choose from: {', '.join(BENCHMARKS)}.")
    names = args.names or list(BENCHMARKS)
    dsn = _server_dsn(ctx)
    backends = {"both": ("duckdb", "sqlite", *(("postgres",) if dsn else ())),
                "all": ("duckdb", "sqlite", "postgres")}.get(args.bench_backend, (args.bench_backend,))
    cache = ctx.settings.home / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="casparian-bench-"))
    bctx = BenchContext(sizes=QUICK if args.quick else FULL, backends=backends, cache=cache, scratch=scratch)
    figures = []
    started = time.perf_counter()
    load_before = report.load_average()
    try:
        if "postgres" in backends:
            bctx.pg = _server(dsn)
        for name in names:
            run_ctx = bctx if name in SERVER_BENCHMARKS else replace(
                bctx, backends=tuple(b for b in backends if b != "postgres"))
            if not run_ctx.backends:
                print(f"  {name}: not measured on postgres", file=sys.stderr, flush=True)
                continue
            print(f"→ {name}…", file=sys.stderr, flush=True)
            # Flush what earlier benchmarks wrote (GBs of catalogs) before
            # timing the next: otherwise its write-back lands in this one's
            # fsyncs (coexist checkpoints at every step aside).
            os.sync()
            t0 = time.perf_counter()
            for fig in BENCHMARKS[name](run_ctx):
                fig.name = name
                fig.judged = not args.quick
                figures.append(fig)
            print(f"  {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        if bctx.pg is not None:
            bctx.pg.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    title = (f"casparian bench{' --quick' if args.quick else ''} — {report.machine()}; "
             f"load average {load_before} before, {report.load_average()} after")
    report.print_table(figures, title)
    print(f"{len(figures)} figures in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.quick:
        print("--quick: small inputs, so no figure is judged against its (full-size) target.", file=sys.stderr)
    if args.json_path:
        report.write_json(figures, Path(args.json_path))
    if args.markdown_path:
        report.write_markdown(figures, title, Path(args.markdown_path))
    failed = [f for f in figures if f.passed is False]
    return 1 if failed and not args.quick else 0


def _server_dsn(ctx: Context) -> str:
    """The PostgreSQL server the user named for the bench, or ""."""
    from casparian_tui.db.dialect import dialect_for

    given = os.environ.get(BENCH_DSN_ENV, "")
    if given:
        return given
    return ctx.settings.dsn if dialect_for(ctx.settings.backend).is_server else ""


def _server(dsn: str):
    """A started server to make bench databases on: the given one, else a throwaway cluster."""
    from casparian_tui.db import pg_cluster

    reason = pg_cluster.unavailable_reason(dsn, BENCH_DSN_ENV)
    if reason:
        raise CasparianError(f"Cannot measure PostgreSQL: {reason}.",
                             hint=f"Set {BENCH_DSN_ENV}=postgresql://USER@HOST/postgres (a role that may create "
                                  "databases), or install the PostgreSQL server binaries.")
    cluster = pg_cluster.Cluster(dsn, prefix="cf_bench")
    cluster.start()
    try:
        cluster.make_template()
    except BaseException:
        cluster.stop()
        raise
    return cluster
