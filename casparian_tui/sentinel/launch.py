"""Start `casparian run` as a detached background process (what the TUI's run key does).

The run is its own process in its own session: quitting the TUI (or a Ctrl-C
or hang-up sent to its terminal) does not stop it, and it takes the database
lease in turns like any other `casparian run`. Its output goes to a log file
under <home>/logs. The database is named through the environment, never on
the command line, so a PostgreSQL password does not show in `ps`.

Progress is read from the jobs in the database, by whoever started it, when
the database's change stamp moves; `RunProgress` turns the parser's job
counts into "done / failed / to go" relative to the counts before the start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from casparian_tui.config import Settings

FINISHED = ("COMPLETED", "FAILED", "CANCELLED")


@dataclass
class BackgroundRun:
    parser: str  # the parser's name, as its jobs carry it
    tag: str
    pid: int
    log: Path
    process: subprocess.Popen = field(repr=False)
    before: dict = field(default_factory=dict)  # the parser's job counts before the start

    def exit_code(self) -> int | None:
        """None while running; reaps the process when it has ended (no database involved)."""
        return self.process.poll()


def run_command(parser_file: Path, tag: str) -> list[str]:
    return [sys.executable, "-m", "casparian_tui", "run", str(parser_file), "--tag", tag]


def start_run(settings: Settings, parser_file: Path, parser: str, tag: str, before: dict,
              *, cwd: Path | None = None) -> BackgroundRun:
    """Start the run and return at once; raises OSError when it cannot be started."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"run-{parser}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    env = dict(os.environ)
    env["CASPARIAN_HOME"] = str(settings.home)
    env["CASPARIAN_BACKEND"] = settings.backend
    env["CASPARIAN_DB"] = settings.db_arg  # not argv: a DSN may hold a password
    env.pop("CASPARIAN_READONLY", None)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            run_command(parser_file.resolve(), tag),
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=cwd or Path.cwd(), env=env, start_new_session=True,
        )
    return BackgroundRun(parser, tag, process.pid, log, process, dict(before))


def progress_text(run: BackgroundRun, counts: dict) -> str:
    """One line for the status bar, from the parser's job counts now and before the start."""
    done = max(counts.get("COMPLETED", 0) - run.before.get("COMPLETED", 0), 0)
    failed = max(counts.get("FAILED", 0) - run.before.get("FAILED", 0), 0)
    to_go = counts.get("QUEUED", 0) + counts.get("RUNNING", 0)
    text = f"run {run.parser} on {run.tag}: {done:,} done"
    if failed:
        text += f", {failed:,} failed"
    return text + f", {to_go:,} to go"
