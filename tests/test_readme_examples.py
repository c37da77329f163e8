"""Every `casparian ...` line in the README's code blocks runs as written, in
order, against the demo corpus (`casparian tui --demo` lays it out), through
a real shell with `~` meaning the test's home. Lines that need a terminal
(`tui`) and the benchmarks are left out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.scout.demo import ensure_demo
from conftest import REPO

_COMMENT = re.compile(r"\s{2,}#\s.*$")
_SKIP = ("casparian tui", "casparian bench")


def readme_commands() -> list[str]:
    """The `casparian` lines of the README's code blocks, but for blocks that
    set up a PostgreSQL server of their own (they need hosts the test lacks)."""
    lines, block = [], None
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if block is not None and not any("CASPARIAN_DB=postgresql" in b for b in block):
                lines.extend(_COMMENT.sub("", b) for b in block
                             if b.startswith("casparian ") and not any(s in b for s in _SKIP))
            block = [] if block is None else None
            continue
        if block is not None:
            block.append(line)
    return lines


def test_the_readme_lists_the_commands_this_test_runs():
    cmds = readme_commands()
    assert len(cmds) >= 12
    assert any(c.startswith("casparian tag ") for c in cmds) and any(c.startswith("casparian untag ") for c in cmds)


@pytest.mark.slow
def test_every_readme_cli_example_runs_against_the_demo(tmp_path, monkeypatch):
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("CASPARIAN_HOME", str(home / ".casparian_flow"))  # what ~ gives the commands below
    with Database(Settings.resolve()) as db:
        assert ensure_demo(db).files_found > 2000
    work = tmp_path / "work"
    work.mkdir()
    (work / "assets").symlink_to(REPO / "assets")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "casparian").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m casparian_tui "$@"\n')
    (bindir / "casparian").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASPARIAN_")}
    env.update(HOME=str(home), PATH=f"{bindir}{os.pathsep}{env['PATH']}", PYTHONPATH=str(REPO))
    for cmd in readme_commands():
        proc = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, (cmd, proc.stderr)
