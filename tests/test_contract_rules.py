"""Contracts that fit real data (both backends): nullable columns in both
spellings, withdrawing an approved contract, a quarantine limit per parser
and per run, and `propose --from-sample` drawing a new sample each time."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from sentinel_rows import make_files, output_table, plan

from casparian_tui.config import Settings
from casparian_tui.contracts import store as contracts
from casparian_tui.contracts.policy import quarantine_limit
from casparian_tui.db import Database
from casparian_tui.errors import UsageError
from casparian_tui.sentinel import selection
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.sentinel.runner import RunOptions, Runner

NULLABLE = """
NAME = "one_row"
VERSION = "1"
OUTPUTS = {"one_row": {"name": "string", "note": "string?", "n": {"type": "int64", "nullable": True}}}
import os
def parse(path):
    name = os.path.basename(path)
    if name.startswith("a"):
        return [{"name": name, "note": None}]           # n missing, note None: fine
    if name.startswith("b"):
        return [{"name": name, "note": "x", "n": 3}]
    return [{"name": None, "note": "no name", "n": 1}]  # name is required: quarantined
"""

HALF_BAD = """
NAME = "one_row"
VERSION = "1"
OUTPUTS = {"one_row": {"n": "int64"}}
{limit}
def parse(path):
    return [{"n": i if i >= 3 else "bad"} for i in range(10)]  # 3 of 10 rows do not fit
"""


def _run(db, tmp_path, parser_text: str, names: list[str], **opts):
    tmp_path.mkdir(parents=True, exist_ok=True)
    parser = tmp_path / "parser.py"
    parser.write_text(parser_text)
    spec = load_parser(str(parser))
    paths = make_files(tmp_path / "in", 0, names)
    schemas = db.read(lambda c: contracts.effective_schemas(c, spec))
    plan(db, spec, paths, max_attempts=1)
    Runner(db, spec, RunOptions(output_root=tmp_path / "out", workers=1, schemas=schemas, flush_s=0.2, **opts)).run()
    return spec, dict(db.query_all("SELECT status, count(*) FROM cf_processing_queue GROUP BY status"))


def test_nullable_columns_in_both_spellings(db, tmp_path):
    spec, statuses = _run(db, tmp_path, NULLABLE, ["a1.txt", "b1.txt", "c1.txt"], quarantine_max=1.0)
    assert db.read(lambda c: contracts.effective_schemas(c, spec)) == {
        "one_row": {"name": "string", "note": "string?", "n": "int64?"}
    }
    assert statuses == {"COMPLETED": 3}
    table = output_table(tmp_path)
    rows = sorted(zip(table.column("name").to_pylist(), table.column("note").to_pylist(), table.column("n").to_pylist()))
    assert rows == [("a1.txt", None, None), ("b1.txt", "x", 3)]
    assert table.schema.field("n").type == pa.int64()
    assert db.query_value("SELECT sum(rows_quarantined) FROM cf_processing_queue") == 1


def test_a_nullable_contract_is_stored_in_one_spelling(db):
    v = db.write("p", lambda c: contracts.propose(c, "p", "o", {"a": {"type": "int64", "nullable": True}, "b": "string"}))
    assert v == (1, True)
    assert db.write("p", lambda c: contracts.propose(c, "p", "o", {"a": "int64?", "b": "string"})) == (1, False)
    with pytest.raises(Exception, match="nullable"):
        db.write("p", lambda c: contracts.propose(c, "p", "o", {"a": {"type": "int64", "nullable": "yes"}}))


def test_withdraw_stops_a_contract_applying(db):
    db.write("p", lambda c: contracts.propose(c, "p", "o", {"a": "int64"}))
    db.write("a", lambda c: contracts.approve(c, "p"))
    db.write("p", lambda c: contracts.propose(c, "p", "o", {"a": "string"}))
    db.write("a", lambda c: contracts.approve(c, "p"))
    assert db.read(lambda c: contracts.approved_columns(c, "p")) == {"o": {"a": "string"}}
    assert db.write("w", lambda c: contracts.withdraw(c, "p.o", 2)) == [("p.o", [2])]
    assert db.read(lambda c: contracts.approved_columns(c, "p")) == {"o": {"a": "int64"}}  # the previous one
    assert db.write("w", lambda c: contracts.withdraw(c, "p")) == [("p.o", [1])]
    assert db.read(lambda c: contracts.approved_columns(c, "p")) == {}
    (shown,) = db.read(lambda c: contracts.show(c, "p.o"))
    assert [v.status for v in shown.versions] == ["withdrawn", "withdrawn"]
    with pytest.raises(UsageError, match="No approved version"):
        db.write("w", lambda c: contracts.withdraw(c, "p"))


def test_quarantine_limit_per_parser_and_per_run(db, tmp_path):
    # Default 0.10: 3 bad rows of 10 fail the file.
    _, statuses = _run(db, tmp_path / "default", HALF_BAD.replace("{limit}", ""), ["f.txt"])
    assert statuses == {"FAILED": 1}
    # The parser allows a quarter... still too few; it allows a half: the file passes.
    _, statuses = _run(db, tmp_path / "parser", HALF_BAD.replace("{limit}", "MAX_QUARANTINE = 0.5"), ["g.txt"])
    assert statuses == {"FAILED": 1, "COMPLETED": 1}
    # The run's limit wins over the parser's.
    _, statuses = _run(db, tmp_path / "run", HALF_BAD.replace("{limit}", "MAX_QUARANTINE = 0.5"), ["h.txt"],
                       quarantine_max=0.2)
    assert statuses == {"FAILED": 2, "COMPLETED": 1}


def test_quarantine_limit_is_checked(tmp_path):
    parser = tmp_path / "p.py"
    parser.write_text(HALF_BAD.replace("{limit}", "MAX_QUARANTINE = 2"))
    spec = load_parser(str(parser))
    with pytest.raises(UsageError, match="MAX_QUARANTINE"):
        quarantine_limit(spec)
    assert quarantine_limit(spec, 0.3) == 0.3
    with pytest.raises(UsageError, match="--max-quarantine"):
        quarantine_limit(spec, -1)


CSV = """
NAME = "csv_like"
VERSION = "1"
def parse(path):
    head, row = open(path).read().splitlines()
    cols = head.split(",")
    return [dict(zip(cols, row.split(",")))]
