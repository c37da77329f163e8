"""A run started from the real TUI (Jobs, n) runs as its own process: it completes, and outlives the TUI."""

from __future__ import annotations

import json
import time

import pytest

from conftest import run_cli

pytestmark = pytest.mark.tmux

PARSER = "assets/parsers/csv_rows.py"


def tagged_corpus(tui, tmp_path, n: int = 4) -> None:
    corpus = tmp_path / "evidence"
    corpus.mkdir()
    for i in range(n):
        (corpus / f"t{i}.csv").write_text("a,b\n1,2\n3,4\n")
    assert run_cli(tui.home, "scan", str(corpus), "--quiet").returncode == 0
    assert run_cli(tui.home, "rule", "add", "*.csv", "--tag", "pick").returncode == 0


def start_run_from_jobs(tui) -> None:
    tui.start()
    tui.ready("Discover")
    tui.keys("2")
    tui.wait_for("dead letter")
    tui.keys("n")
    tui.wait_for("Run a parser over a tag")
    tui.fill(PARSER)
    tui.keys("Tab")
    tui.type("pick")
    tui.wait_for("pick")
    tui.keys("Enter")
    tui.wait_for("Started csv_rows", timeout=30)


def test_a_run_started_in_jobs_completes_and_the_tui_says_so(tui, tmp_path):
    tagged_corpus(tui, tmp_path)
    start_run_from_jobs(tui)
    tui.wait_for("Run finished", timeout=120)  # the notice (its text wraps in the toast)
    tui.wait_for("completed 4", timeout=30)  # the Jobs counts, refreshed by the change stamp


def test_quitting_the_tui_does_not_stop_its_run(tui, tmp_path):
    tagged_corpus(tui, tmp_path, n=6)
    start_run_from_jobs(tui)
    tui.keys("q")
    deadline = time.monotonic() + 30
    while "Casparian Flow" in tui.screen():  # the TUI has exited (its screen is gone)
        assert time.monotonic() < deadline, "the TUI did not quit"
        time.sleep(0.1)
    deadline = time.monotonic() + 120  # "it never came" guard: a fresh process on a busy machine
    while True:
        out = run_cli(tui.home, "jobs", "--json")
        if out.returncode == 0 and json.loads(out.stdout)["counts"].get("COMPLETED") == 6:
            break
        assert time.monotonic() < deadline, out.stdout + out.stderr
        time.sleep(0.5)
