"""The statement under the editor's cursor, and the query history file."""

from __future__ import annotations

import json

from casparian_tui.outputs.history import QueryHistory
from casparian_tui.outputs.sql_text import statement_at

TEXT = "SELECT 1;\n-- a ; in a comment\nSELECT ';' AS x, \"a;b\" FROM t /* ; */;\n\nSELECT 3"


def test_statement_at_cursor():
    assert statement_at(TEXT, 0) == "SELECT 1"
    assert statement_at(TEXT, 8) == "SELECT 1"  # right before the ;
    second = TEXT.index("SELECT ';'")
    assert statement_at(TEXT, second + 3).endswith("FROM t /* ; */")
    assert statement_at(TEXT, second + 3).startswith("-- a ; in a comment")
    assert statement_at(TEXT, len(TEXT)) == "SELECT 3"
    assert statement_at("SELECT 1;\n\n", 11) == "SELECT 1"  # after the last ;, the one before
    assert statement_at("   ", 1) == ""
    assert statement_at("SELECT 'it''s; fine'", 3) == "SELECT 'it''s; fine'"


def test_history_keeps_the_last_entries(tmp_path):
    h = QueryHistory(tmp_path, limit=3)
    for sql in ["a", "b", "c", "b", "d"]:
        h.add(sql)
    assert h.entries == ["c", "b", "d"] and h.newest_first() == ["d", "b", "c"]
    with open(h.path, "a") as fh:
        fh.write('{"sql": "torn')  # a crash mid-line must not lose the rest
    again = QueryHistory(tmp_path, limit=3)
    assert again.entries == ["c", "b", "d"]
    again.add("  ")  # blank: not remembered
    again.add("e")
    assert [json.loads(line)["sql"] for line in h.path.read_text().splitlines()] == ["b", "d", "e"]
