"""The writer lease: one writing process per database file at a time.

A `filelock` lock on `<db>.lock` is taken before the database is opened
read-write and released after it is closed. While held, `<db>.lock.json`
says who holds it (pid, host, command, since, activity). An OS lock dies with
its process, so `kill -9` never leaves the database locked; a record whose
pid is gone is stale and ignored.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import filelock


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def record_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock.json")


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_holder(db_path: Path) -> dict | None:
    """The live holder's record, or None when nobody (alive, here) holds it."""
    try:
        record = json.loads(record_path(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    if record.get("host") == socket.gethostname() and not pid_alive(record["pid"]):
        return None
    return record


def describe_holder(holder: dict | None) -> str:
    if not holder:
        return "unknown process"
    since = holder.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
    text = f"PID {holder.get('pid')}: {holder.get('command', '?')} (since {when})"
    if holder.get("activity"):
        text += f", {holder['activity']}"
    return text


class WriterLease:
    """Held by the DB actor thread only, around every read-write connection."""

    def __init__(self, db_path: Path, command: str):
        self.db_path = db_path
        self.command = command
        self._lock = filelock.FileLock(str(lock_path(db_path)), thread_local=False)
        self._since: float | None = None
        self._activity = ""
        # set_activity may come from any thread; it must never write a record
        # after release has removed it.
        self._record_lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self, timeout: float) -> bool:
        """Take the lease, waiting up to `timeout` seconds; False if not taken."""
        if self.held:
            return True
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=timeout, poll_interval=0.05)
        except filelock.Timeout:
            return False
        with self._record_lock:
            self._since = time.time()
            self._write_record()
        return True

    def release(self) -> None:
        if not self.held:
            return
        with self._record_lock:
            try:
                record_path(self.db_path).unlink(missing_ok=True)
            finally:
                self._since = None
                self._lock.release(force=True)

    def forget_record(self) -> None:
        if self.held:
            record_path(self.db_path).unlink(missing_ok=True)

    def set_activity(self, activity: str) -> None:
        """What we are doing, for other processes' status lines (any thread)."""
        with self._record_lock:
            self._activity = activity
            if self._since is not None:
                self._write_record()

    def _write_record(self) -> None:
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "since": self._since,
            "activity": self._activity,
        }
        target = record_path(self.db_path)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, target)
