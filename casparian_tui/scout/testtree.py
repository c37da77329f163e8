"""A deterministic synthetic file tree, for tests and benchmarks.

`make_tree(root, n_files, seed=...)` lays out `n_files` small files over a
balanced folder tree. The same arguments always give the same names, folders
and sizes (mtimes are whatever the clock says), so tests can assert exact
counts and benchmarks compare like with like. Files are written with raw
`os.open`/`os.write` because creating 10^5–10^6 files is otherwise the slow
part of a benchmark.
"""

from __future__ import annotations

import math
import os
import random

DEFAULT_EXTS = ("txt", "csv", "json", "log", "evtx", "bin", "")


def make_tree(
    root: str | os.PathLike,
    n_files: int,
    *,
    seed: int = 0,
    depth: int = 3,
    files_per_dir: int = 100,
    exts: tuple[str, ...] | list[str] = DEFAULT_EXTS,
    max_size: int = 64,
) -> int:
    """Create `n_files` files under `root`; return the total bytes written.

    Folders are `d<i>` nested `depth` levels deep with about `files_per_dir`
    files in each leaf folder; names are `f<n>.<ext>` (no dot when the
    extension is ''), sizes uniform in [0, max_size].
    """
    if n_files < 0 or depth < 0 or files_per_dir < 1:
        raise ValueError("n_files, depth must be >= 0 and files_per_dir >= 1")
    rng = random.Random(seed)
    root = os.fspath(root)
    os.makedirs(root, exist_ok=True)
    n_dirs = max(1, math.ceil(n_files / files_per_dir))
    fanout = max(1, math.ceil(n_dirs ** (1 / depth))) if depth else 1
    payload = b"casparian-" * (max_size // 10 + 1)
    total = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    made: set[str] = set()
    for d in range(n_dirs):
        folder = _folder_for(root, d, depth, fanout)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        first = d * files_per_dir
        for n in range(first, min(first + files_per_dir, n_files)):
            ext = exts[rng.randrange(len(exts))] if exts else ""
            size = rng.randint(0, max_size)
            name = f"f{n}.{ext}" if ext else f"f{n}"
            fd = os.open(os.path.join(folder, name), flags, 0o644)
            try:
                if size:
                    os.write(fd, payload[:size])
            finally:
                os.close(fd)
            total += size
    return total


def _folder_for(root: str, index: int, depth: int, fanout: int) -> str:
    parts = []
    for _ in range(depth):
        index, digit = divmod(index, fanout)
        parts.append(f"d{digit}")
    return os.path.join(root, *reversed(parts)) if parts else root


def count_files(root: str | os.PathLike) -> int:
    """Regular files under root (no symlinks followed) — a cross-check for tests."""
    n = 0
    for _dirpath, _dirs, files in os.walk(root):
        n += sum(1 for f in files if not os.path.islink(os.path.join(_dirpath, f)))
    return n


__all__ = ["make_tree", "count_files", "DEFAULT_EXTS"]
