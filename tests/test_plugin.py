"""Parser plugin loading and validation; shaping parse() results into outputs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from casparian_tui.outputs.shape import ShapeError, shape, split_outputs
from casparian_tui.sentinel import TransientError
from casparian_tui.sentinel.plugin import ParserInvalid, load_parser

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path, text, name="p.py") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = "NAME = 'demo'\nVERSION = '1.2'\nTAGS = ['x']\nOUTPUTS = {'demo': {'a': 'int64', 'ts': 'timestamp[us]'}}\n" \
       "def parse(path):\n    return [{'a': 1}]\n"


def test_loads_a_valid_parser(tmp_path):
    spec = load_parser(write(tmp_path, GOOD))
    assert (spec.name, spec.version, spec.tags) == ("demo", "1.2", ("x",))
    assert spec.outputs == {"demo": {"a": pa.int64(), "ts": pa.timestamp("us")}}
    assert spec.parse("x") == [{"a": 1}]
    assert len(spec.fingerprint) == 16


def test_fingerprint_follows_content(tmp_path):
    a = load_parser(write(tmp_path, GOOD, "a.py"))
    b = load_parser(write(tmp_path, GOOD, "b.py"))
    c = load_parser(write(tmp_path, GOOD + "# changed\n", "c.py"))
    assert a.fingerprint == b.fingerprint != c.fingerprint


@pytest.mark.parametrize(
    "text, message",
    [
        ("NAME = 'x'\nVERSION = '1'\ndef parse(p:\n", "syntax error at line 3"),
        ("NAME = 'x'\nVERSION = '1'\n", "no parse(path) function"),
        ("VERSION = '1'\ndef parse(p): pass\n", "needs NAME"),
        ("NAME = 'x'\ndef parse(p): pass\n", "needs VERSION"),
        ("NAME = 'x'\nVERSION = '1'\nOUTPUTS = ['a']\ndef parse(p): pass\n", "OUTPUTS must be a non-empty dict"),
        ("NAME = 'x'\nVERSION = '1'\nOUTPUTS = {'o': {'a': 'integer!'}}\ndef parse(p): pass\n", "unknown type"),
        ("NAME = 'x'\nVERSION = '1'\nraise RuntimeError('nope')\n", "failed while loading: RuntimeError: nope"),
    ],
)
def test_invalid_parsers_explain_why(tmp_path, text, message):
    with pytest.raises(ParserInvalid) as err:
        load_parser(write(tmp_path, text))
    assert message in err.value.message


def test_missing_parser_file(tmp_path):
    with pytest.raises(ParserInvalid, match="not found"):
        load_parser(tmp_path / "nope.py")


@pytest.mark.parametrize("name", ["csv_rows.py", "jsonl_records.py", "log_lines.py"])
def test_sample_parsers_load(name):
    spec = load_parser(REPO / "assets" / "parsers" / name)
    assert spec.name == name[:-3]


def test_sample_log_parser_marks_unparsable_lines(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("2024-05-01 12:00:00,5 INFO [web] hi\n  at frame\ngarbage\n")
    spec = load_parser(REPO / "assets" / "parsers" / "log_lines.py")
    shaped = shape(spec.parse(str(log)), spec.outputs["log_lines"])
    assert shaped.good.num_rows == 1
    assert shaped.good.column("message").to_pylist() == ["hi\nat frame"]
    assert [reason for _, reason in shaped.bad] == ["missing required column ts"]


def test_transient_error_is_importable_by_parsers():
    assert issubclass(TransientError, Exception)


def test_shape_quarantines_wrong_types_and_missing_columns():
    schema = {"a": pa.int64(), "b": pa.string()}
    rows = [{"a": 1, "b": "x"}, {"a": "2", "b": "y"}, {"a": "zz", "b": "q"}, {"b": "no a"}, {"a": 5, "b": "z", "c": 9}]
    out = shape(rows, schema)
    assert out.good.column("a").to_pylist() == [1, 2, 5]
    assert out.good.column_names == ["a", "b"]
    reasons = [r for _, r in out.bad]
    assert reasons[0].startswith("wrong type in column a") and reasons[1] == "missing required column a"


def test_shape_accepts_arrow_tables_and_infers_without_schema():
    t = pa.table({"a": ["1", "2"]})
    assert shape(t, {"a": pa.int64()}).good.column("a").type == pa.int64()
    assert shape([{"x": 1}, {"x": 2}], None).good.num_rows == 2
    with pytest.raises(ShapeError):
        shape([{"x": 1}, {"x": "text"}], None)


def test_split_outputs():
    assert split_outputs([{"a": 1}], ["o"]) == {"o": [{"a": 1}]}
    assert split_outputs({"o1": [], "o2": [{"a": 1}]}, ["o1", "o2"]) == {"o1": [], "o2": [{"a": 1}]}
    with pytest.raises(ShapeError):
        split_outputs([{"a": 1}], ["o1", "o2"])
    with pytest.raises(ShapeError):
        split_outputs({"o1": [], "zzz": []}, ["o1", "o2"])
