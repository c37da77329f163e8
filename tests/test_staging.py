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
