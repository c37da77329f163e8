"""file_detail: one file's path, times, tags with their reasons, untags, jobs and outputs (every backend)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from casparian_tui.scout import rules, tags
from casparian_tui.scout.file_detail import FileNotInCatalog, file_detail
from casparian_tui.sentinel import queue as q

from scout_rows import add_files, add_source, ids_by_path


def test_detail_names_each_tags_reason_and_the_jobs_outputs(db):
    def build(conn):
        sid = add_source(conn)
        add_files(conn, sid, ["a/x.log", "b/y.txt"], sizes=[123, 4])
        ids = ids_by_path(conn)
        rule = rules.add_rule(conn, "**/*.log", "logs", name="all-logs")
        rules.add_rule(conn, "a/**", "area-a")
        rules.apply_rules(conn)
        tags.tag_file_ids(conn, [ids["a/x.log"]], "keep")
        tags.untag_file_ids(conn, [ids["a/x.log"]], "area-a")
        [job] = q.enqueue(conn, pa.table({
            "file_id": pa.array([ids["a/x.log"]], pa.int64()), "parser_name": ["log_lines"],
            "parser_version": ["1.0"], "parser_fingerprint": ["f" * 16], "max_attempts": pa.array([3], pa.int32()),
        }))
        [claimed] = q.claim_batch(conn, "w1", 1)
        q.complete_batch(conn, "w1", [q.Completion(job, claimed.attempts, rows_out=7,
                                                   output_paths='["out/log_lines/part-1.parquet"]')])
        return ids, rule

    ids, rule = db.write("build", build)
    d = db.read(lambda c: file_detail(c, ids["a/x.log"]))
    assert d.path.endswith("/a/x.log") and d.rel_path == "a/x.log" and d.extension == "log"
    assert d.size == 123 and d.mtime == 1_700_000_000_000_000 and d.deleted_at is None
    reasons = {t.tag: t for t in d.tags}
    assert set(reasons) == {"logs", "keep"}
    assert (reasons["logs"].source, reasons["logs"].rule_id, reasons["logs"].rule_pattern,
            reasons["logs"].rule_name) == ("rule", rule.id, "**/*.log", "all-logs")
    assert reasons["keep"].source == "manual" and reasons["keep"].rule_id is None
    assert d.untags == ["area-a"]
    assert d.status == "processed"
    [j] = d.jobs
    assert (j.parser, j.status, j.rows_out, j.outputs) == ("log_lines", "COMPLETED", 7, ["out/log_lines/part-1.parquet"])

    other = db.read(lambda c: file_detail(c, ids["b/y.txt"]))
    assert other.tags == [] and other.jobs == [] and other.status == "pending"


def test_unknown_file_id_is_a_clear_error(db):
    with pytest.raises(FileNotInCatalog):
        db.read(lambda c: file_detail(c, 999_999))
