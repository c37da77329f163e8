"""`casparian scan PATH|NAME`: catalog a folder, or rescan a source."""

from __future__ import annotations

import argparse
import os
import sys

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_pairs, safe_text
from casparian_tui.errors import CasparianError
from casparian_tui.scout.scanner import ScanProgress, ScanResult, Scanner
from casparian_tui.scout.sources import Source, add_source, get_source, overlapping_sources

EXIT_CANCELLED = 130
_MAX_ERRORS_SHOWN = 10


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "scan",
        description=(
            "Walk a source folder and bring its catalog up to date: new files, changed ones (size or "
            "mtime), renamed ones (same device+inode, size and mtime at a new path) and deleted ones "
            "(not seen by a complete scan). A PATH that is not a source yet is registered first. "
            "Ctrl+C stops the scan within a moment and keeps the catalog consistent; a cancelled "
            "scan never marks files deleted. The walk runs GNU find, one per core, when it is on "
            "PATH, else Python's scandir (always with --exclude, or with CASPARIAN_WALKER=python); "
            "both catalog the same files."
        ),
        epilog=(
            "examples:\n"
            "  casparian scan /evidence/host1\n"
            "  casparian scan host1 --exclude '*.tmp' --exclude 'node_modules/'\n"
            "  casparian scan host1 --json\n"
            "  casparian scan host1 --hash sha256   and hash new and changed files"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    p.add_argument("target", metavar="PATH|NAME", help="a folder, or the name of a source")
    p.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip matching files/folders (repeatable)"
    )
    p.add_argument("--hash", nargs="?", const="", default=None, metavar="ALGO",
                   choices=["", "sha256", "sha1", "md5"],
                   help="then hash new and changed files (sha256 unless ALGO or the source says otherwise)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the summary")
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    p.set_defaults(handler=cmd_scan)


def resolve_target(ctx: Context, target: str) -> Source:
    """A source name wins; otherwise a folder, registered when new."""
    src = ctx.db.read(lambda c: get_source(c, target))
    if src is not None:
        return src
    if os.path.lexists(target) or os.sep in target or target in (".", ".."):
        from casparian_tui.cli.source_cmd import print_merged

        merged: list[dict] = []
        src = add_source(ctx.db, target, exist_ok=True, merged=merged)
        print_merged(merged, src)
        return src
    raise CasparianError(
        f"No source or folder named {safe_text(target)!r}.",
        hint="See `casparian source list`, or give a folder path.",
    )


def cmd_scan(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.scout.excludes import compile_excludes

    compile_excludes(args.exclude)  # a bad --exclude is refused before a new folder is registered
    src = resolve_target(ctx, args.target)
    for other in ctx.db.read(lambda c: overlapping_sources(c, src)):
        print(
            f"warning: the source {safe_text(other.name)} ({safe_text(other.root_display)}) overlaps"
            f" {safe_text(src.name)}: files in both are cataloged twice. Remove one with `casparian source remove`.",
            file=sys.stderr,
        )
    show_progress = ctx.interactive and not args.quiet
    scanner = Scanner(ctx.db, src, excludes=args.exclude)
    if show_progress:
        result = _run_with_progress(scanner)
    else:
        result = scanner.run()
    hashed = _hash_after(ctx, args, src, result)
    touched = 0
    if hashed is not None and result.changed:
        from casparian_tui.scout.scan_changes import touched_count

        touched = ctx.db.read(lambda c: touched_count(c, result.scan_id))
    if ctx.json:
        out = result.to_json()
        if hashed is not None:
            # of the `changed` files, those whose new hash equals their old one (only the mtime moved)
            out["hash"] = {**hashed.to_json(), "touched": touched}
        print_json(out)
    elif not args.quiet:
        _print_summary(result)
        if hashed is not None:
            from casparian_tui.cli.hash_cmd import print_hash_summary

            print_hash_summary(hashed)
            if touched:
                print(f"{touched:,} of the {result.changed:,} changed files were only touched (same hash as before).")
    else:
        for e in result.errors[:_MAX_ERRORS_SHOWN]:
            print(f"warning: cannot read {safe_text(e['path'])}: {safe_text(e['error'])}", file=sys.stderr)
        if hashed is not None:
            from casparian_tui.cli.hash_cmd import print_hash_errors

            print_hash_errors(hashed)
    cancelled = result.status == "cancelled" or (hashed is not None and hashed.status == "cancelled")
    return EXIT_CANCELLED if cancelled else 0


def _hash_after(ctx: Context, args: argparse.Namespace, src: Source, result: ScanResult):
    """`--hash`, or a source set to always hash: hash what the scan found new or changed."""
    if result.status == "cancelled":
        return None
    from casparian_tui.scout.hash_catalog import source_hash_algo

    algo = args.hash or ctx.db.read(lambda c: source_hash_algo(c, src.id))
    if args.hash is None and algo is None:
        return None
    from casparian_tui.cli.hash_cmd import run_hash

    return run_hash(ctx, src, algo or "sha256", quiet=args.quiet)


def _run_with_progress(scanner: Scanner) -> ScanResult:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(f"scanning {safe_text(scanner.source.name)}", total=None)

        def update(p: ScanProgress) -> None:
            progress.update(
                task,
                description=(
                    f"{p.files_found:,} files found · {p.files_persisted:,} saved · {p.files_per_s:,.0f} files/s"
                    f" · {safe_text(p.current_dir)[-60:]}"
                ),
            )

        scanner.on_progress = update
        return scanner.run()


def _print_summary(r: ScanResult) -> None:
    head = {"completed": "Scan complete", "cancelled": "Scan cancelled", "failed": "Scan failed"}[r.status]
    rate = r.files_found / r.duration_s if r.duration_s > 0 else 0
    print(f"{head}: {safe_text(r.source)} ({safe_text(r.root)})")
    pairs = [
        ("files found", f"{r.files_found:,}"),
        ("new", f"{r.new:,}"),
        ("changed", f"{r.changed:,}"),
        ("unchanged", f"{r.unchanged:,}"),
        ("renamed", f"{r.renamed:,}"),
        ("deleted", f"{r.deleted:,}"),
        ("errors", f"{len(r.errors):,}"),
        ("skipped", f"{r.symlinks:,} symlinks, {r.special:,} special files, {r.excluded:,} excluded"),
        ("duration", f"{r.duration_s:.2f} s ({rate:,.0f} files/s)"),
    ]
    print_pairs(pairs)
    for e in r.errors[:_MAX_ERRORS_SHOWN]:
        print(f"  cannot read {safe_text(e['path'])}: {safe_text(e['error'])}")
    if len(r.errors) > _MAX_ERRORS_SHOWN:
        print(f"  ... and {len(r.errors) - _MAX_ERRORS_SHOWN:,} more (see --json)")
    if r.status == "cancelled":
        print("Nothing was marked deleted; run the scan again to finish it.")
