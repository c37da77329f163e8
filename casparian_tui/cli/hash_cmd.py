"""`casparian hash SOURCE`, `casparian dupes`, `casparian hashset ...`: content hashes."""

from __future__ import annotations

import argparse
import sys

from casparian_tui.cli.context import Context
from casparian_tui.cli.output import print_json, print_pairs, print_table, safe_text

_MAX_ERRORS_SHOWN = 10
ALGO_CHOICES = ["sha256", "sha1", "md5"]


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    h = sub.add_parser(
        "hash",
        description=(
            "Hash the contents of a source's files that have no current hash: new files, changed ones, "
            "and those never hashed. A hash is kept with the size and mtime it was computed for, so after a "
            "change it is no longer shown until the file is hashed again. Files that cannot be read are "
            "reported and skipped. Ctrl+C keeps the hashes already stored."
        ),
        epilog="examples:\n  casparian hash case42\n  casparian hash case42 --algo md5 --json\n"
        "  casparian scan case42 --hash          scan, then hash what changed",
        formatter_class=fmt,
        parents=parents,
    )
    h.add_argument("source", metavar="SOURCE", help="a source name")
    h.add_argument("--algo", choices=ALGO_CHOICES, default=None,
                   help="hash algorithm (default: the source's, else sha256)")
    h.add_argument("--workers", type=int, default=None, metavar="N", help="reader threads (default: per CPU, 2-8)")
    # files per write transaction; small values let crash tests kill between many commits
    h.add_argument("--batch-files", type=int, default=None, help=argparse.SUPPRESS)
    # a line 'committed N' on stdout after each write: crash tests kill on it, not after a sleep
    h.add_argument("--commit-lines", action="store_true", help=argparse.SUPPRESS)
    h.add_argument("--json", action="store_true", help="print one JSON object with the summary")
    h.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    h.set_defaults(handler=cmd_hash)

    d = sub.add_parser(
        "dupes",
        description="Groups of identical files (same hash algorithm, hash and size), largest waste first. "
        "Only files with a current hash take part: run `casparian hash SOURCE` first.",
        epilog="examples:\n  casparian dupes\n  casparian dupes --source case42 --min-size 1M --json",
        formatter_class=fmt,
        parents=parents,
    )
    d.add_argument("--source", metavar="S", help="only this source (name or id)")
    d.add_argument("--min-size", default="1", metavar="N", help="only files of at least N bytes (K, M, G allowed; default 1)")
    d.add_argument("--limit", type=int, default=None, metavar="N", help="at most N groups")
    d.add_argument("--json", action="store_true", help="print a JSON list of groups")
    d.set_defaults(handler=cmd_dupes)

    s = sub.add_parser(
        "hashset",
        description="Known-file sets: lists of hashes (NSRL-style known-good, or known-bad) to filter and tag by.",
        parents=parents,
    )
    ssub = s.add_subparsers(dest="hashset_command", metavar="COMMAND", required=True)
    imp = ssub.add_parser(
        "import",
        help="import a text file (one hash per line) or a CSV with a hash column",
        epilog="examples:\n  casparian hashset import known-bad bad.txt\n"
        "  casparian hashset import nsrl NSRLFile.txt --column SHA-1\n"
        "  casparian files --in-hashset known-bad\n  casparian rule add --hashset known-bad --tag known-bad",
        formatter_class=fmt,
        parents=parents,
    )
    imp.add_argument("name", metavar="NAME")
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--column", metavar="COL", help="the CSV column holding the hashes (default: found by name)")
    imp.add_argument("--replace", action="store_true", help="refill an existing set")
    imp.add_argument("--json", action="store_true", help="print the set as JSON")
    imp.set_defaults(handler=cmd_hashset_import)
    ls = ssub.add_parser("list", help="hash sets with their sizes and matching files",
                         epilog="example:\n  casparian hashset list --json", formatter_class=fmt, parents=parents)
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(handler=cmd_hashset_list)
    rm = ssub.add_parser("remove", help="remove a set, its rules and the tags they gave",
                         epilog="example:\n  casparian hashset remove nsrl", formatter_class=fmt, parents=parents)
    rm.add_argument("name", metavar="NAME")
    rm.add_argument("--json", action="store_true", help="print what was removed as JSON")
    rm.set_defaults(handler=cmd_hashset_remove)


def cmd_hash(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.scout import hash_catalog
    from casparian_tui.scout.sources import find_source

    src = find_source(ctx.db, args.source)
    algo = args.algo or ctx.db.read(lambda c: hash_catalog.source_hash_algo(c, src.id)) or "sha256"
    result = run_hash(ctx, src, algo, workers=args.workers, quiet=args.quiet, batch_files=args.batch_files,
                      commit_lines=args.commit_lines)
    if ctx.json:
        print_json(result.to_json())
    elif not args.quiet:
        print_hash_summary(result)
    else:
        print_hash_errors(result)
    return 130 if result.status == "cancelled" else 0


def run_hash(ctx: Context, src, algo: str, *, workers: int | None = None, quiet: bool = False,
             batch_files: int | None = None, commit_lines: bool = False):
    """Hash with a progress bar on a terminal (shared with `scan --hash`)."""
    from casparian_tui.scout.hashing import hash_source

    kw = {"batch_files": batch_files} if batch_files else {}
    if commit_lines:
        kw["on_commit"] = lambda n: print(f"committed {n}", flush=True)
    if not (ctx.interactive and not quiet):
        return hash_source(ctx.db, src, algo, workers=workers, **kw)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True) as progress:
        task = progress.add_task(f"hashing {safe_text(src.name)} ({algo})", total=None)

        def update(p) -> None:
            rate = p.bytes_done / p.elapsed_s / 1e6 if p.elapsed_s > 0 else 0
            progress.update(task, total=p.total, completed=p.done,
                            description=f"hashing {p.done:,}/{p.total:,} files · {rate:,.0f} MB/s")

        return hash_source(ctx.db, src, algo, workers=workers, on_progress=update, **kw)


