"""Content hashing against `sha256sum`, a rescan with hashing on, a hash-set import.

    python -m casparian_tui.bench.hash_probe [--megabytes 2048] [--json]

- throughput: `casparian`'s hashing (hash_source, default workers) over a
  generated corpus, and `xargs -0 -P2 -n 8 sha256sum` over the same files,
  in interleaved pairs after one warm-up read of each (warm page cache);
- rescan: an unchanged, already hashed tree rescanned with and without
  hashing (the hashing step then finds nothing to do; its cost is asking);
- import: `casparian hashset import` of a generated hash list, whole process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from casparian_tui.config import Settings, db_file
from casparian_tui.db import Database

SEED = 42
# The corpus: half its bytes in 16 MB files, half in 1 MB files (per-file costs show).
_BIG, _SMALL = 16 << 20, 1 << 20


def hash_corpus(base: Path, megabytes: int) -> Path:
    """About `megabytes` of pseudo-random files (the same bytes every time), kept under `base`."""
    root = base / f"hash_{megabytes}mb"
    marker = base / f"hash_{megabytes}mb.done"
    if marker.exists():
        return root
    import numpy as np

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    total = megabytes * (1 << 20)
    big = total // 2 // _BIG
    sizes = [_BIG] * big + [_SMALL] * max(1, (total - big * _BIG) // _SMALL)
    for i, size in enumerate(sizes):
        (root / f"d{i % 16}").mkdir(exist_ok=True)
        (root / f"d{i % 16}" / f"f{i:05d}.bin").write_bytes(rng.bytes(size))
    marker.write_text(str(sum(sizes)))
    print(f"  built {sum(sizes) / 2**20:,.0f} MB to hash in {time.perf_counter() - t0:.1f} s: {root}", file=sys.stderr)
    return root


def hash_list(base: Path, lines: int) -> Path:
    """A text file of `lines` distinct sha256 hex digests (the same every time)."""
    path = base / f"hashset_{lines}.txt"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        for i in range(lines):
            fh.write(hashlib.sha256(i.to_bytes(8, "little")).hexdigest() + "\n")
    tmp.rename(path)
    return path


def corpus_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def sha256sum_s(root: Path) -> float:
    """Wall time of `find | xargs -0 -P2 -n 8 sha256sum` (-n: one call per 8 files, so -P2 runs two)."""
    t0 = time.perf_counter()
    subprocess.run(f"find '{root}' -type f -print0 | xargs -0 -P2 -n 8 sha256sum > /dev/null",
                   shell=True, check=True)
    return time.perf_counter() - t0


def casparian_hash_s(scratch: Path, backend: str, root: Path) -> float:
    """Wall time of hashing every file of `root` (scanned first, not timed) on a fresh catalog."""
    from casparian_tui.scout.hashing import hash_source
    from casparian_tui.scout.scanner import Scanner
    from casparian_tui.scout.sources import add_source

    db = _fresh(scratch, backend)
    try:
        src = add_source(db, root, exist_ok=True)
        Scanner(db, src).run()
        t0 = time.perf_counter()
        r = hash_source(db, src, "sha256")
        took = time.perf_counter() - t0
        assert r.hashed == r.candidates and not r.errors, r
        return took
    finally:
        db.close()


def throughput(scratch: Path, backend: str, root: Path, runs: int) -> dict:
    """MB/s of both, in interleaved pairs after one warm-up of each."""
    mb = corpus_bytes(root) / 2**20
    sha256sum_s(root)
    casparian_hash_s(scratch, backend, root)
    ours, theirs = [], []
    for _ in range(runs):
        theirs.append(mb / sha256sum_s(root))
        ours.append(mb / casparian_hash_s(scratch, backend, root))
    return {"megabytes": mb, "casparian_mb_s": ours, "sha256sum_mb_s": theirs,
            "ratios": [o / t for o, t in zip(ours, theirs)]}


def rescan_overhead(scratch: Path, backend: str, root: Path, runs: int) -> dict:
    """Seconds of a rescan of an unchanged, hashed tree alone and with its hashing step, interleaved."""
    from casparian_tui.scout.hashing import hash_source
    from casparian_tui.scout.scanner import Scanner
    from casparian_tui.scout.sources import add_source

    db = _fresh(scratch, backend)
    try:
        src = add_source(db, root, exist_ok=True)
        Scanner(db, src).run()
        hash_source(db, src, "sha256")
        Scanner(db, src).run()  # warm
        alone, hashed = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            Scanner(db, src).run()
            alone.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            Scanner(db, src).run()
            r = hash_source(db, src, "sha256")
            hashed.append(time.perf_counter() - t0)
            assert r.candidates == 0, r
    finally:
        db.close()
    return {"alone_s": alone, "with_hash_s": hashed,
            "overhead_pct": [100 * (h / a - 1) for a, h in zip(alone, hashed)]}


def import_s(scratch: Path, backend: str, path: Path) -> float:
    """Wall time of the whole `casparian hashset import` process into a fresh catalog."""
    db = _fresh(scratch, backend)
    db.query_value("SELECT 1")  # created and migrated: the import is what is timed
    db.close()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "casparian_tui", "--backend", backend, "--db", str(db.path),
                    "hashset", "import", "bench", str(path), "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _fresh(scratch: Path, backend: str) -> Database:
    path = db_file(Path(tempfile.mkdtemp(dir=scratch)), backend, "hash")
    return Database(Settings.resolve(db=path, backend=backend, env={}).with_(idle_grace_s=30.0))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--megabytes", type=int, default=2048)
    p.add_argument("--backend", default="duckdb")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "cf_hash_probe"))
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        res = throughput(Path(scratch), args.backend, hash_corpus(cache, args.megabytes), args.runs)
    print(json.dumps(res, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
