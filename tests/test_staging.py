"""`Connection.staged`: a batch reads back exactly, on every backend (PostgreSQL COPYs it as CSV)."""

from __future__ import annotations

import pyarrow as pa
import pytest

TEXTS = ["", None, "a,b", 'q"z', "new\nline", "cr\rx", "\\N", "tab\tx", " lead", "ü日本", "'", "last"]


@pytest.mark.parametrize("odd", [None, "\\."], ids=["csv", "end-marker"])
def test_staged_batch_reads_back_exactly(db, odd):
    texts = [*TEXTS, odd]
    n = len(texts)
    data = pa.table({
        "k": pa.array(range(n), pa.int64()),
        "t": pa.array(texts, pa.string()),
        "i": pa.array([None if j % 3 == 0 else j * 10**12 for j in range(n)], pa.int64()),
        "d": pa.array([None if j % 4 == 0 else j / 3 for j in range(n)], pa.float64()),
    })

    def read(conn):
        with conn.transaction():
            with conn.staged(data) as name:
                return conn.query_all(f"SELECT k, t, i, d FROM {name} ORDER BY k")

    rows = db.write("stage", read)
    assert rows == [tuple(r.values()) for r in data.to_pylist()]


def test_a_one_column_batch_with_the_copy_end_marker_reads_back(db):
    texts = ["a", "\\.", "b", None, ""]
    data = pa.table({"t": pa.array(texts, pa.string())})

    def read(conn):
        with conn.transaction():
            with conn.staged(data) as name:
                return [r[0] for r in conn.query_all(f"SELECT t FROM {name}")]

    got = db.write("stage", read)
    assert sorted(got, key=repr) == sorted(texts, key=repr)


def test_a_staged_batch_leaves_the_sessions_planner_settings_as_they_were(db):
    """A server samples a staged batch with a small statistics target; the session's own comes back."""
    if db.settings.backend != "postgres":
        pytest.skip("only a server keeps planner settings per session")
    data = pa.table({"k": pa.array(range(5000), pa.int64())})

    def stage(conn):
        before = conn.query_value("SHOW default_statistics_target")
        with conn.transaction():
            with conn.staged(data) as name:
                rows = conn.query_value("SELECT reltuples FROM pg_class WHERE relname = ?", [name])
        return before, rows, conn.query_value("SHOW default_statistics_target")

    before, rows, after = db.write("stage", stage)
    assert rows == 5000  # analysed: the planner knows the batch's size
    assert after == before
