"""Probe: `casparian run` alone, and with a real `casparian tui` open on Jobs beside it.

    python -m casparian_tui.bench.tui_coexist_probe [--files 3000] [--pairs 3]

The TUI is the real command in its own process, on a pseudo-terminal (no
tmux needed), on the same home as the run and showing Jobs: the screen that
follows the run's jobs while they complete. Pairs are interleaved (alone,
then with the TUI) so a machine that slows down mid-run affects both alike.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

from casparian_tui.bench.queue_probe import run_files

_READY_S = 60.0  # a TUI that has not drawn by then is broken, not slow


class RealTUI:
    """`casparian tui` on a pseudo-terminal of `cols`×`rows`, its output drained so it never blocks."""

    def __init__(self, home: Path, cols: int = 120, rows: int = 40):
        self.home = home
        self.size = (cols, rows)
        self._seen = bytearray()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._master = -1

    def __enter__(self) -> "RealTUI":
        self.home.mkdir(parents=True, exist_ok=True)
        master, slave = pty.openpty()
        cols, rows = self.size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, CASPARIAN_HOME=str(self.home), TERM="xterm-256color")
        self._proc = subprocess.Popen([sys.executable, "-m", "casparian_tui", "tui"], stdin=slave, stdout=slave,
                                      stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self._master = master
        threading.Thread(target=self._drain, name="tui-drain", daemon=True).start()
        self.wait_for(b"Casparian Flow")
        return self

    def _drain(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self._master], [], [], 0.5)
                if ready:
                    chunk = os.read(self._master, 65536)
                    if not chunk:
                        return
                    with self._lock:
                        # keep a tail: enough to find a marker split across reads
                        self._seen = (self._seen + chunk)[-262_144:]
            except OSError:  # the TUI exited and the pty closed
                return

    def wait_for(self, marker: bytes) -> None:
        deadline = time.monotonic() + _READY_S
        while True:
            with self._lock:
                if marker in self._seen:
                    self._seen.clear()
                    return
            if self._proc.poll() is not None:
                raise RuntimeError(f"casparian tui exited ({self._proc.returncode}) before showing {marker!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"casparian tui never showed {marker!r}")
            time.sleep(0.05)

    def press(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    def __exit__(self, *exc) -> None:
        try:
            self.press("q")
            self._proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        finally:
            os.close(self._master)


def run_beside_tui(folder: Path, files: int, workers: int = 2) -> dict:
    """`casparian run` over `files` small CSVs while `casparian tui` shows Jobs on the same database."""
    folder.mkdir(parents=True, exist_ok=True)
    with RealTUI(folder / "home_duckdb") as tui:  # run_files runs with CASPARIAN_HOME=<folder>/home_duckdb
        tui.press("2")
        tui.wait_for("2 Jobs".encode())
        return run_files(folder, files, workers, "duckdb")


def pairs(scratch: Path, files: int, count: int) -> list[tuple[float, float]]:
    """(run alone, run beside the TUI) in seconds, `count` interleaved pairs, fresh homes each time."""
    out = []
    for i in range(count):
        alone = Path(tempfile.mkdtemp(dir=scratch, prefix=f"alone{i}_"))
        beside = Path(tempfile.mkdtemp(dir=scratch, prefix=f"tui{i}_"))
        out.append((run_files(alone, files, 2, "duckdb")["seconds"], run_beside_tui(beside, files)["seconds"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=3_000)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for alone, beside in pairs(Path(tmp), args.files, args.pairs):
            print(json.dumps({"alone_s": alone, "with_tui_s": beside,
                              "slowdown_pct": round(100 * (beside / alone - 1), 1)}))


if __name__ == "__main__":
    main()
