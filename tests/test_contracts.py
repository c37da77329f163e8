"""Schema contracts: versions, approval, and an approved contract winning in a run (both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from sentinel_rows import make_files, make_parser, output_table, plan, run

from casparian_tui.config import Settings
from casparian_tui.contracts import infer
from casparian_tui.contracts import store as contracts
from casparian_tui.db import Database
from casparian_tui.errors import UsageError
from casparian_tui.sentinel import selection
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.sentinel.runner import RunOptions, Runner

REPO = Path(__file__).resolve().parent.parent
LOG = str(REPO / "assets" / "parsers" / "log_lines.py")
CSV = str(REPO / "assets" / "parsers" / "csv_rows.py")


def test_versions_and_approval(db):
    v1 = db.write("p", lambda c: contracts.propose(c, "p", "out", {"a": "int64", "b": "string"}))
    assert v1 == (1, True)
    assert db.write("p", lambda c: contracts.propose(c, "p", "out", {"a": "int64", "b": "string"})) == (1, False)
    assert db.write("p", lambda c: contracts.propose(c, "p", "out", {"a": "double"})) == (2, True)
    (c,) = db.read(lambda c: contracts.list_contracts(c))
    assert (c.name, c.latest_version, c.current_version) == ("p.out", 2, None)
    assert db.read(lambda c: contracts.approved_columns(c, "p")) == {}
    assert db.write("a", lambda c: contracts.approve(c, "p.out", 1)) == [("p.out", 1)]
    assert db.read(lambda c: contracts.approved_columns(c, "p")) == {"out": {"a": "int64", "b": "string"}}
    assert db.write("a", lambda c: contracts.approve(c, "p")) == [("p.out", 2)]  # latest, every output
    (shown,) = db.read(lambda c: contracts.show(c, "p.out"))
    assert shown.current_version == 2 and shown.columns == {"a": "double"}
    assert [v.status for v in shown.versions] == ["approved", "approved"]
    json.dumps(shown.to_dict(with_versions=True))
    with pytest.raises(contracts.ContractNotFound):
        db.read(lambda c: contracts.show(c, "nope"))
    with pytest.raises(UsageError):
        db.write("a", lambda c: contracts.approve(c, "p.out", 9))
    with pytest.raises(Exception, match="unknown type"):
        db.write("p", lambda c: contracts.propose(c, "p", "out", {"a": "integer-ish"}))


def test_approved_contract_wins_over_declared_outputs(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["a.txt", "b.txt"])
    spec = load_parser(make_parser(tmp_path))  # declares no OUTPUTS: rows {name, size}
    assert db.read(lambda c: contracts.effective_schemas(c, spec)) == {}
    # contract: size must be a timestamp -> every row fails it; name stays a string
    db.write("p", lambda c: contracts.propose(c, "one_row", "one_row", {"name": "string", "size": "bool"}))
    db.write("a", lambda c: contracts.approve(c, "one_row"))
    db.write("p", lambda c: contracts.propose(c, "one_row", "one_row", {"name": "string", "size": "int32"}))
    schemas = db.read(lambda c: contracts.effective_schemas(c, spec))
    assert schemas == {"one_row": {"name": "string", "size": "bool"}}  # latest *approved*, not latest
    db.write("a", lambda c: contracts.approve(c, "one_row.one_row", 2))
    schemas = db.read(lambda c: contracts.effective_schemas(c, spec))
    assert schemas == {"one_row": {"name": "string", "size": "int32"}}
    plan(db, spec, paths)
    Runner(db, spec, RunOptions(output_root=tmp_path / "out", workers=1, schemas=schemas, flush_s=0.2)).run()
    table = output_table(tmp_path)
    assert table.schema.field("size").type == pa.int32() and table.num_rows == 2


def test_contract_violation_quarantines_and_fails_the_file(db, tmp_path):
    spec = load_parser(LOG)
    good = tmp_path / "in" / "a.log"
    good.parent.mkdir()
    good.write_text("".join(f"2024-05-01 12:00:{i:02d} INFO [app] event {i}\n" for i in range(10)))
    # an approved contract declaring `level` as int64: every row violates it
    cols = dict(infer.declared_columns(spec)["log_lines"], level="int64")
    db.write("p", lambda c: contracts.propose(c, "log_lines", "log_lines", cols))
    db.write("a", lambda c: contracts.approve(c, "log_lines"))
    schemas = db.read(lambda c: contracts.effective_schemas(c, spec))
    plan(db, spec, [str(good)], max_attempts=1)
    Runner(db, spec, RunOptions(output_root=tmp_path / "out", workers=1, schemas=schemas, flush_s=0.2)).run()
    status, error = db.query_one("SELECT status, error FROM cf_processing_queue")
    assert status == "FAILED" and "10 of 10 rows" in error and "level" in error


def test_observed_columns_merge():
    merged = infer.merge({}, {"o": pa.schema([("a", pa.int32()), ("b", pa.string()), ("_cf_x", pa.int64())])})
    merged = infer.merge(merged, {"o": pa.schema([("a", pa.int64()), ("b", pa.float64()),
                                                   ("t", pa.timestamp("ms", tz="UTC"))])})
    assert merged == {"o": {"a": "int64", "b": "string", "t": "timestamp[ms]"}}
    assert infer.merge({}, {"o": pa.schema([("x", pa.int64())]), }) == {"o": {"x": "int64"}}
    assert infer.merge({"o": {"x": "int64"}}, {"o": pa.schema([("x", pa.float64())])}) == {"o": {"x": "double"}}


def test_schema_cli_propose_approve_list_and_run(cli, backend, tmp_path):
    res = cli("schema", "propose", LOG, "--backend", backend)
    assert res.returncode == 0, res.stderr
    assert "log_lines.log_lines: proposed version 1" in res.stdout
    assert cli("schema", "propose", LOG, "--backend", backend).stdout.startswith("log_lines.log_lines: unchanged")
    res = cli("schema", "approve", "log_lines", "--json", "--backend", backend)
    assert json.loads(res.stdout) == {"approved": [{"name": "log_lines.log_lines", "version": 1}]}
    listed = json.loads(cli("schema", "list", "--json", "--backend", backend).stdout)
    assert listed[0]["name"] == "log_lines.log_lines" and listed[0]["current_version"] == 1
    shown = cli("schema", "show", "log_lines", "--backend", backend)
    assert shown.returncode == 0 and "* v1  approved" in shown.stdout
    missing = cli("schema", "show", "nope", "--backend", backend)
    assert missing.returncode == 1 and "No schema contract" in missing.stderr
    no_outputs = cli("schema", "propose", CSV, "--backend", backend)
    assert no_outputs.returncode == 2 and "--from-sample" in no_outputs.stderr

    # --from-sample: CSV files tagged csv in the catalog
    files = []
    for i in range(4):
        p = tmp_path / f"d{i}.csv"
        p.write_text(f"id,name\n{i},n{i}\n")
        files.append(str(p))
    db = Database(Settings.resolve(backend=backend))
    try:
        def tag(c):
            t = selection.register_paths(c, selection.expand_paths(files))
            for fid in t["file_id"].to_pylist():
                c.execute("INSERT INTO scout_file_tags (file_id, tag, tag_source, created_at) VALUES (?, 'csv', "
                          "'manual', 0)", [fid])
        db.write("tag", tag)
    finally:
        db.close()
    res = cli("schema", "propose", CSV, "--from-sample", "3", "--json", "--backend", backend)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["proposed"][0]["columns"] == {"id": "string", "name": "string", "line": "int64"}
    assert out["notes"][0] == "sampled 3 files at random, 0 failed to parse"


def test_run_cli_validates_against_the_approved_contract(cli, backend, tmp_path):
    log = tmp_path / "a.log"
    log.write_text("".join(f"2024-05-01 12:00:{i:02d} INFO [app] event {i}\n" for i in range(5)))
    ok = json.loads(cli("run", LOG, str(log), "--json", "--workers", "1", "--backend", backend).stdout)
    assert ok["completed"] == 1
    db = Database(Settings.resolve(backend=backend))
    try:
        cols = dict(infer.declared_columns(load_parser(LOG))["log_lines"], level="int64")
        db.write("p", lambda c: contracts.propose(c, "log_lines", "log_lines", cols))
        db.write("a", lambda c: contracts.approve(c, "log_lines"))
    finally:
        db.close()
    res = cli("run", LOG, str(log), "--force", "--json", "--workers", "1", "--max-attempts", "1", "--backend", backend)
    out = json.loads(res.stdout)
    assert res.returncode == 1 and (out["completed"], out["failed"]) == (0, 1)
