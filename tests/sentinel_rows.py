"""Helpers for Sentinel tests: a tiny parser, input files, planning and running."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds

from casparian_tui.sentinel import selection
from casparian_tui.sentinel.runner import RunOptions, Runner

ONE_ROW = """
NAME = "one_row"
VERSION = "1"
import os, time
def parse(path):
    name = os.path.basename(path)
    {body}
    return [{{"name": name, "size": os.path.getsize(path)}}]
"""


def make_parser(folder: Path, body: str = "pass", text: str | None = None, name: str = "parser.py") -> Path:
    p = folder / name
    p.write_text(text if text is not None else ONE_ROW.format(body=body))
    return p


def make_files(folder: Path, n: int, names: list[str] | None = None) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, name in enumerate(names or [f"f{i:05d}.txt" for i in range(n)]):
        p = folder / name
        p.write_text(f"file {i}\n")
        out.append(str(p))
    return out


def plan(db, spec, paths, force=False, max_attempts=3):
    disk = selection.expand_paths(paths)
    return db.write("plan", lambda c: selection.plan_jobs(
        c, spec, selection.register_paths(c, disk), force, max_attempts))


def opts(tmp_path: Path, **kw) -> RunOptions:
    base = dict(output_root=tmp_path / "out", workers=2, timeout_s=30, retry_base_s=0.01, flush_s=0.5)
    base.update(kw)
    return RunOptions(**base)


def run(db, spec, tmp_path, **kw):
    return Runner(db, spec, opts(tmp_path, **kw)).run()


def output_table(tmp_path: Path, parser="one_row", version="1", output="one_row"):
    folder = tmp_path / "out" / parser / version / output
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return None
    return ds.dataset([str(f) for f in files], format="parquet").to_table()
