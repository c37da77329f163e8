"""The Query screen (5) with the real binary in a real terminal: run, see rows, export, stop a long query."""

from __future__ import annotations

import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_cli

pytestmark = pytest.mark.tmux

GROUPED = "SELECT level, count(*) AS n FROM outputs.log_lines_log_lines GROUP BY 1 ORDER BY 1"
LONG = "SELECT count(*) AS c FROM range(100000000000) a WHERE a.range % 7 = 3"


def make_outputs(home):
    folder = home / "output" / "log_lines" / "1.0" / "log_lines"
    folder.mkdir(parents=True)
    levels = ["INFO", "WARN", "ERROR", "INFO"]
    pq.write_table(pa.table({"level": [levels[i % 4] for i in range(4000)],
                             "line": pa.array(range(1, 4001), pa.int64())}), folder / "part-1.parquet")


def editor_text(screen: str) -> str:
    """The editor's text as shown (wrapped lines joined, whitespace collapsed)."""
    parts = []
    for line in screen.splitlines():
        if "││" in line:
            inner = line.split("││", 1)[1].rsplit("│", 1)[0]
            parts.append(inner[4:])  # the line-number gutter (" 1  "; wrapped lines: spaces)
    return " ".join(" ".join(parts).split())


def type_query(tui, sql: str) -> None:
    """Replace the editor's text with `sql` and run it.

    F7 selects all, so typing replaces the text. A key can be lost on its
    way in (seen with F7 right after a screen's first build, and right after
    Esc), so the editor is read back from the screen and the text retyped
    until it holds exactly `sql`.
    """
    want = " ".join(sql.split())
    for _ in range(5):
        tui.keys("F7")
        tui.type(sql)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if editor_text(tui.screen()) == want:
                tui.keys("F5")
                return
            time.sleep(0.1)
    raise AssertionError(f"the editor never showed only {sql!r}; screen was:\n{tui.screen()}")


@pytest.mark.parametrize("read_only", [False, True], ids=["writer", "read_only"])
def test_query_run_and_export(tui, tmp_path, read_only):
    make_outputs(tui.home)
    assert run_cli(tui.home, "query", "SELECT 1").returncode == 0  # creates the database
    tui.start(*(["--read-only"] if read_only else []))
    tui.ready("1 Discover")
    tui.keys("5")
    tui.wait_for("5 Query")
    type_query(tui, GROUPED)
    screen = tui.wait_for("3 rows")
    assert "INFO" in screen and "2000" in screen and "WARN" in screen
    # export: Tab leaves the editor for the results, e asks for the path
    target = tmp_path / "levels.csv"
    tui.keys("Tab")
    tui.wait_for("e Export")  # the footer shows the grid's keys once it has the focus
    tui.keys("e")
    tui.wait_for("Export the result")
    tui.type(str(target))
    tui.keys("Enter")
    tui.wait_for("rows written to")
    assert duckdb.sql("SELECT level, n FROM read_csv(?) ORDER BY 1", params=[str(target)]).fetchall() == [
        ("ERROR", 1000), ("INFO", 2000), ("WARN", 1000)]
    # a second export to the same file asks first; Esc leaves the file as it was
    before = target.read_bytes()
    tui.keys("e")
    tui.wait_for("Export the result")
    tui.type(str(target))
    tui.keys("Enter")
    tui.wait_for("Press Enter again to overwrite")
    tui.keys("Escape")
    assert target.read_bytes() == before


def test_long_query_stops_on_escape(tui, tmp_path):
    assert run_cli(tui.home, "query", "SELECT 1").returncode == 0
    tui.start()
    tui.ready("1 Discover")
    tui.keys("5")
    tui.wait_for("5 Query")
    type_query(tui, LONG)
    tui.wait_for("running")
    tui.keys("Escape")
    tui.wait_for("interrupted", timeout=30)  # the query alone runs for minutes
    type_query(tui, "SELECT 42 AS answer")
    tui.wait_for("1 row")
