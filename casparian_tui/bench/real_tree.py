"""A file tree shaped like a real one, rebuilt anywhere from a small recipe.

Synthetic trees (100 files in every folder, short names) flatter a scanner;
real ones are deep and uneven, with long names, many small folders and a few
huge ones. `record(root)` measures a real folder's shape into a recipe —
histograms, per depth, of files and subfolders per folder, plus name lengths
and extensions — and `build(recipe, root, n_files, seed)` lays out a tree of
exactly `n_files` files with that shape. The same recipe, size and seed give
the same names and folders every time.

    python -m casparian_tui.bench.real_tree record /usr > casparian_tui/bench/scan_real_recipe.json
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

RECIPE = Path(__file__).with_name("scan_real_recipe.json")
_MAX_EXTS = 40
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-."


def record(root: str) -> dict:
    """The shape of the tree under `root` (no symlinks followed; names are not kept)."""
    files_at: dict[int, Counter] = {}
    dirs_at: dict[int, Counter] = {}
    name_len: Counter = Counter()
    dir_name_len: Counter = Counter()
    exts: Counter = Counter()
    stack = [(root, 0)]
    while stack:
        path, depth = stack.pop()
        n_files = n_dirs = 0
        try:
            with os.scandir(path) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        n_dirs += 1
                        dir_name_len[len(e.name)] += 1
                        stack.append((e.path, depth + 1))
                    elif e.is_file(follow_symlinks=False):
                        n_files += 1
                        stem, dot, ext = e.name.lstrip(".").rpartition(".")
                        exts[ext.lower() if dot and stem else ""] += 1
                        name_len[len(e.name)] += 1
        except OSError:
            continue
        files_at.setdefault(depth, Counter())[n_files] += 1
        dirs_at.setdefault(depth, Counter())[n_dirs] += 1
    top = exts.most_common(_MAX_EXTS)
    return {
        "recorded_from": os.path.basename(os.path.abspath(root)) or "/",
        "files": sum(n * c for hist in files_at.values() for n, c in hist.items()),
        "folders": sum(sum(h.values()) for h in files_at.values()),
        "files_per_folder": {str(d): _pairs(h) for d, h in sorted(files_at.items())},
        "subfolders_per_folder": {str(d): _pairs(h) for d, h in sorted(dirs_at.items())},
        "file_name_length": _pairs(name_len),
        "folder_name_length": _pairs(dir_name_len),
        "extensions": [[e, c] for e, c in top] + [["other", sum(exts.values()) - sum(c for _, c in top)]],
    }


def _pairs(hist: Counter) -> list[list[int]]:
    return [[k, v] for k, v in sorted(hist.items())]


class _Sampler:
    def __init__(self, pairs: list, rng: random.Random):
        self.values = [p[0] for p in pairs]
        self.weights = [p[1] for p in pairs]
        self.rng = rng

    def __call__(self):
        return self.rng.choices(self.values, self.weights)[0]


def build(recipe: dict, root: str | os.PathLike, n_files: int, seed: int = 42) -> int:
    """Create exactly `n_files` small files under `root` in the recipe's shape; return the folder count.

    Folders are made depth-first from the root, each sampling its file and
    subfolder counts from the recipe's histograms for its depth. When the
    recipe's tree runs out before `n_files`, another top-level folder starts.
    """
    rng = random.Random(seed)
    depths = sorted(int(d) for d in recipe["files_per_folder"])
    files_at = {d: _Sampler(recipe["files_per_folder"][str(d)], rng) for d in depths}
    dirs_at = {d: _Sampler(recipe["subfolders_per_folder"][str(d)], rng) for d in depths}
    name_len = _Sampler(recipe["file_name_length"], rng)
    dir_len = _Sampler(recipe["folder_name_length"], rng)
    ext = _Sampler(recipe["extensions"], rng)
    root = os.fspath(root)
    os.makedirs(root, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    left, folders = n_files, 0
    stack = [(root, 0)]
    while left > 0:
        if not stack:  # the recipe's tree ended early: start another branch under the root
            stack.append((_mkdir(root, dir_len(), rng, set()), 1))
        path, depth = stack.pop()
        folders += 1
        d = min(depth, depths[-1])
        taken: set[str] = set()
        for _ in range(min(files_at[d](), left)):
            e = ext()
            e = "" if e == "" else ("dat" if e == "other" else e)
            stem_len = max(1, name_len() - (len(e) + 1 if e else 0))
            name = _unique(_word(rng, stem_len) + ("." + e if e else ""), taken)
            fd = os.open(os.path.join(path, name), flags, 0o644)
            try:
                os.write(fd, b"x" * rng.randint(0, 64))
            finally:
                os.close(fd)
            left -= 1
        if depth < depths[-1]:
            for _ in range(dirs_at[d]()):
                stack.append((_mkdir(path, dir_len(), rng, taken), depth + 1))
    return folders


def _word(rng: random.Random, n: int) -> str:
    first = rng.choice(_NAME_CHARS[:26])  # never a leading dot or dash
    return first + "".join(rng.choices(_NAME_CHARS, k=n - 1))


def _unique(name: str, taken: set[str]) -> str:
    out, i = name, 0
    while out in taken:
        i += 1
        out = f"{i}{name}"
    taken.add(out)
    return out


def _mkdir(parent: str, length: int, rng: random.Random, taken: set[str]) -> str:
    path = os.path.join(parent, _unique(_word(rng, max(1, length)).replace(".", "_"), taken))
    os.mkdir(path)
    return path


def load() -> dict:
    return json.loads(RECIPE.read_text(encoding="utf-8"))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "record":
        sys.exit("usage: python -m casparian_tui.bench.real_tree record FOLDER > recipe.json")
    print(json.dumps(record(sys.argv[2])))
