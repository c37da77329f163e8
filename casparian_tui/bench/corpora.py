"""Deterministic inputs for the benchmarks, cached under <home>/bench/ and reused.

File trees and the Parquet dataset are expensive to make and are kept; a
marker file says a corpus is complete, so an interrupted build is redone.
Catalog databases are cheap (seconds) and built fresh in a scratch folder.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from casparian_tui.scout.testtree import make_tree

SEED = 42


def tree(base: Path, n: int) -> Path:
    """A make_tree tree of n files (same names/sizes for the same n, every time)."""
    root = base / f"tree_{n}"
    marker = base / f"tree_{n}.done"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        make_tree(root, n, seed=SEED, depth=3, files_per_dir=100)
        marker.write_text(str(n))
        print(f"  built a {n:,}-file tree in {time.perf_counter() - t0:.1f} s: {root}", file=sys.stderr)
    return root


def real_tree(base: Path, n: int) -> Path:
    """A tree of n files shaped like the recorded system folder (bench/scan_real_recipe.json)."""
    from casparian_tui.bench import real_tree as shape

    root = base / f"real_tree_{n}"
    marker = base / f"real_tree_{n}.done"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        t0 = time.perf_counter()
        folders = shape.build(shape.load(), root, n, seed=SEED)
        marker.write_text(str(n))
        print(f"  built a real-shaped {n:,}-file tree ({folders:,} folders) in {time.perf_counter() - t0:.1f} s: {root}",
              file=sys.stderr)
    return root


def parquet_dataset(base: Path, megabytes: int) -> Path:
    """About `megabytes` of Parquet in files of ~64 MB: int key, doubles, a string column."""
    root = base / f"parquet_{megabytes}mb"
    marker = base / f"parquet_{megabytes}mb.done"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    # ~16 bytes a row compressed; small targets get one small file
    rows_per_file = max(10_000, min(2_000_000, megabytes * 1024 * 1024 // 16))
    written = 0
    part = 0
    while written < megabytes * 1024 * 1024:
        start = part * rows_per_file
        ids = pa.array(range(start, start + rows_per_file), pa.int64())
        # Deterministic pseudo-random columns from integer arithmetic (no RNG state to keep).
        table = pa.table(
            {
                "id": ids,
                "key": pc.cast(pc.bit_wise_and(pc.multiply(ids, 2654435761), 1023), pa.int32()),
                "value": pc.cast(pc.bit_wise_and(pc.multiply(ids, 40503), 0xFFFFF), pa.float64()),
                "ratio": pc.divide(pc.cast(pc.bit_wise_and(ids, 0xFFFF), pa.float64()), 65535.0),
                "label": pc.binary_join_element_wise(
                    "item-", pc.cast(pc.bit_wise_and(ids, 0xFFFFF), pa.string()), ""
                ),
            }
        )
        path = root / f"part-{part:04d}.parquet"
        pq.write_table(table, path, compression="snappy")
        written += path.stat().st_size
        part += 1
    marker.write_text(str(written))
    print(f"  built {written / 2**20:,.0f} MB of Parquet in {time.perf_counter() - t0:.1f} s: {root}", file=sys.stderr)
    return root
