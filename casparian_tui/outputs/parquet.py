"""Parquet part files: buffered in a worker, published by the coordinator.

Layout: <output root>/<parser>/<version>/<output>/part-<first job>-<uid>.parquet
(quarantine goes to the sibling folder <output>_quarantine).

Exactly-once without tiny files: a worker buffers the rows of many jobs and
writes one part per output (per distinct schema) to a hidden temporary name
(".part-....parquet.tmp", ignored by `*.parquet` globs). It then tells the
coordinator which jobs the part holds. The coordinator completes those jobs
in the database, fenced on their lease, and only then renames the parts into
place. A job whose completion was refused (its lease was lost, so another
worker will redo it) is filtered out of the part before publishing, so its
rows never appear twice. If the process dies between commit and rename, the
job rows record the final paths and `recover_parts` finishes the rename on the
next run; temporaries no completed job refers to are deleted.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TMP_PREFIX = ".part-"
TMP_SUFFIX = ".parquet.tmp"


def output_dir(root: Path, parser: str, version: str, output: str) -> Path:
    return Path(root) / parser / version / output


@dataclass
class Part:
    tmp: str
    final: str
    rows: int


@dataclass
class PartBuffer:
    """Rows of many jobs, per output, waiting to become part files."""

    root: Path
    parser: str
    version: str
    token: str = ""  # the run's token, in every part name, so its leftovers can be found
    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    rows: int = 0
    nbytes: int = 0

    def add(self, output: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.tables.setdefault(output, []).append(table)
        self.rows += table.num_rows
        self.nbytes += table.nbytes

    def write(self, first_job_id: int) -> list[Part]:
        """Write every buffered output to temporary part files and empty the buffer."""
        parts: list[Part] = []
        try:
            for output, tables in self.tables.items():
                folder = output_dir(self.root, self.parser, self.version, output)
                folder.mkdir(parents=True, exist_ok=True)
                for table in _concat_by_schema(tables):
                    uid = self.token + uuid.uuid4().hex[:12]
                    stem = f"part-{first_job_id:012d}-{uid}"
                    tmp = folder / f"{TMP_PREFIX}{stem[5:]}{TMP_SUFFIX}"
                    pq.write_table(table, tmp, compression="zstd")
                    parts.append(Part(str(tmp), str(folder / f"{stem}.parquet"), table.num_rows))
        except BaseException:
            discard(parts)
            raise
        finally:
            self.tables.clear()
            self.rows = self.nbytes = 0
        return parts


def _concat_by_schema(tables: list[pa.Table]) -> list[pa.Table]:
    """One table per distinct schema: inferred schemas may differ between input files."""
    groups: dict[pa.Schema, list[pa.Table]] = {}
    for t in tables:
        groups.setdefault(t.schema, []).append(t)
    return [pa.concat_tables(g) for g in groups.values()]


def publish(parts: Iterable[Part], drop_job_ids: set[int] = frozenset()) -> list[str]:
    """Rename parts into place, without the rows of `drop_job_ids`; return the final paths."""
    done = []
    for part in parts:
        if drop_job_ids:
            table = pq.read_table(part.tmp)
            mask = pc.invert(pc.is_in(table["_cf_job_id"], pa.array(sorted(drop_job_ids), pa.int64())))
            kept = table.filter(mask)
            if kept.num_rows == 0:
                _unlink(part.tmp)
                continue
            if kept.num_rows != table.num_rows:
                pq.write_table(kept, part.tmp, compression="zstd")
        try:
            os.replace(part.tmp, part.final)
        except FileNotFoundError:
            if not os.path.exists(part.final):
                raise
            # recover_parts of another run already moved it into place
        done.append(part.final)
    return done


def discard(parts: Iterable[Part]) -> None:
    for part in parts:
        _unlink(part.tmp)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def final_name_for(tmp: Path) -> Path:
    name = tmp.name[len(TMP_PREFIX) : -len(TMP_SUFFIX)]
    return tmp.with_name(f"part-{name}.parquet")


def recover_parts(
    folder: Path, is_committed: Callable[[set[str]], set[str]], orphan_age_s: float = 60.0
) -> tuple[int, int]:
    """Finish renames a crash interrupted; delete orphaned temporaries.

    `is_committed(final_paths)` answers which of those final paths a
    COMPLETED job records. A temporary nobody committed is deleted only once
    it is `orphan_age_s` old: a run going on next door may be about to commit
    it. Returns (renamed, deleted).
    """
    if not folder.exists():
        return 0, 0
    tmps = [p for p in folder.rglob(f"{TMP_PREFIX}*{TMP_SUFFIX}")]
    if not tmps:
        return 0, 0
    finals = {str(final_name_for(t)): t for t in tmps}
    committed = is_committed(set(finals))
    renamed = deleted = 0
    for final, tmp in finals.items():
        try:
            if final in committed:
                os.replace(tmp, final)
                renamed += 1
            elif time.time() - tmp.stat().st_mtime >= orphan_age_s:
                _unlink(str(tmp))
                deleted += 1
        except FileNotFoundError:
            pass  # its owner finished it meanwhile
    return renamed, deleted


RETIRE_LOCK = ".retire.lock"


def retire_rows(paths: Iterable[str], job_ids: set[int]) -> set[str]:
    """Remove the rows of `job_ids` from these published part files.

    Each part is rewritten to a hidden temporary and renamed over the old
    one (readers see the old file or the new, never half of one); a part
    left empty is deleted. Two runs of one parser may retire rows from the
    same part at once, so rewrites take a lock on the part's folder.
    Returns the parts that are not published yet (their run is still
    between commit and rename): try those again later.
    """
    from filelock import FileLock

    if not job_ids:
        return set()
    ids = pa.array(sorted(job_ids), pa.int64())
    unpublished: set[str] = set()
    by_folder: dict[Path, list[Path]] = {}
    for final in sorted(set(paths)):
        by_folder.setdefault(Path(final).parent, []).append(Path(final))
    for folder, finals in by_folder.items():
        if not folder.is_dir():
            continue  # the whole output was deleted by hand: nothing left to retire
        with FileLock(str(folder / RETIRE_LOCK)):
            for final in finals:
                if not final.exists():
                    if final.with_name(f"{TMP_PREFIX}{final.name[5:-8]}{TMP_SUFFIX}").exists():
                        unpublished.add(str(final))
                    continue
                _drop_rows(final, ids)
    return unpublished


def _drop_rows(final: Path, ids: pa.Array) -> None:
    table = pq.read_table(final)
    if "_cf_job_id" not in table.column_names:
        return
    kept = table.filter(pc.invert(pc.is_in(table["_cf_job_id"], ids)))
    if kept.num_rows == table.num_rows:
        return
    if kept.num_rows == 0:
        _unlink(str(final))
        return
    rewrite = final.with_name(f".retire-{uuid.uuid4().hex[:12]}.tmp")
    try:
        pq.write_table(kept, rewrite, compression="zstd")
        os.replace(rewrite, final)
    except BaseException:
        _unlink(str(rewrite))
        raise
