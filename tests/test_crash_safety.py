"""kill -9 of real `casparian scan` and `casparian run` processes at random
moments, repeated: the database opens afterwards, nothing is half-applied,
duplicated or wrongly marked deleted, and the next complete run reaches the truth.

The random kill delays come from one seed, printed in every failure message
(set CF_CRASH_SEED to replay a run).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.scout.pathcodec import to_bytes
from casparian_tui.scout.testtree import make_tree
from casparian_tui.sentinel import queue as q
from conftest import FILE_BACKENDS, REPO
from waiting import wait_for

SEED = int(os.environ.get("CF_CRASH_SEED", time.time_ns() % 1_000_000))


@pytest.fixture(params=FILE_BACKENDS)
def backend(request) -> str:
    """kill -9 of a file's writer and its lease record: file backends."""
    return request.param


def _spawn(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "casparian_tui", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, env=env)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its worker processes, no goodbyes
    except ProcessLookupError:
        pass
    proc.communicate(timeout=30)


def _truth(root: Path) -> dict[bytes, int]:
    rootb = os.fsencode(str(root))
    out = {}
    for dirpath, _dirs, names in os.walk(rootb):
        for n in names:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, rootb)] = os.lstat(p).st_size
    return out


def _open(backend: str, db_file: Path) -> Database:
    return Database(Settings.resolve(db=db_file, backend=backend, wait_s=10, command="pytest", env={}))


def _catalog(db: Database) -> list[tuple]:
    return db.query_all("SELECT rel_path, size, deleted_at FROM scout_files")


def _untagged(db: Database) -> int:
    """Live rows without the tag of the rule that matches every file."""
    return db.query_value(
        "SELECT count(*) FROM scout_files f WHERE f.deleted_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM scout_file_tags t WHERE t.file_id = f.id AND t.tag = 'any')"
    )


def _mutate(root: Path, rng: random.Random, round_no: int) -> None:
    """Delete, grow and add files so a rescan has every kind of work to do."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for p in rng.sample(files, 300):
        p.unlink()
    for p in rng.sample([f for f in files if f.exists()], 200):
        with open(p, "ab") as fh:
            fh.write(b"grown")
    extra = root / f"added{round_no}"
    make_tree(extra, 400, seed=round_no, depth=1, files_per_dir=100)


@pytest.mark.slow
def test_kill_9_during_scans_loses_nothing_and_a_rescan_reaches_the_truth(backend, tmp_path):
    rng = random.Random(SEED)
    root = tmp_path / "tree"
    make_tree(root, 20_000, seed=5, depth=2, files_per_dir=100)
    db_file = tmp_path / f"crash.{backend}"
    g = ["--backend", backend, "--db", str(db_file)]
    record = Path(str(db_file) + ".lock.json")
    added = subprocess.run([sys.executable, "-m", "casparian_tui", "rule", "add", "*", "--tag", "any", *g],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert added.returncode == 0, added.stderr
    interrupted = 0
    for round_no in range(3):
        if round_no:
            _mutate(root, rng, round_no)
        before = {}
        if round_no:
            db = _open(backend, db_file)
            before = {r[0]: r[1] for r in _catalog(db) if r[2] is None}
            db.close()
        delay = rng.uniform(0.0, 0.15)
        # Round 0 checks whole batches through folders, which only the scandir
        # walker keeps together; the later rounds kill the find walker.
        walker = {"CASPARIAN_WALKER": "python"} if round_no == 0 else {}
        proc = _spawn("scan", str(root), "--quiet", *g, env={**os.environ, **walker})
        assert wait_for(lambda: proc.poll() is not None or (record.exists() and "scanning" in record.read_text()),
                        timeout=60, interval=0.002)
        time.sleep(delay)  # the random moment (a condition cannot pick it)
        _kill_group(proc)
        why = f"seed {SEED}, round {round_no}, kill after {delay:.3f} s"

        db = _open(backend, db_file)  # opens: nothing is left locked or corrupt
        try:
            rows = _catalog(db)
            last = db.query_value("SELECT status FROM scout_scan_runs ORDER BY id DESC LIMIT 1")
            untagged = _untagged(db)
        finally:
            db.close()
        interrupted += last != "completed"
        names = [r[0] for r in rows]
        assert len(names) == len(set(names)), why  # no duplicate (source, path)
        assert untagged == 0, (why, untagged)  # every committed row carries its tags
        if last != "completed":
            # Nothing marked deleted by a scan that did not finish.
            still = {r[0] for r in rows if r[2] is None}
            assert set(before) <= still, why
            assert len(still) == len(rows) - sum(1 for r in rows if r[2] is not None), why
            # No half-applied batch: the scandir walker ends batches at folder
            # boundaries (folders of 100 files), so every folder's new files
            # are all there or all missing.
            if round_no == 0:
                per_folder = Counter(n.rsplit("/", 1)[0] for n in names)
                truth_per_folder = Counter(os.fsdecode(p).rsplit("/", 1)[0] for p in _truth(root))
                partial = {f: (n, truth_per_folder[f]) for f, n in per_folder.items() if n != truth_per_folder[f]}
                assert not partial, (why, list(partial.items())[:5])
        # A complete scan brings the catalog to the truth.
        done = subprocess.run([sys.executable, "-m", "casparian_tui", "scan", "tree", "--json", *g],
                              capture_output=True, text=True, cwd=REPO, timeout=120)
        assert done.returncode == 0, (why, done.stderr)
        db = _open(backend, db_file)
        try:
            rows = _catalog(db)
            untagged = _untagged(db)
        finally:
            db.close()
        assert untagged == 0, (why, untagged)
        live = {to_bytes(r[0]): r[1] for r in rows if r[2] is None}
        assert live == _truth(root), why
        assert len(rows) == len({r[0] for r in rows}), why
    assert interrupted >= 1, f"seed {SEED}: no kill landed inside a scan; the test proved nothing"


PARSER = """NAME = 'slow'
VERSION = '1'
import os, time
def parse(path):
    with open({marker!r}, 'a') as fh:
        fh.write('x')
    time.sleep(0.03)
    return [{{'name': os.path.basename(path), 'size': os.path.getsize(path)}}]
