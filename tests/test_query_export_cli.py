"""`casparian query SQL --output FILE`: the formats, the refusal to overwrite, SQLite outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


@pytest.fixture
def home_outputs():
    folder = Path(os.environ["CASPARIAN_HOME"]) / "output" / "p" / "1" / "events"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"n": pa.array(range(5000), pa.int64()), "k": [f"k{i % 3}" for i in range(5000)]}),
                   folder / "part-1.parquet")
    return folder


@pytest.mark.parametrize("ext,reader", [("csv", "read_csv"), ("parquet", "read_parquet"), ("jsonl", "read_json")])
def test_output_file_formats(cli, backend, tmp_path, home_outputs, ext, reader):
    target = tmp_path / f"result.{ext}"
    res = cli("query", "SELECT n, k FROM outputs.p_events", "--output", str(target), "--backend", backend, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"path": str(target), "format": ext, "rows": 5000,
                                      "bytes": target.stat().st_size}
    assert duckdb.sql(f"SELECT count(*), sum(n) FROM {reader}(?)", params=[str(target)]).fetchall() == [
        (5000, sum(range(5000)))]
    # never overwritten without --force; the file is untouched
    before = target.read_bytes()
    again = cli("query", "SELECT 1 AS n", "--output", str(target), "--backend", backend)
    assert again.returncode == 1 and "exists" in again.stderr and "--force" in again.stderr
    assert "Traceback" not in again.stderr and target.read_bytes() == before
    forced = cli("query", "SELECT 7 AS n", "--output", str(target), "--force", "--backend", backend)
    assert forced.returncode == 0, forced.stderr
    assert duckdb.sql(f"SELECT n FROM {reader}(?)", params=[str(target)]).fetchall() == [(7,)]


def test_output_format_limit_and_usage(cli, tmp_path, home_outputs):
    target = tmp_path / "result.data"
    no_ext = cli("query", "SELECT 1", "--output", str(target))
    assert no_ext.returncode == 1 and "--format" in no_ext.stderr
    ok = cli("query", "SELECT n FROM outputs.p_events ORDER BY n", "--output", str(target), "--format", "parquet",
             "--limit", "10")
    assert ok.returncode == 0, ok.stderr
    assert pq.read_table(target).column("n").to_pylist() == list(range(10))
    assert cli("query", "SELECT 1", "--force").returncode == 2
    ro = cli("query", "SELECT count(*) AS c FROM scout_files", "--output", str(tmp_path / "ro.csv"), "--read-only")
    assert ro.returncode == 0, ro.stderr
    assert (tmp_path / "ro.csv").read_text().splitlines() == ['"c"', "0"]