"""


def test_propose_from_sample_draws_a_new_sample_and_proposes_nullable(cli, backend, tmp_path):
    parser = tmp_path / "csv_like.py"
    parser.write_text(CSV)
    files = []
    for i in range(40):
        p = tmp_path / "in" / f"f{i:02d}.csv"
        p.parent.mkdir(exist_ok=True)
        p.write_text(f"id,c{i:02d}\n{i},x\n")  # each file has its own second column
        files.append(str(p))
    db = Database(Settings.resolve(backend=backend))
    try:
        def tag(c):
            t = selection.register_paths(c, selection.expand_paths(files))
            for fid in t["file_id"].to_pylist():
                c.execute("INSERT INTO scout_file_tags (file_id, tag, tag_source, created_at) "
                          "VALUES (?, 'csv', 'manual', 0)", [fid])
        db.write("tag", tag)
    finally:
        db.close()
    seen = set()
    for _ in range(4):
        res = cli("schema", "propose", str(parser), "--from-sample", "2", "--tag", "csv", "--json",
                  "--backend", backend)
        assert res.returncode == 0, res.stderr
        cols = json.loads(res.stdout)["proposed"][0]["columns"]
        assert cols["id"] == "string"  # in every file, never empty
        others = {c: t for c, t in cols.items() if c != "id"}
        assert len(others) == 2 and set(others.values()) == {"string?"}  # each lacks the other's column
        seen.add(tuple(sorted(others)))
    assert len(seen) > 1  # the same two of 40 files four times running: (1/780)^3
