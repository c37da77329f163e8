"""Paged query results, exports, frequency tables and the outputs catalog (both backends)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from casparian_tui.errors import CasparianError, QueryInterrupted
from casparian_tui.outputs import catalog
from casparian_tui.outputs.export import ExportRefused
from casparian_tui.outputs.results import ResultSet
from test_query import WRITES, seed


@pytest.fixture
def outputs(tmp_path) -> Path:
    root = tmp_path / "out"
    folder = root / "p" / "1" / "events"
    folder.mkdir(parents=True)
    n = 1000
    pq.write_table(pa.table({"n": pa.array(range(n), pa.int64()), "k": [f"k{i % 4}" for i in range(n)],
                             "src": pa.array([i % 3 for i in range(n)], pa.int64())}), folder / "part-1.parquet")
    return root


def open_result(db, sql, root, **kw) -> ResultSet:
    r = ResultSet(db, sql, root, **kw)
    r.open().result()
    return r


def test_pages_count_and_columns(db, outputs):
    r = open_result(db, "SELECT n, k FROM outputs.p_events", outputs, page_rows=100)
    assert r.columns == ["n", "k"] and r.row_count is None  # a full page: the count is asked separately
    assert r.page(0).result().rows[:2] == [(0, "k0"), (1, "k1")]
    assert [row[0] for row in r.page(7).result().rows] == list(range(700, 800))
    assert r.page(10).result().rows == []
    assert r.count().result() == 1000
    assert r.elapsed_s > 0
    small = open_result(db, "SELECT n FROM outputs.p_events WHERE n < 5;", outputs)
    assert small.row_count == 5  # a short first page is the whole result


def test_join_outputs_with_catalog(db, outputs):
    seed(db)  # scout_sources s1 (id 1), s2 (id 2)
    r = open_result(db, "SELECT s.name, count(*) AS c FROM outputs.p_events e JOIN scout_sources s "
                        "ON s.id = e.src GROUP BY 1 ORDER BY 1", outputs)
    assert r.page(0).result().rows == [("s1", 333), ("s2", 333)]
    assert r.engine == ("duckdb" if db.backend == "duckdb" else "duckdb-scratch")
    catalog_only = open_result(db, "SELECT name FROM scout_sources ORDER BY name", outputs)
    assert catalog_only.page(0).result().rows == [("s1",), ("s2",)]
    assert catalog_only.engine == db.backend


@pytest.mark.parametrize("sql", WRITES)
def test_same_refusals_as_casparian_query(db, outputs, sql):
    seed(db)
    with pytest.raises(CasparianError) as err:
        r = ResultSet(db, sql, outputs)
        r.open().result()
    assert err.value.exit_code == 1
    assert db.query_value("SELECT count(*) FROM scout_sources") == 2
    assert "evil" not in db.read(lambda c: c.table_names())


def test_frequency(db, outputs):
    r = open_result(db, "SELECT * FROM outputs.p_events", outputs)
    f = r.frequency("k").result()
    assert f.total == 1000 and f.distinct == 4
    assert [(v, n) for v, n, _ in f.rows] == [("k0", 250), ("k1", 250), ("k2", 250), ("k3", 250)]
    assert f.rows[0][2] == pytest.approx(25.0)
    with pytest.raises(CasparianError):
        r.frequency("nope")
    # a column name is an identifier, quoted, never SQL text
    odd = open_result(db, 'SELECT k AS "a""b" FROM outputs.p_events', outputs)
    assert odd.frequency('a"b').result().distinct == 4


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_export_and_refusal_to_overwrite(db, outputs, tmp_path, ext):
    r = open_result(db, "SELECT n, k FROM outputs.p_events WHERE n < 300 ORDER BY n", outputs, page_rows=50)
    target = tmp_path / f"x.{ext}"
    seen = []
    res = r.export(target, progress=seen.append).result()
    assert res.rows == 300 and seen[-1] == 300
    reader = {"csv": "read_csv", "parquet": "read_parquet", "jsonl": "read_json"}[ext]
    got = duckdb.sql(f"SELECT count(*), sum(n), min(k) FROM {reader}(?)", params=[str(target)]).fetchall()
    assert got == [(300, sum(range(300)), "k0")]
    before = target.read_bytes()
    with pytest.raises(ExportRefused):
        r.export(target)
    assert target.read_bytes() == before
    r2 = open_result(db, "SELECT 1 AS n, 'z' AS k", outputs)
    assert r2.export(target, overwrite=True).result().rows == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_export_format_from_extension_or_refused(db, outputs, tmp_path):
    r = open_result(db, "SELECT 1 AS n", outputs)
    with pytest.raises(ExportRefused):
        r.export(tmp_path / "x.txt")
    assert r.export(tmp_path / "x.txt", "jsonl").result().rows == 1
    assert json.loads((tmp_path / "x.txt").read_text()) == {"n": 1}


def test_interrupt_returns_control(db, outputs):
    slow = "SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3"
    if db.backend == "sqlite":
        slow = "SELECT count(*) FROM outputs.p_events, range(100000000000) a WHERE a.range % 7 = 3"
    r = ResultSet(db, slow, outputs)
    fut = r.open()
    deadline = time.monotonic() + 60
    while not fut.running():
        assert time.monotonic() < deadline, "the query never started"
        time.sleep(0.01)
    while not fut.done():  # the request may not have reached the database yet: keep asking
        assert time.monotonic() < deadline, "the query was never interrupted"
        r.interrupt()
        time.sleep(0.05)
    with pytest.raises(QueryInterrupted):
        fut.result()
    after = open_result(db, "SELECT 42 AS x", outputs)  # the connection is usable afterwards
    assert after.page(0).result().rows == [(42,)]


def _slow_sql(backend: str) -> str:
    # On SQLite and PostgreSQL this runs on the in-memory DuckDB beside the catalog connection.
    return ("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3" if backend == "duckdb" else
            "SELECT count(*) FROM outputs.p_events, range(100000000000) a WHERE a.range % 7 = 3")


def test_the_actors_interrupt_stops_a_statement_on_the_scratch_engine(db, outputs):
    """What a signal, a shutdown or a caller's future.interrupt() does: the actor's interrupt, not ResultSet's."""
    r = ResultSet(db, _slow_sql(db.backend), outputs)
    fut = r.open()
    deadline = time.monotonic() + 60
    while not fut.running():
        assert time.monotonic() < deadline, "the query never started"
        time.sleep(0.01)
    while not fut.done():
        assert time.monotonic() < deadline, "the actor's interrupt never reached the running statement"
        fut.interrupt()
        time.sleep(0.05)
    with pytest.raises(QueryInterrupted):
        fut.result()


