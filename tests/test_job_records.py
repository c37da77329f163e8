"""What a job's record keeps: capped messages, permanent failures, on both backends."""

from __future__ import annotations

from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.sentinel.runner import Runner

from sentinel_rows import make_files, make_parser, opts, plan


def test_a_huge_exception_message_is_stored_capped_with_a_note(db, tmp_path):
    paths = make_files(tmp_path / "in", 1)
    spec = load_parser(make_parser(tmp_path, "raise ValueError('x' * 300_000)"))
    plan(db, spec, paths, max_attempts=1)
    Runner(db, spec, opts(tmp_path)).run()
    error, tb = db.query_one("SELECT error, traceback FROM cf_processing_queue")
    dead_error, dead_tb = db.query_one("SELECT error, traceback FROM cf_dead_letter")
    for text in (error, tb, dead_error, dead_tb):
        assert len(text) < q.MAX_STORED_TEXT + 200 and "[cut:" in text
    assert error.startswith("ValueError: xxx")


def test_overflow_is_permanent_not_retried(db, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["raised.txt", "returned.txt"])
    spec = load_parser(make_parser(tmp_path, text=(
        "NAME = 'big'\nVERSION = '1'\nimport os\n"
        "def parse(path):\n"
        "    if path.endswith('raised.txt'):\n"
        "        raise OverflowError('int too large to convert')\n"
        "    return [{'n': 10 ** 30}]\n")))
    plan(db, spec, paths, max_attempts=3)
    Runner(db, spec, opts(tmp_path)).run()
    rows = db.query_all("SELECT status, attempts, error FROM cf_processing_queue ORDER BY id")
    assert [(s, a) for s, a, _ in rows] == [("FAILED", 1), ("FAILED", 1)], rows
    assert "64 bits" in rows[1][2]
    assert db.query_value("SELECT count(*) FROM cf_dead_letter") == 2
