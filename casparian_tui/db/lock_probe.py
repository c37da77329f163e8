"""Is another process holding DuckDB's lock on a file? Asked without trying to open it.

A failed `duckdb.connect` costs about 20 ms (an instance is built before the
lock is tried), so a waiter that polls by connecting either burns a core or
sleeps through the moment the holder lets go. DuckDB locks the database file
with POSIX record locks (a write lock for read-write, a read lock for
read-only), so `F_GETLK` answers the same question in microseconds without
taking anything. The answer only says when to try; the connect still decides.

The probe descriptor is opened once per file and never closed on purpose:
closing any descriptor of a file drops every POSIX lock this process holds
on it, including DuckDB's own lock when this process also has the file open.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from pathlib import Path

# struct flock on Linux/x86-64 and aarch64: short type, short whence, off_t
# start, off_t len, pid_t pid, padding.
_FLOCK = "hhqqi4x"
_fds: dict[tuple[str, int], int] = {}
_fds_lock = threading.Lock()


def _probe_fd(path: Path) -> int | None:
    try:
        inode = os.stat(path).st_ino
    except OSError:
        return None
    key = (str(path), inode)  # a file replaced by rename is a new file to watch
    with _fds_lock:
        fd = _fds.get(key)
        if fd is None:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
            _fds[key] = fd
        return fd


def conflicting_pid(path: Path, write: bool) -> int | None:
    """The pid of a process whose lock stops us opening `path` (for writing
    if `write`, else read-only), or None when nothing is in the way — or
    when the filesystem cannot tell, in which case the caller just tries."""
    fd = _probe_fd(path)
    if fd is None:
        return None
    want = fcntl.F_WRLCK if write else fcntl.F_RDLCK
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(_FLOCK, want, os.SEEK_SET, 0, 0, 0))
    except OSError:
        return None
    kind, _whence, _start, _length, pid = struct.unpack(_FLOCK, answer)
    return None if kind == fcntl.F_UNLCK else pid