def test_outputs_catalog_and_quarantine_context(db, outputs, tmp_path):
    src = tmp_path / "input.log"
    src.write_text("".join(f"line {i}\n" for i in range(1, 31)))
    q = outputs / "p" / "1" / "events_quarantine"
    q.mkdir()
    pq.write_table(pa.table({"_cf_row": [json.dumps({"line": 12, "x": "bad"}), "{}"],
                             "_cf_error": ["x: not an int", "whole file"],
                             "_cf_source_path": [str(src), str(src)]}), q / "part-1.parquet")
    found = db.read(lambda c: catalog.list_outputs(c, outputs))
    assert [(o.parser, o.version, o.output, o.rows, o.files, o.quarantine_rows, o.latest) for o in found] == [
        ("p", "1", "events", 1000, 1, 2, True)]
    assert found[0].bytes > 0 and found[0].contract == "none"
    r = open_result(db, "SELECT * FROM read_parquet(?)", outputs, params=[found[0].quarantine_pattern])
    rows = r.page(0).result().rows
    assert r.columns == ["_cf_row", "_cf_error", "_cf_source_path"] and len(rows) == 2
    ctx = catalog.source_context(rows[0][2], rows[0][0], around=2)
    assert ctx.focus == 12 and ctx.first_line == 10 and ctx.lines == [f"line {i}" for i in range(10, 15)]
    whole = catalog.source_context(rows[1][2], rows[1][0], head=3)
    assert whole.focus is None and whole.lines == ["line 1", "line 2", "line 3"]
    assert catalog.source_context(str(tmp_path / "gone.log")).error


def test_sqlite_staging_has_a_ceiling(db, outputs, monkeypatch):
    if db.backend != "sqlite":
        pytest.skip("the DuckDB backend joins outputs with the catalog without staging")
    from casparian_tui.outputs import sqlite_outputs

    seed(db)
    monkeypatch.setattr(sqlite_outputs, "MAX_STAGED_ROWS", 1)
    with pytest.raises(CasparianError) as err:
        open_result(db, "SELECT * FROM outputs.p_events e JOIN scout_sources s ON s.id = e.src", outputs)
    assert "scout_sources (2 rows)" in err.value.message and "DuckDB" in err.value.hint
    assert open_result(db, "SELECT count(*) FROM outputs.p_events", outputs).page(0).result().rows == [(1000,)]
