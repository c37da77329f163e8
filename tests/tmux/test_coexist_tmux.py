"""The real `casparian tui` in tmux while a real `casparian scan` runs in another process (issue 6, test 2)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from casparian_tui.scout.testtree import make_tree

from conftest import REPO, run_cli

pytestmark = pytest.mark.tmux

# `casparian scan`, with small batches so it commits often and lasts a few
# seconds on a tree that is quick to make (the default is 32,768 rows).
SMALL_BATCH_CLI = """
import sys
from casparian_tui.scout import scanner
scanner.Scanner.__init__.__kwdefaults__["batch_rows"] = int(sys.argv[1])
from casparian_tui.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def test_tui_answers_and_names_a_cli_scan_in_another_process(tui, tmp_path):
    n = 60_000
    tree = tmp_path / "tree"
    make_tree(tree, n, seed=3)
    assert run_cli(tui.home, "source", "list").returncode == 0  # the database exists before the UI starts
    tui.start()
    tui.ready("No sources yet")
    env = dict(os.environ, CASPARIAN_HOME=str(tui.home))
    scan = subprocess.Popen([sys.executable, "-c", SMALL_BATCH_CLI, "100", "scan", str(tree), "--json"],
                            cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        try:
            # the pane can be narrower than asked for (80 columns seen here), so
            # the holder's command may be cut; its pid is always there ("locked by
            # PID n:" until the TUI reads, then "reading through PID n:", served by the scan)
            screen = tui.wait_for(f"PID {scan.pid}:", timeout=30)
        except AssertionError:
            scan.kill()
            raise AssertionError((scan.returncode, *scan.communicate()))
        # the live preview queries the catalog the scan is filling
        tui.keys("/")
        tui.fill("*.CSV")  # retypes if the keys were lost (the placeholder shows *.csv, so upper case)
        screen = tui.wait_for("files match *.CSV", timeout=10)
        first = int(re.search(r"([\d,]+) files match", screen).group(1).replace(",", ""))
        out, err = scan.communicate(timeout=120)
        assert scan.returncode == 0, err
        # Whether the answer came mid-scan depends on this machine's speed; that reads
        # are answered during a scan is asserted by test_coexist.py and test_coexist_tui.py.
        assert 0 <= first <= n
        screen = tui.wait_for("· writer", timeout=10)  # the other process is gone; the bar says so
        assert f"PID {scan.pid}" not in screen
    finally:
        if scan.poll() is None:
            scan.kill()
