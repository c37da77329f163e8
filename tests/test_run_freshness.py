"""`casparian run` against the disk as it is now: changed files, renamed files, exact lineage paths."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pyarrow.dataset as ds

from casparian_tui.config import Settings
from casparian_tui.db import Database

REPO = Path(__file__).resolve().parent.parent
CSV = str(REPO / "assets" / "parsers" / "csv_rows.py")


def run_json(cli, backend, *args):
    res = cli("run", CSV, *args, "--json", "--backend", backend, "--workers", "2")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def scan(cli, backend, folder):
    res = cli("scan", str(folder), "--json", "--backend", backend)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def make_csvs(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True)
    out = []
    for i in range(n):
        p = folder / f"d{i}.csv"
        p.write_text(f"id,name\n{i},n{i}\n")
        out.append(p)
    return out


def outputs(home: Path):
    return ds.dataset(str(home / "output/csv_rows/1.0/csv_rows"), format="parquet").to_table()


def test_a_file_changed_since_the_scan_is_parsed_again_and_recatalogued(cli, backend, tmp_path):
    files = make_csvs(tmp_path / "src", 3)
    scan(cli, backend, tmp_path / "src")
    first = run_json(cli, backend, "--source", "src")
    assert (first["jobs"], first["changed"]) == (3, 0)
    files[0].write_text("id,name\n0,n0\n7,grown\n8,more\n")
    os.utime(files[0], ns=(time.time_ns(), time.time_ns() + 10**9))
    second = run_json(cli, backend, "--source", "src")
    assert (second["jobs"], second["skipped"], second["changed"], second["rows"]) == (1, 2, 1, 3)
    db = Database(Settings.resolve(backend=backend))
    try:
        size = db.query_value("SELECT size FROM scout_files WHERE rel_path = 'd0.csv'")
    finally:
        db.close()
    assert size == files[0].stat().st_size
    third = run_json(cli, backend, "--source", "src")
    assert (third["jobs"], third["changed"]) == (0, 0)
    rows = outputs(Path(os.environ["CASPARIAN_HOME"]))
    assert sorted(rows.column("id").to_pylist()) == ["0", "1", "2", "7", "8"]


def test_a_renamed_file_is_parsed_again_under_its_new_name(cli, backend, tmp_path):
    files = make_csvs(tmp_path / "src", 3)
    scan(cli, backend, tmp_path / "src")
    run_json(cli, backend, "--source", "src")
    files[0].rename(tmp_path / "src" / "renamed.csv")
    assert scan(cli, backend, tmp_path / "src")["renamed"] == 1
    again = run_json(cli, backend, "--source", "src")
    assert (again["jobs"], again["skipped"]) == (1, 2)
    rows = outputs(Path(os.environ["CASPARIAN_HOME"]))
    paths = sorted(Path(p).name for p in rows.column("_cf_source_path").to_pylist())
    assert paths == ["d1.csv", "d2.csv", "renamed.csv"]


def test_lineage_keeps_the_exact_bytes_of_a_name_that_is_not_utf8(cli, backend, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    raw = os.fsencode(str(folder)) + b"/caf\xe9.csv"
    with open(raw, "wb") as fh:
        fh.write(b"id,name\n1,a\n")
    (folder / "plain.csv").write_text("id,name\n2,b\n")
    run_json(cli, backend, str(folder))
    rows = outputs(Path(os.environ["CASPARIAN_HOME"])).to_pylist()
    by_id = {r["id"]: r for r in rows}
    assert by_id["1"]["_cf_source_path_bytes"] == raw
    assert os.path.exists(by_id["1"]["_cf_source_path_bytes"])
    assert by_id["2"]["_cf_source_path_bytes"] is None and by_id["2"]["_cf_source_path"] == str(folder / "plain.csv")
    # and `casparian query --json` hands the exact bytes to a script, as {"bytes": base64} like every JSON path
    res = cli("query", "SELECT id, _cf_source_path_bytes AS b FROM outputs.csv_rows_csv_rows ORDER BY id", "--json",
              "--backend", backend)
    assert res.returncode == 0, res.stderr
    got = {r["id"]: r["b"] for r in json.loads(res.stdout)["rows"]}
    assert got["2"] is None and base64.b64decode(got["1"]["bytes"]) == raw
