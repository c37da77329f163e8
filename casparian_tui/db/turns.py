"""Taking turns on one database file: how a waiting process makes itself known.

A process that cannot get in (DuckDB's file lock, or the writer lease) drops a
marker file `<db>.waiters/<host>.<pid>` and removes it once it is in or gives
up. Holders look at that folder between requests — one `scandir` of a tiny
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
from pathlib import Path

from casparian_tui.db.lease import pid_alive


def waiters_dir(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".waiters")


def _me() -> str:
    return f"{socket.gethostname()}.{os.getpid()}"


class WaitMarker:
    """Announces this process as waiting for `db_path` while active."""

    def __init__(self, db_path: Path):
        self._path = waiters_dir(db_path) / _me()
        self.active = False

    def announce(self) -> None:
        if self.active:
            return
        try:
            self._path.parent.mkdir(exist_ok=True)
            self._path.touch()
            self.active = True
        except OSError:
            pass  # an unwritable folder only costs politeness, never correctness

    def withdraw(self) -> None:
        if not self.active:
            return
        self.active = False
        try:
            self._path.unlink(missing_ok=True)
        except OSError:
            pass


def others_waiting(db_path: Path) -> bool:
    try:
        entries = os.scandir(waiters_dir(db_path))
    except OSError:
        return False
    me = _me()
    host = socket.gethostname()
    found = False
    with entries:
        for entry in entries:
            name = entry.name
            if name == me:
                continue
            entry_host, _, pid = name.rpartition(".")
            if entry_host == host and pid.isdigit() and not pid_alive(int(pid)):
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass
                continue
            found = True
    return found
