"""Workflow tests with the real binary in a real terminal (tmux)."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.tmux


def make_corpus(root, n=25):
    for i in range(n):
        folder = root / f"case{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"evidence_{i:03d}.{'csv' if i % 2 else 'log'}").write_text(f"line {i}\n")


def test_discover_add_source(tui, tmp_path):
    corpus = tmp_path / "evidence"
    make_corpus(corpus)
    tui.start()
    tui.ready("No sources yet")
    tui.keys("s")
    tui.wait_for("Add a source folder")
    tui.fill(str(tmp_path / "missing"))
    tui.keys("Enter")
    tui.wait_for("No such folder")
    tui.fill(str(corpus))
    tui.keys("Enter")
    tui.wait_for("25 files found")
    tui.wait_for("evidence · 25 files")


def test_discover_scan(tui, tmp_path):
    corpus = tmp_path / "evidence"
    make_corpus(corpus, 40)
    assert run_cli(tui.home, "source", "add", str(corpus)).returncode == 0
    tui.start()
    tui.ready("evidence · 0 files")
    tui.keys("r")  # the only source: no need to pick it
    tui.wait_for("40 files found")
    screen = tui.wait_for("case0/evidence_000.log")
    assert "files 1–40 of 40" in screen


def test_discover_create_rule(tui, tmp_path):
    corpus = tmp_path / "evidence"
    make_corpus(corpus, 30)
    assert run_cli(tui.home, "scan", str(corpus), "--quiet").returncode == 0
    tui.start()
    tui.ready("files 1–30 of 30")
    tui.keys("/")
    tui.fill("case1/*.csv")
    tui.wait_for("5 files match")
    tui.keys("Enter", "n")  # at once, as a person types: the n must reach the table, not the box
    tui.wait_for("New tagging rule")
    tui.type("case1csv")
    tui.keys("Enter")
    tui.wait_for("case1/*.csv → case1csv created")
    out = run_cli(tui.home, "files", "--tag", "case1csv", "--json", "--read-only")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 5


def test_parser_bench_create(tui):
    tui.start("--demo")
    tui.ready("demo · 2,503 files", timeout=90)
    tui.keys("3")
    tui.wait_for("csv_rows")
    tui.keys("Enter")  # pick csv_rows: the form fills, the list keeps the focus
    tui.wait_for("csv_rows picked")
    tui.keys("Tab", "Tab", "Tab")  # into the form: parser file, tag, sample size
    tui.type("20")
    # Back to the list (Shift+Tab: an Esc sent together with b would reach the app as Alt+b),
    # then b backtests, as the README's key table says.
    tui.keys("BTab", "BTab", "BTab", "b")
    # Waits for the whole phrase: under load tmux can show a frame half written,
    # "100% passed" drawn and the rest of its line not yet.
    tui.wait_for("100% passed (20/20 files)", timeout=60)
    tui.keys("p")
    tui.wait_for("Proposed: csv_rows.csv_rows v1")
    tui.keys("a")
    tui.wait_for("Approved: csv_rows.csv_rows v1")


def test_jobs_view(tui, tmp_path):
    corpus = tmp_path / "evidence"
    corpus.mkdir()
    for i in range(6):
        (corpus / f"t{i}.csv").write_text("a,b\n1,2\n3,4\n")
    (corpus / "broken.csv").write_bytes(b"a,b\n\xff\xfe\x00bad\n")
    run = run_cli(tui.home, "run", "assets/parsers/csv_rows.py", *map(str, sorted(corpus.iterdir())), "--json", "--workers", "1")
    assert run.returncode in (0, 1), run.stderr
    summary = json.loads(run.stdout)
    tui.start()
    tui.ready("Discover")
    tui.keys("2")
    screen = tui.wait_for(f"completed {summary['completed']}")
    assert "csv_rows" in screen


def test_pattern_box_keeps_every_key_in_order(tui, tmp_path):
    corpus = tmp_path / "evidence"
    make_corpus(corpus, 30)
    assert run_cli(tui.home, "scan", str(corpus), "--quiet").returncode == 0
    tui.start()
    tui.ready("files 1–30 of 30")
    tui.keys("/")
    tui.fill("**/*.csv")
    tui.wait_for("15 files match")
    for _ in range(3):
        # editing keys and characters in one burst, as a fast typist sends them
        tui.keys("BSpace", "BSpace", "BSpace", "l", "o", "g")
        tui.wait_for("15 files match **/*.log")
        tui.keys("BSpace", "BSpace", "BSpace", "c", "s", "v")
        tui.wait_for("15 files match **/*.csv")
