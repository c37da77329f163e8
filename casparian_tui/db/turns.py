"""Taking turns on one database file: how a waiting process makes itself known.

A process that cannot get in (DuckDB's file lock, or the writer lease) drops a
marker file `<db>.waiters/<host>.<pid>.<r|w>` (reader or writer) and removes
it once it is in or gives up. Holders look at that folder between requests — one `scandir` of a tiny
folder, microseconds — and give the file up when someone is there: a reader
right after its burst, a writer at its next batch boundary once it has had
its turn (about a second), because closing a DuckDB file costs a checkpoint.
Markers of dead processes on this host are stale and swept.

The whole protocol (lease, record, turns, retries, messages) is described in
one place: the docstring of `db/lease.py`.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from casparian_tui.db.lease import pid_alive


def waiters_dir(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".waiters")


def _me() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


class WaitMarker:
    """Announces this process as waiting for `db_path` while active."""

    def __init__(self, db_path: Path):
        self._dir = waiters_dir(db_path)
        self._path: Path | None = None

    def announce(self, writer: bool) -> None:
        if self._path is not None:
            return
        path = self._dir / f"{_me()}.{'w' if writer else 'r'}"
        try:
            self._dir.mkdir(exist_ok=True)
            path.touch()
            self._path = path
        except OSError:
            pass  # an unwritable folder only costs politeness, never correctness

    def withdraw(self) -> None:
        path, self._path = self._path, None
        if path is None:
            return
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def waiter_ages(db_path: Path, writers_only: bool = False) -> list[float]:
    """How long (seconds) each other live process has been waiting for this
    database (writers only, if `writers_only`). A marker's mtime is when its
    process began to wait."""
    try:
        entries = os.scandir(waiters_dir(db_path))
    except OSError:
        return []
    me = _me()
    host = socket.gethostname()
    now = time.time()
    ages = []
    with entries:
        for entry in entries:
            who, _, role = entry.name.rpartition(".")
            if who == me or role not in ("r", "w"):
                continue
            entry_host, _, pid = who.rpartition(".")
            if entry_host == host and pid.isdigit() and not pid_alive(int(pid)):
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass
                continue
            if role == "r" and writers_only:
                continue
            try:
                # clamped: another host's clock may be off
                ages.append(min(max(now - entry.stat().st_mtime, 0.0), 60.0))
            except OSError:
                continue  # withdrawn while we looked
    return ages


def others_waiting(db_path: Path, writers_only: bool = False, for_at_least: float = 0.0) -> bool:
    """Is another live process waiting for this database (a writer, if
    `writers_only`; one that has waited `for_at_least` seconds, if given)?"""
    return any(age >= for_at_least for age in waiter_ages(db_path, writers_only))
