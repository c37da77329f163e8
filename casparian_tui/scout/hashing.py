"""Content hashes of a source's files: read streamed, hashed by worker threads.

`hash_source(db, source, algo)` hashes every live file of the source that
has no current hash for `algo` (new, changed, or never hashed), so hashing a
tree again after an unchanged rescan reads nothing. Threads, not processes:
hashlib releases the GIL while it digests a buffer larger than 2 KiB, and
threads need no pickling of paths or results.

A hash is stored with the size and mtime the file had when it was read
(fstat before and after; a file that changed while being read is reported,
not stored). Results are written in batches, one write transaction each, so a
killed run leaves only whole, correct hashes; the next run fills the rest.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

from casparian_tui.db import Database
from casparian_tui.errors import UsageError
from casparian_tui.scout import hash_catalog
from casparian_tui.scout.pathcodec import decode_name, shown_path
from casparian_tui.scout.sources import Source

ALGOS = ("sha256", "sha1", "md5")
DEFAULT_ALGO = "sha256"
HEX_LENGTHS = {64: "sha256", 40: "sha1", 32: "md5"}
READ_SIZE = 1 << 20  # big reads: hashlib drops the GIL, the syscalls are few
_BATCH_FILES = 500
_BATCH_SECONDS = 1.0
_MAX_ERRORS = 1000


def check_algo(algo: str | None) -> str:
    algo = (algo or DEFAULT_ALGO).strip().lower().replace("-", "")
    if algo not in ALGOS:
        raise UsageError(f"Unknown hash algorithm {algo!r}.", hint=f"Choose one of: {', '.join(ALGOS)}.")
    return algo


def default_workers() -> int:
    return max(2, min(8, os.cpu_count() or 2))


def _us(ns: int) -> int:
    """Nanoseconds to microseconds as the walker stores mtimes (truncated)."""
    return ns // 1000 if ns >= 0 else -((-ns) // 1000)


class ChangedWhileReading(OSError):
    pass


def hash_file(path: str, algo: str) -> tuple[str, int, int]:
    """(hex digest, size, mtime µs) of one file, read in chunks."""
    h = hashlib.new(algo)
    buf = bytearray(READ_SIZE)
    view = memoryview(buf)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        before = os.fstat(fd)
        while True:
            n = os.readv(fd, [buf])
            if not n:
                break
            h.update(view[:n])
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise ChangedWhileReading("the file changed while it was read")
    return h.hexdigest(), before.st_size, _us(before.st_mtime_ns)


@dataclass
class HashProgress:
    source: str
    done: int
    total: int
    bytes_done: int
    elapsed_s: float


@dataclass
class HashResult:
    source: str
    algo: str
    candidates: int = 0
    hashed: int = 0
    bytes: int = 0
    errors: list[dict] = field(default_factory=list)  # {path, error}
    changed_since_scan: int = 0  # hashed, but the catalog's size/mtime is older: rescan to use it
    duration_s: float = 0.0
    status: str = "completed"  # completed | cancelled

    def to_json(self) -> dict:
        return {
            "source": self.source,
            "algo": self.algo,
            "candidates": self.candidates,
            "hashed": self.hashed,
            "bytes": self.bytes,
            "errors": self.errors,
            "changed_since_scan": self.changed_since_scan,
            "duration_s": round(self.duration_s, 3),
            "status": self.status,
        }


def hash_source(
    db: Database,
    source: Source,
    algo: str = DEFAULT_ALGO,
    *,
    workers: int | None = None,
    on_progress: Callable[[HashProgress], None] | None = None,
    batch_files: int = _BATCH_FILES,
    cancel: Callable[[], bool] | None = None,
    on_commit: Callable[[int], None] | None = None,
) -> HashResult:
    """Hash the files of `source` without a current `algo` hash. `on_commit`
    hears the number of hashes stored so far after each write commits."""
    algo = check_algo(algo)
    started = time.monotonic()
    todo = db.read(lambda c: hash_catalog.unhashed_files(c, source.id, algo))
    result = HashResult(source=source.name, algo=algo, candidates=len(todo))
    root = source.root.rstrip("/")
    pending: list[tuple] = []  # (file_id, hash, size, mtime)
    last_flush = time.monotonic()
    last_report = 0.0
    done = 0
    committed = 0

    def flush() -> None:
        nonlocal pending, last_flush, committed
        if pending:
            rows = pending
            db.write("store file hashes", lambda c: hash_catalog.store_hashes(c, source.id, algo, rows))
            pending = []
            committed += len(rows)
            if on_commit:
                on_commit(committed)
        last_flush = time.monotonic()

    def job(item):
        try:
            return item, hash_file(decode_name(f"{root}/{item[1]}"), algo)
        except OSError as exc:  # reported, not fatal
            return item, exc

    it = iter(todo)
    window = (workers or default_workers()) * 4
    with ThreadPoolExecutor(max_workers=workers or default_workers(), thread_name_prefix="cf-hash") as pool:
        running = set()
        try:
            while True:
                while len(running) < window and not (cancel and cancel()):
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    running.add(pool.submit(job, nxt))
                if not running:
                    break
                finished, running = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in finished:
                    done += 1
                    (fid, rel, size, mtime), out = fut.result()
                    if isinstance(out, OSError):
                        if len(result.errors) < _MAX_ERRORS:
                            result.errors.append({"path": shown_path(rel), "error": out.strerror or str(out)})
                        continue
                    digest, got_size, got_mtime = out
                    pending.append((fid, digest, got_size, got_mtime))
                    result.hashed += 1
                    result.bytes += got_size
                    if (got_size, got_mtime) != (size, mtime):
                        result.changed_since_scan += 1
                if len(pending) >= batch_files or time.monotonic() - last_flush >= _BATCH_SECONDS:
                    flush()
                if on_progress and time.monotonic() - last_report >= 0.25:
                    last_report = time.monotonic()
                    on_progress(HashProgress(source.name, done, len(todo), result.bytes, last_report - started))
        except KeyboardInterrupt:
            result.status = "cancelled"
            for fut in running:
                fut.cancel()
        if cancel and cancel():
            result.status = "cancelled"
        flush()
    if result.hashed:  # nothing new hashed: the scan already re-tagged, nothing to redo (a rescan stays cheap)
        db.write("tag files by hash set", lambda c: hash_catalog.after_hashing(c, source.id))
    result.duration_s = time.monotonic() - started
    return result
