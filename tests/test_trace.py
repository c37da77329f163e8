"""CASPARIAN_DB_TRACE: every process appends its actor's timeline to one file."""

import subprocess
import sys

from casparian_tui.db import trace

from conftest import REPO


def test_a_command_writes_its_opens_requests_and_closes(tmp_path, _isolated_home, monkeypatch):
    path = tmp_path / "trace.jsonl"
    monkeypatch.setenv("CASPARIAN_DB_TRACE", str(path))
    proc = subprocess.Popen([sys.executable, "-m", "casparian_tui", "source", "add", str(tmp_path), "--name", "t"],
                            cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    events = trace.read(path)
    mine = [e for e in events if e["pid"] == proc.pid]
    assert mine == events  # nothing from this (pytest) process: the variable is read at import
    kinds = [e["event"] for e in mine]
    assert kinds[0] == "open" and kinds[-1] == "close", kinds
    adds = [e for e in mine if e["event"] == "request" and e["action"] == "add a source"]
    assert len(adds) == 1 and adds[0]["write"] is True and adds[0]["s"] >= 0
    assert all(e["t"] > 1e9 for e in mine)  # wall-clock, so processes' timelines merge

