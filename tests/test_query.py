"""Read-only queries over the catalog and outputs, and the refusals (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from casparian_tui.outputs import query

WRITES = [
    "DELETE FROM scout_sources",
    "UPDATE scout_sources SET name = 'x'",
    "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('x', '/', 0, 0)",
    "DROP TABLE scout_sources",
    "CREATE TABLE evil (x INT)",
    "SELECT 1; DROP TABLE scout_sources",
    "SELECT 1) ; DROP TABLE scout_sources; SELECT (1",
    "ATTACH '/tmp/evil.db' AS evil",
    "COPY (SELECT 1) TO '/tmp/casparian_evil.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA user_version = 7",
    "SET threads = 1",
    "WITH x AS (SELECT 1) DELETE FROM scout_sources",
    "SELECT nextval('seq_scout_sources')",
    # the control tables and the file itself
    "DELETE FROM cf_processing_queue",
    "UPDATE cf_processing_queue SET status = 'COMPLETED'",
    "INSERT INTO cf_dead_letter SELECT * FROM cf_dead_letter",
    "CREATE TEMP TABLE t AS SELECT 1",
    "CHECKPOINT",
    "VACUUM",
    "DETACH main",
    "PRAGMA journal_mode = DELETE",
    "EXPORT DATABASE '/tmp/casparian_evil_export'",
    "SELECT setval('seq_scout_files', 1)",
    # EXPLAIN ANALYZE runs the statement it wraps
    "EXPLAIN ANALYZE COPY (SELECT 'FORGED' AS a) TO '/tmp/casparian_evil.csv'",
    "/* hi */ explain  (ANALYZE, FORMAT json) COPY (SELECT 1) TO '/tmp/casparian_evil.csv'",
    "EXPLAIN ANALYZE SET threads = 1",
    "EXPLAIN ANALYZE CHECKPOINT",
    "EXPLAIN ANALYZE DELETE FROM scout_sources",
    "EXPLAIN -- c\n ANALYZE INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('x', '/', 0, 0)",
    # table functions with side effects
    "SELECT * FROM checkpoint()",
    "SELECT * FROM force_checkpoint()",
    "SELECT * FROM query('SELECT * FROM checkpoint()')",
    "SELECT setseed(0.5)",
]


@pytest.fixture
def outputs(tmp_path) -> Path:
    root = tmp_path / "out"
    for version, rows in (("1", [1, 2]), ("2", [10, 20, 30])):
        folder = root / "p" / version / "events"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"n": rows, "_cf_job_id": rows}), folder / "part-1.parquet")
    # version 2 written last: its parts are the newest
    import os
    import time
    later = time.time() + 5
    os.utime(root / "p" / "2" / "events" / "part-1.parquet", (later, later))
    (root / "bad name" / "1" / "x").mkdir(parents=True)
    return root


def seed(db):
    db.execute("seed", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('s1', '/a', 0, 0)")
    db.execute("seed", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('s2', '/b', 0, 0)")


def test_catalog_select_and_limit(db, tmp_path):
    seed(db)
    res = db.read(lambda c: query.run_query(c, "SELECT name FROM scout_sources ORDER BY name;", tmp_path))
    assert res.columns == ["name"] and res.rows == [("s1",), ("s2",)] and not res.truncated
    res = db.read(lambda c: query.run_query(c, "SELECT name FROM scout_sources ORDER BY name -- note", tmp_path, 1))
    assert res.rows == [("s1",)] and res.truncated


@pytest.mark.parametrize("sql", WRITES)
def test_writes_and_side_doors_are_refused(db, tmp_path, sql):
    seed(db)
    with pytest.raises(query.CasparianError) as err:
        db.read(lambda c: query.run_query(c, sql, tmp_path))
    assert err.value.exit_code == 1
    assert db.query_value("SELECT count(*) FROM scout_sources") == 2
    assert not Path("/tmp/casparian_evil.csv").exists()
    names = db.read(lambda c: c.table_names())
    assert "evil" not in names and "scout_sources" in names
    # the connection is still usable and clean afterwards
    assert db.read(lambda c: query.run_query(c, "SELECT count(*) FROM scout_sources", tmp_path)).rows == [(2,)]


@pytest.mark.parametrize("sql", [
    "SELECT a, b FROM (SELECT 1 AS a, 2 AS b) WHERE a = ? LIMIT ?",
    "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
    "EXPLAIN SELECT 1",
    "explain analyze SELECT 1",
    "EXPLAIN (SELECT 1)",
    "/* c */ EXPLAIN (FORMAT json) SELECT 1",
    "DESCRIBE SELECT 1",
    "SHOW ALL TABLES",
    "FROM range(3)",
    "SELECT * FROM read_csv('/etc/hostname')",
])
def test_check_duckdb_accepts_reads(sql):
    assert query.check_duckdb(sql) in ("SELECT", "EXPLAIN")


def test_explain_analyze_copy_writes_nothing(db, tmp_path, backend):
    target = tmp_path / "forged.parquet"
    with pytest.raises(query.QueryRefused if backend == "duckdb" else query.CasparianError):
        db.read(lambda c: query.run_query(
            c, f"EXPLAIN ANALYZE COPY (SELECT 'FORGED' AS a) TO '{target}' (FORMAT parquet)", tmp_path))
    assert not target.exists()


def test_outputs_views_and_read_parquet(db, outputs, backend):
    if backend != "duckdb":
        with pytest.raises(query.QueryFailed) as err:
            db.read(lambda c: query.run_query(c, "SELECT * FROM outputs.p_events", outputs))
        assert "DuckDB" in err.value.hint
        with pytest.raises(query.QueryRefused):
            db.read(lambda c: query.read_parquet(c, str(outputs / "p/1/events/*.parquet")))
        return
    res = db.read(lambda c: query.run_query(c, "SELECT sum(n) FROM outputs.p_events", outputs))
    assert res.rows == [(60,)]  # the latest version only
    assert [v.name for v in query.output_views(outputs)] == ["p_events"]
    pattern = str(outputs / "p" / "1" / "events" / "*.parquet")
    assert db.read(lambda c: query.read_parquet(c, pattern)).rows == [(1, 1), (2, 2)]
    # the pattern is a value: SQL inside it is just a (missing) file name
    with pytest.raises(Exception):
        db.read(lambda c: query.read_parquet(c, "x'); DROP TABLE scout_sources; --"))
    assert "scout_sources" in db.read(lambda c: c.table_names())
    # the scratch views are gone after the query
    with pytest.raises(query.QueryFailed):
        db.read(lambda c: query.run_query(c, "SELECT * FROM outputs.p_events", outputs / "nothing"))


def test_query_cli(cli, backend, tmp_path):
    home_out = Path(__import__("os").environ["CASPARIAN_HOME"]) / "output" / "p" / "1" / "events"
    home_out.mkdir(parents=True)
    pq.write_table(pa.table({"n": [1, 2, 3]}), home_out / "part-1.parquet")
    res = cli("query", "SELECT count(*) AS n FROM scout_files", "--json", "--backend", backend)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"columns": ["n"], "rows": [{"n": 0}], "truncated": False}
    bad = cli("query", "DROP TABLE scout_files", "--backend", backend)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    ro = cli("query", "SELECT 1 AS x", "--csv", "--read-only", "--backend", backend)
    assert ro.returncode == 0 and ro.stdout.splitlines() == ["x", "1"]
    if backend == "duckdb":
        out = cli("query", "SELECT n FROM outputs.p_events ORDER BY n", "--csv", "--limit", "2")
        assert out.stdout.splitlines() == ["n", "1", "2"]
    else:  # an in-memory DuckDB reads the outputs for SQLite and PostgreSQL
        out = cli("query", "SELECT n FROM outputs.p_events ORDER BY n", "--csv", "--limit", "2", "--backend", backend)
        assert out.returncode == 0 and out.stdout.splitlines() == ["n", "1", "2"], out.stderr