def print_hash_summary(r) -> None:
    from casparian_tui.units import human_bytes

    rate = r.bytes / r.duration_s / 1e6 if r.duration_s > 0 else 0
    head = "Hashing cancelled" if r.status == "cancelled" else "Hashing complete"
    print(f"{head}: {safe_text(r.source)} ({r.algo})")
    pairs = [
        ("to hash", f"{r.candidates:,} files"),
        ("hashed", f"{r.hashed:,} files, {human_bytes(r.bytes)} ({rate:,.0f} MB/s)"),
        ("errors", f"{len(r.errors):,}"),
        ("duration", f"{r.duration_s:.2f} s"),
    ]
    if r.changed_since_scan:
        pairs.append(("changed since scan", f"{r.changed_since_scan:,} (rescan to show their hashes)"))
    print_pairs(pairs)
    for e in r.errors[:_MAX_ERRORS_SHOWN]:
        print(f"  cannot read {safe_text(e['path'])}: {safe_text(e['error'])}")
    if len(r.errors) > _MAX_ERRORS_SHOWN:
        print(f"  ... and {len(r.errors) - _MAX_ERRORS_SHOWN:,} more (see --json)")


def print_hash_errors(r) -> None:
    for e in r.errors[:_MAX_ERRORS_SHOWN]:
        print(f"warning: cannot read {safe_text(e['path'])}: {safe_text(e['error'])}", file=sys.stderr)


def parse_size(text: str) -> int:
    from casparian_tui.errors import UsageError

    t = str(text).strip().upper().rstrip("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in "KMGT" and t else t
    try:
        value = int(float(num) * mult)
    except ValueError:
        raise UsageError(f"Cannot read the size {text!r}.", hint="Use e.g. 4096, 64K, 10M or 1G.")
    if value < 0:
        raise UsageError("--min-size must be zero or more.")
    return value


def cmd_dupes(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.scout import catalog, hash_catalog
    from casparian_tui.units import human_bytes

    min_size = parse_size(args.min_size)

    def query(conn):
        sid = catalog.resolve_source(conn, args.source)["id"] if args.source else None
        return hash_catalog.duplicate_groups(conn, source_id=sid, min_size=min_size, limit=args.limit)

    groups = ctx.db.read(query)
    if ctx.json:
        print_json(groups)
        return 0
    if not groups:
        print("No duplicates among hashed files. (Hash a source first: casparian hash SOURCE)")
        return 0
    for g in groups:
        print(f"{g['count']} × {human_bytes(g['size'])} · {human_bytes(g['wasted_bytes'])} wasted · "
              f"{g['algo']} {g['hash']}")
        for f in g["files"]:
            print(f"  {safe_text(f['path'])}")
    total = sum(g["wasted_bytes"] for g in groups)
    print(f"{len(groups):,} groups, {human_bytes(total)} wasted")
    return 0


def cmd_hashset_import(ctx: Context, args: argparse.Namespace) -> int:
    import os

    from casparian_tui.scout import hashsets

    hashes, skipped = hashsets.read_hash_file(args.file, args.column)
    origin = os.path.basename(args.file)
    s = ctx.db.write("import a hash set",
                     lambda c: hashsets.import_set(c, args.name, hashes, origin, replace=args.replace))
    s["skipped_lines"] = skipped
    if ctx.json:
        print_json(s)
    else:
        print(f"Imported hash set {safe_text(s['name'])}: {s['hash_count']:,} hashes ({s['algos'] or 'none'}),"
              f" {skipped:,} lines skipped.")
    return 0


def cmd_hashset_list(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.scout import hashsets

    sets = ctx.db.read(hashsets.list_sets)
    if ctx.json:
        print_json(sets)
        return 0
    if not sets:
        print("No hash sets yet. Import one: casparian hashset import NAME FILE")
        return 0
    print_table(
        ["name", "hashes", "algorithms", "files in set", "tags by rule", "from"],
        ([s["name"], f"{s['hash_count']:,}", s["algos"] or "", f"{s['files']:,}",
          ", ".join(r["tag"] for r in s["rules"]), s["origin"] or ""] for s in sets),
    )
    return 0


def cmd_hashset_remove(ctx: Context, args: argparse.Namespace) -> int:
    from casparian_tui.scout import hashsets

    out = ctx.db.write("remove a hash set", lambda c: hashsets.remove_set(c, args.name))
    if ctx.json:
        print_json(out)
    else:
        print(f"Removed hash set {safe_text(out['name'])} ({out['hash_count']:,} hashes, {out['rules_removed']} rules).")
    return 0