"""


def _state(backend: str) -> tuple[dict, list]:
    db = Database(Settings.resolve(backend=backend))
    try:
        jobs = db.query_all("SELECT id, file_id, status, superseded_by FROM cf_processing_queue ORDER BY id")
        return dict(Counter(r[2] for r in jobs)), jobs
    finally:
        db.close()


def _visible_parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet")) if folder.exists() else []


@pytest.mark.slow
def test_kill_9_during_runs_then_reaper_and_rerun_complete_every_job_exactly_once(backend, tmp_path):
    rng = random.Random(SEED + 1)
    folder_in = tmp_path / "in"
    folder_in.mkdir()
    n = 40
    for i in range(n):
        (folder_in / f"f{i:03d}.csv").write_text(f"a,b\n{i},{i}\n")
    marker = tmp_path / "started"
    parser = tmp_path / "slow.py"
    parser.write_text(PARSER.format(marker=str(marker)))
    out = Path(os.environ["CASPARIAN_HOME"]) / "output" / "slow" / "1" / "slow"
    args = ["run", str(parser), str(folder_in), "--backend", backend, "--workers", "2", "--lease-seconds", "1",
            "--json"]
    for round_no in range(2):
        marker.write_text("")
        at = rng.randint(2, 25)  # kill once this many parse calls have started
        proc = _spawn(*args)
        wait_for(lambda: proc.poll() is not None or len(marker.read_text()) >= at, timeout=60, interval=0.002)
        _kill_group(proc)
        why = f"seed {SEED + 1}, round {round_no}, kill after {at} parses"
        # Whatever is visible under a final name is a whole, readable Parquet file.
        for part in _visible_parts(out):
            pq.read_table(part)
        counts, _jobs = _state(backend)
        assert sum(counts.values()) >= n, (why, counts)
    # The expired leases of the killed runs: the next run's reaper takes them back.
    time.sleep(1.1)  # the leases are 1 s; waiting them out is the point
    final = subprocess.run([sys.executable, "-m", "casparian_tui", *args], capture_output=True, text=True,
                           cwd=REPO, timeout=180)
    counts, jobs = _state(backend)
    if counts.get(q.RUNNING) or counts.get(q.QUEUED):
        # Jobs the reaper requeued after the rerun planned its work: run once more.
        final = subprocess.run([sys.executable, "-m", "casparian_tui", *args], capture_output=True, text=True,
                               cwd=REPO, timeout=180)
        counts, jobs = _state(backend)
    assert final.returncode == 0, (counts, final.stdout, final.stderr)
    assert set(counts) <= {q.COMPLETED}, counts
    current = [j for j in jobs if j[3] is None]  # not superseded by a later run of the same file
    per_file = Counter(j[1] for j in current)
    assert len(per_file) == n and set(per_file.values()) == {1}, per_file
    table = pq.ParquetDataset([str(p) for p in _visible_parts(out)]).read()
    assert table.num_rows == n  # not duplicated, not missing
    assert sorted(table.column("_cf_job_id").to_pylist()) == sorted(j[0] for j in current)
