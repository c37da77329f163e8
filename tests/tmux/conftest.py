"""Drive the real `casparian tui` in a tmux session: send keys, read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tmux


class TmuxTui:
    def __init__(self, home: Path, name: str):
        self.home = home
        self.name = name
        # A tmux server of its own per test: with the shared default server, a
        # test's new-session could reach the server the previous test's
        # kill-session was shutting down ("server exited unexpectedly", seen in CI).
        self._tmux = ["tmux", "-L", name]

    def start(self, *args: str, width: int = 130, height: int = 40, program: str | None = None,
              cwd: Path = REPO) -> None:
        """Run `casparian tui ARGS`: this checkout's, or an installed `program` (then not from the checkout)."""
        env = {
            "CASPARIAN_HOME": str(self.home),
            "HOME": str(self.home.parent),
            "TERM": "xterm-256color",
        }
        if program is None:
            env["PYTHONPATH"] = str(REPO)
            program = f"{sys.executable} -m casparian_tui"
        exports = " ".join(f"{k}={v!r}" for k, v in env.items())
        cmd = f"cd {str(cwd)!r} && env {exports} {program} tui {' '.join(args)}; sleep 30"
        subprocess.run(
            [*self._tmux, "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), cmd], check=True
        )

    def ready(self, text: str, timeout: float = 60.0) -> str:
        """Wait for the first frame that shows `text`, then let the terminal settle.

        Keys typed within a few hundred ms of the first frame are lost while the
        app is still talking to the terminal (seen reproducibly here, with nothing
        on screen to wait on), so this one wait is a fixed pause.
        """
        screen = self.wait_for(text, timeout)
        time.sleep(0.7)
        return screen

    def keys(self, *keys: str, literal: bool = False) -> None:
        args = [*self._tmux, "send-keys", "-t", self.name]
        if literal:
            args.append("-l")
        subprocess.run([*args, *keys], check=True)

    def type(self, text: str) -> None:
        self.keys(text, literal=True)

    def fill(self, text: str, tries: int = 3) -> None:
        """Replace the focused input's text and wait until the screen shows it."""
        shown = text[-40:]
        for _ in range(tries):
            self.keys("C-u")
            self.type(text)
            try:
                self.wait_for(shown, timeout=3)
                return
            except AssertionError:
                continue
        self.wait_for(shown, timeout=3)

    def screen(self) -> str:
        out = subprocess.run([*self._tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return out.stdout

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        """The screen once `text` is on it, and the frame that drew it is whole.

        Under load tmux can capture a frame half written (the start of a line
        drawn, its end not yet): once `text` shows, capture again until two
        captures agree (a screen that keeps changing, e.g. a progress line, is
        returned as last seen after a second).
        """
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return self._settled(text, screen)
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen after {timeout}s; screen was:\n{screen}")
            time.sleep(0.1)

    def _settled(self, text: str, screen: str) -> str:
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            time.sleep(0.05)
            again = self.screen()
            if again == screen:
                return screen
            if text in again:
                screen = again
        return screen

    def stop(self) -> None:
        subprocess.run([*self._tmux, "kill-server"], capture_output=True)


@pytest.fixture
def tui(tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (.ci/run installs it: apt-get install -y tmux)")
    session = TmuxTui(tmp_path / ".casparian_flow", f"cf-{uuid.uuid4().hex[:8]}")
    yield session
    session.stop()


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CASPARIAN_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "casparian_tui", *args], capture_output=True, text=True, env=env, cwd=REPO)
