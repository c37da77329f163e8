"""A cheap "the database changed" signal, for views in other processes.

After each committed write transaction a writer stamps a small file beside
the database (`<db>.changed`) with the time, its PID and a counter. A view
(the TUI) reads those few bytes on a timer and queries the database only when
they differ from what it last saw: polling the database instead would reopen
it (a DuckDB file is closed whenever its process is idle) and take turns with
the process writing it.

The stamp is fixed-width and rewritten in place, so it is one small write per
commit. A reader that meets a half-written stamp sees it differ and reloads
once more than needed; it never misses a change, because every stamp differs
from every earlier one (time, PID and counter). It is best effort: a folder
the writer cannot write to costs views their refresh, never the write itself.

A server is written from other hosts, which never stamp our file: there each
write transaction also sends a NOTIFY on `CHANNEL` (delivered at commit), and
`ServerWatch` counts them as the stamp. A view reads either through the same
`read()` of the watch `Database.change_watch()` gives it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

SUFFIX = ".changed"
_STAMP_BYTES = 64
CHANNEL = "cf_changed"


def signal_path(db_path: os.PathLike | str) -> Path:
    return Path(f"{os.fspath(db_path)}{SUFFIX}")


def read(db_path: os.PathLike | str) -> bytes | None:
    """The current stamp (None when no writer has stamped yet): one small read, no database."""
    try:
        with open(signal_path(db_path), "rb") as fh:
            return fh.read(_STAMP_BYTES)
    except OSError:
        return None


class ChangeSignal:
    """The writing side, one per Database; `bump` after each commit."""

    def __init__(self, db_path: os.PathLike | str):
        self.path = signal_path(db_path)
        self._fd: int | None = None
        self._count = 0
        self._lock = threading.Lock()

    def bump(self) -> None:
        with self._lock:
            self._count += 1
            stamp = f"{time.time_ns():020d} {os.getpid():>10d} {self._count:>12d}\n".encode()
            try:
                if self._fd is not None and os.fstat(self._fd).st_nlink == 0:  # removed or replaced
                    os.close(self._fd)
                    self._fd = None
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
                os.pwrite(self._fd, stamp, 0)
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
                self._fd = None


class FileWatch:
    """The reading side beside a database file: `read()` is the stamp's bytes."""

    def __init__(self, db_path: os.PathLike | str):
        self.db_path = db_path

    def read(self) -> bytes | None:
        return read(self.db_path)


class ServerWatch:
    """The reading side on a server: `read()` counts the NOTIFYs on CHANNEL seen so far.

    Never blocks: each call collects the answer of the previous check (a
    request to the DB actor that reads what the server already sent on the
    open connection, no round trip) and queues the next one. The first check
    LISTENs, so a change shows at most two calls after it committed.
    """

    def __init__(self, db):
        self.db = db
        self.count = 0
        self._pending = None
        self._lock = threading.Lock()

    def read(self) -> int:
        with self._lock:
            fut = self._pending
            if fut is not None and not fut.done():
                return self.count
            if fut is not None and fut.exception() is None and fut.result():
                self.count += 1
            self._pending = self.db.submit_read(lambda c: c.wait_notified(CHANNEL, 0))
            return self.count
