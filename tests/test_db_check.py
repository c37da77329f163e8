"""casparian db check: schema version, references that point nowhere, sequences (both backends)."""

from __future__ import annotations

import json

from scout_rows import add_files, add_source

from casparian_tui.db.check import check_database
from casparian_tui.db.schema import LATEST_VERSION


def _catalog(c):
    sid = add_source(c)
    add_files(c, sid, ["a.csv", "b/c.log"])
    fid = c.query_value("SELECT min(id) FROM scout_files")
    c.execute("INSERT INTO scout_file_tags (file_id, tag, tag_source, created_at) VALUES (?, 'csv', 'manual', 0)", [fid])
    c.execute("INSERT INTO cf_processing_queue (file_id, parser_name, parser_version, parser_fingerprint, "
              "created_at, updated_at) VALUES (?, 'p', '1', 'f', 0, 0)", [fid])


def test_a_whole_database_has_no_problems(db, cli, settings, db_url):
    db.write("fill", _catalog)
    result = db.read(check_database)
    assert result["schema_version"] == LATEST_VERSION
    assert result["problems"] == []
    assert result["rows"]["scout_files"] == 2 and result["rows"]["cf_processing_queue"] == 1
    db.close()
    res = cli("--db", db_url, "--backend", settings.backend, "db", "check", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["ok"] and out["size_bytes"] > 0 and out["backend"] == settings.backend


def test_orphans_are_found_and_exit_1(db, cli, settings, db_url):
    def break_it(c):
        _catalog(c)
        c.execute("INSERT INTO scout_file_tags (file_id, tag, tag_source, created_at) VALUES (999, 'x', 'manual', 0)")
        c.execute("INSERT INTO cf_processing_queue (file_id, parser_name, parser_version, parser_fingerprint, "
                  "created_at, updated_at) VALUES (998, 'p', '1', 'f', 0, 0)")
        c.execute("INSERT INTO cf_dead_letter (job_id, file_id, parser_name, parser_version, attempts, created_at) "
                  "VALUES (12345, 1, 'p', '1', 3, 0)")
        c.execute("INSERT INTO scout_files (source_id, rel_path, parent_path, name, size, mtime, first_seen_at, "
                  "last_seen_at) VALUES (77, 'x', '', 'x', 0, 0, 0, 0)")

    db.write("break", break_it)
    found = {p["check"]: p["count"] for p in db.read(check_database)["problems"]}
    assert found == {"orphan_tags": 1, "jobs_missing_file": 1, "dead_letters_missing_job": 1,
                     "files_without_source": 1}
    db.close()
    res = cli("--db", db_url, "--backend", settings.backend, "db", "check")
    assert res.returncode == 1
    assert "orphan_tags" in res.stdout and "jobs_missing_file" in res.stdout


def test_a_duckdb_sequence_behind_its_ids_is_a_problem(tmp_path, cli):
    from casparian_tui.config import Settings
    from casparian_tui.db import Database

    db = Database(Settings.resolve(db=tmp_path / "s.duckdb", env={}))
    try:
        db.write("fill", lambda c: c.execute(
            "INSERT INTO scout_tagging_rules (id, pattern, tag, created_at) VALUES (40, '*.x', 'x', 0)"))
        problems = db.read(check_database)["problems"]
    finally:
        db.close()
    assert [p["check"] for p in problems] == ["sequence_behind"]
    assert "scout_tagging_rules" in problems[0]["detail"] and problems[0]["count"] == 40
