"""A file processed again by the same parser version replaces its earlier rows (both backends)."""

from __future__ import annotations

import os
import time

from sentinel_rows import make_files, make_parser, output_table, plan, run

from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel import supersede
from casparian_tui.sentinel.plugin import load_parser


def _completed_live(db):
    return sorted(r[0] for r in db.query_all(
        "SELECT id FROM cf_processing_queue WHERE status = 'COMPLETED' AND superseded_by IS NULL"))


def test_forced_rerun_replaces_rows_instead_of_adding(db, tmp_path):
    paths = make_files(tmp_path / "in", 6)
    spec = load_parser(make_parser(tmp_path))
    first = plan(db, spec, paths)
    run(db, spec, tmp_path)
    assert output_table(tmp_path).num_rows == 6
    forced = plan(db, spec, paths[:4], force=True)  # only some files: others keep their rows
    run(db, spec, tmp_path)
    table = output_table(tmp_path)
    assert table.num_rows == 6
    assert sorted(table.column("_cf_job_id").to_pylist()) == sorted(forced.job_ids + first.job_ids[4:])
    assert sorted(table.column("name").to_pylist()) == [f"f{i:05d}.txt" for i in range(6)]
    assert _completed_live(db) == sorted(forced.job_ids + first.job_ids[4:])
    retired = db.query_all("SELECT id FROM cf_processing_queue WHERE rows_retired_at IS NOT NULL ORDER BY id")
    assert [r[0] for r in retired] == first.job_ids[:4]
    assert not list((tmp_path / "out").rglob("*.tmp"))
    # and again, all of them: still one row per file
    plan(db, spec, paths, force=True)
    run(db, spec, tmp_path)
    assert sorted(output_table(tmp_path).column("name").to_pylist()) == [f"f{i:05d}.txt" for i in range(6)]


def test_changed_file_rerun_replaces_its_rows(db, tmp_path):
    paths = make_files(tmp_path / "in", 3)
    spec = load_parser(make_parser(tmp_path))
    plan(db, spec, paths)
    run(db, spec, tmp_path)
    with open(paths[1], "a") as fh:
        fh.write("more\n")
    os.utime(paths[1], ns=(time.time_ns(), time.time_ns() + 10**9))
    again = plan(db, spec, paths)
    assert len(again.job_ids) == 1 and again.skipped == 2
    run(db, spec, tmp_path)
    rows = {r["name"]: r["size"] for r in output_table(tmp_path).to_pylist()}
    assert len(output_table(tmp_path)) == 3 and rows["f00001.txt"] == os.path.getsize(paths[1])


def test_interrupted_retirement_is_finished_by_the_next_run(db, tmp_path):
    paths = make_files(tmp_path / "in", 4)
    spec = load_parser(make_parser(tmp_path))
    plan(db, spec, paths)
    run(db, spec, tmp_path)
    # Crash simulation: the rerun committed and published, but died before retiring old rows.
    real_retire = supersede.retire
    supersede.retire = lambda db, superseded: 0
    try:
        plan(db, spec, paths, force=True)
        run(db, spec, tmp_path)
    finally:
        supersede.retire = real_retire
    assert output_table(tmp_path).num_rows == 8
    assert len(db.read(lambda c: q.pending_retirements(c, "one_row", "1"))) == 4
    assert supersede.finish_pending(db, "one_row", "1") == 4
    assert output_table(tmp_path).num_rows == 4
    assert db.read(lambda c: q.pending_retirements(c, "one_row", "1")) == []
    # idempotent
    assert supersede.finish_pending(db, "one_row", "1") == 0


def test_a_newer_version_leaves_the_older_outputs_alone(db, tmp_path):
    paths = make_files(tmp_path / "in", 2)
    spec1 = load_parser(make_parser(tmp_path))
    plan(db, spec1, paths)
    run(db, spec1, tmp_path)
    spec2 = load_parser(make_parser(tmp_path, text=make_parser(tmp_path).read_text().replace(
        'VERSION = "1"', 'VERSION = "2"'), name="parser2.py"))
    plan(db, spec2, paths)
    run(db, spec2, tmp_path)
    assert output_table(tmp_path, version="1").num_rows == 2
    assert output_table(tmp_path, version="2").num_rows == 2
    assert db.query_value("SELECT count(*) FROM cf_processing_queue WHERE superseded_by IS NOT NULL") == 0
