"""`casparian run` as real processes: workers die with it, parsers cannot touch its stdout or hang it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from waiting import wait_for

REPO = Path(__file__).resolve().parent.parent

SPINNER = """
import os, pathlib
NAME = "spinner"
VERSION = "1"
def parse(path):
    part = pathlib.Path({marker!r} + ".part")  # renamed whole: the test reads the pid only once it is there
    part.write_text(str(os.getpid()))
    part.rename({marker!r})
    while True:
        pass
"""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, None when it is gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = text.rsplit(")", 1)[1].split()[:2]
    return None if state in ("Z", "X") else (state, int(ppid))


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                children.setdefault(st[1], []).append(int(entry))
    out, todo = set(), [root]
    while todo:
        for kid in children.get(todo.pop(), []):
            out.add(kid)
            todo.append(kid)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


# A run driven from a thread, as the TUI drives a backtest: the forkserver it
# starts cannot use the parent-death signal, so the workers' own watch counts.
IN_A_THREAD = """
import sys, threading
from pathlib import Path
from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.sentinel import selection
from casparian_tui.sentinel.plugin import load_parser
from casparian_tui.sentinel.runner import RunOptions, Runner
parser, data, backend, out = sys.argv[1:]
db = Database(Settings.resolve(backend=backend))
spec = load_parser(parser)
db.write("plan", lambda c: selection.plan_jobs(
    c, spec, selection.register_paths(c, selection.expand_paths([data])), False))
t = threading.Thread(target=lambda: Runner(db, spec, RunOptions(output_root=Path(out), workers=2, timeout_s=600)).run())
t.start()
t.join()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["cli", "thread"])
def test_kill_9_of_run_takes_its_workers_forkserver_and_tracker_along(backend, tmp_path, how):
    marker = tmp_path / "spinning"
    parser = tmp_path / "spinner.py"
    parser.write_text(SPINNER.format(marker=str(marker)))
    data = tmp_path / "a.txt"
    data.write_text("x\n")
    if how == "cli":
        argv = ["-m", "casparian_tui", "run", str(parser), str(data), "--backend", backend, "--workers", "2",
                "--timeout", "600", "--json"]
    else:
        argv = ["-c", IN_A_THREAD, str(parser), str(data), backend, str(tmp_path / "out")]
    run = subprocess.Popen([sys.executable, *argv], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(marker.exists, timeout=60), "the parser never started"
        worker = int(marker.read_text())
        family = descendants(run.pid)
        assert worker in family and len(family) >= 3  # workers, the forkserver, the resource tracker
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    gone = wait_for(lambda: not any(_stat(p) for p in family), timeout=30, interval=0.1)
    left = {p: _cmdline(p) for p in family if _stat(p)}
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert gone, f"processes outlived the killed run: {left}"


CHATTY = """
import os, sys
NAME = "chatty"
VERSION = "1"
print("hello from import")
def parse(path):
    print("stdout line for", os.path.basename(path))
    print("stderr line", file=sys.stderr)
    os.write(1, b"raw fd write\\n")
    if path.endswith("bad.txt"):
        raise ValueError("bad file")
    return [{"n": 1}]
"""


def test_parser_output_is_kept_per_job_and_off_run_json(cli, backend, tmp_path):
    parser = tmp_path / "chatty.py"
    parser.write_text(CHATTY)
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text("x\n")
    bad.write_text("y\n")
    res = cli("run", str(parser), str(good), str(bad), "--json", "--backend", backend, "--workers", "2",
              "--max-attempts", "1")
    assert res.returncode == 1, res.stderr
    summary = json.loads(res.stdout)  # nothing but the JSON on stdout
    assert (summary["completed"], summary["failed"]) == (1, 1)
    jobs = json.loads(cli("jobs", "--json", "--backend", backend).stdout)["jobs"]
    by_file = {Path(j["file"]).name: j["id"] for j in jobs}
    for name in ("good.txt", "bad.txt"):
        shown = cli("job", "show", str(by_file[name]), "--json", "--backend", backend)
        tail = json.loads(shown.stdout)["output_tail"]
        assert f"stdout line for {name}" in tail and "stderr line" in tail and "raw fd write" in tail
        text = cli("job", "show", str(by_file[name]), "--backend", backend).stdout
        assert "raw fd write" in text
    assert "hello from import" not in res.stdout


@pytest.mark.parametrize("body, what", [
    ("raise SystemExit(0)", "SystemExit"),
    ("import os; os._exit(0)", "exit code 0"),
    ("while True: pass", "did not finish loading"),
])
def test_parser_that_exits_or_hangs_at_import_fails_the_run(cli, tmp_path, body, what):
    parser = tmp_path / "quits.py"
    parser.write_text(f"NAME = 'quits'\nVERSION = '1'\n{body}\ndef parse(path):\n    return []\n")
    data = tmp_path / "a.txt"
    data.write_text("x\n")
    res = cli("run", str(parser), str(data), "--timeout", "3", "--workers", "1")
    assert res.returncode == 1, (res.stdout, res.stderr)
    first = res.stderr.strip().splitlines()[0]
    assert "quits.py" in first and what in first and "Traceback" not in res.stderr
