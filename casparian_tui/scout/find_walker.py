"""The walker when GNU find is there: several `find -printf` in child processes.

A Python `scandir` walk spends ~7 µs of CPU per file in the interpreter
(an `lstat`, the DirEntry, the appends), which kept scans at 2.5x `find`.
Here find walks (in C) and prints one record per entry; each batch of
records becomes columns with Arrow kernels (scout/find_records.py). The
top of the tree is listed here first, and the folders below it are split
among `jobs` finds at once (one find per core, up to four), so a walk can
take less time than one find: records of every find arrive as batches on
the same queue. Same contract as `walker.Walker`: `pa.Table` batches of
`BATCH_SCHEMA` on `out`, then `WalkDone` (or the exception that stopped
it); `stats`, `complete`, `cancel`.

`-P`: no symlink below the root is followed; the root itself is, as with
scandir. Each find runs in its own session, so a terminal's Ctrl+C reaches
only the scan, which cancels and stops them. A find that dies (a signal)
fails the walk, so the scan deletes nothing.

Used when there are no excludes (those prune folders while walking, with
the project's glob dialect; the scandir walker keeps them) and
`CASPARIAN_WALKER` is not `python`.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

import pyarrow as pa
import pyarrow.compute as pc

from casparian_tui.errors import CasparianError
from casparian_tui.scout import find_records as records
from casparian_tui.scout.pathcodec import encode_name
from casparian_tui.scout.walker import DEFAULT_BATCH_ROWS, FLUSH_INTERVAL_S, ExcludeFn, WalkDone, Walker, WalkStats

_READ_BYTES = 1 << 20
_PIPE_BYTES = 1 << 20  # fewer wake-ups than the 64 KB default pipe
_POLL_S = 0.02  # how often a waiting thread re-checks for a stop
_CHUNKS_AHEAD = 8  # read from one find but not yet parsed, _READ_BYTES each at most
_MIN_PIECES = 16  # list the top of the tree until there are this many folders to hand out
_MAX_LISTED_DEPTH = 3
_GROUPS_PER_JOB = 4  # pieces go out in this many groups per find, taken as finds end
_MAX_ARG_BYTES = 64 * 1024  # per find command line
# With the listed folders as start points: only what is right in them, not folders.
_NON_FOLDERS = ["-mindepth", "1", "-maxdepth", "1", "!", "-type", "d"]


@functools.lru_cache(maxsize=1)
def gnu_find() -> str | None:
    """Path of a GNU find (the only one with -printf), or None."""
    path = shutil.which("find")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return path if b"GNU findutils" in out else None


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def make_walker(
    root: str,
    out: queue.Queue,
    cancel: threading.Event,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    exclude: ExcludeFn | None = None,
) -> threading.Thread:
    """The fastest walker that can do this walk (see the module docstring)."""
    choice = os.environ.get("CASPARIAN_WALKER", "")
    if choice == "find" and gnu_find() is None:
        raise CasparianError("CASPARIAN_WALKER=find, but there is no GNU find on PATH.", hint="Unset it.")
    if exclude is None and choice != "python" and gnu_find() is not None:
        return FindWalker(root, out, cancel, batch_rows=batch_rows)
    return Walker(root, out, cancel, batch_rows=batch_rows, exclude=exclude)


class FindWalker(threading.Thread):
    """Walk `root` with GNU finds; put `pa.Table` batches (BATCH_SCHEMA) on `out`."""

    def __init__(
        self,
        root: str,
        out: queue.Queue,
        cancel: threading.Event,
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        jobs: int | None = None,
    ):
        super().__init__(name="casparian-walker", daemon=True)
        self.root = root
        self.out = out
        self.cancel = cancel
        self.batch_rows = batch_rows
        self.jobs = jobs or default_jobs()
        self.exclude = None
        self.stats = WalkStats()
        self.complete = False
        self._failed = threading.Event()  # one find failed: the others stop
        self._failure: BaseException | None = None
        self._lock = threading.Lock()  # stats, _failure and the pool, from several finds' threads
        # Files parsed but not yet handed out, from every find: batches go out
        # full (each costs the database a commit, and a rescan's match reads
        # the whole catalog once per batch), or when the oldest has waited
        # FLUSH_INTERVAL_S (a slow disk still shows progress), or at the end.
        self._pool: list[pa.Table] = []
        self._pool_rows = 0
        self._pool_since = 0.0

    def run(self) -> None:
        try:
            self._walk()
            self.complete = not self._stopped()
            self._offer(self.out, WalkDone())
        except BaseException as exc:  # handed to the consumer, never lost
            self._offer(self.out, exc)

    def _stopped(self) -> bool:
        return self.cancel.is_set() or self._failed.is_set()

    # ---- the walk ----------------------------------------------------------
    def _walk(self) -> None:
        root = os.fsencode(self.root)
        os.stat(root)  # a missing root is the caller's error, as with scandir
        listed, pieces = self._list_top(root)
        work: queue.SimpleQueue = queue.SimpleQueue()
        for group in _arg_groups(listed, 1):  # the non-folders right in the listed folders
            work.put((_NON_FOLDERS, group))
        for group in _arg_groups(pieces, self.jobs * _GROUPS_PER_JOB):  # everything in and below these
            work.put(([], group))
        runners = [threading.Thread(target=self._runner, args=(root, work), daemon=True) for _ in range(self.jobs)]
        for t in runners:
            t.start()
        for t in runners:
            t.join()
        if self._failure is not None and not self.cancel.is_set():
            raise self._failure
        self._hand_out(self._take(None, final=True))

    def _list_top(self, root: bytes) -> tuple[list[bytes], list[bytes]]:
        """List the top levels here until there are _MIN_PIECES folders below
        them: (the listed folders, the folders for the finds), as ./rel paths."""
        listed: list[bytes] = []
        frontier = [b"."]
        for _ in range(_MAX_LISTED_DEPTH):
            below: list[bytes] = []
            for rel in frontier:
                try:
                    with os.scandir(os.path.join(root, rel)) as it:
                        below += [os.path.join(rel, e.name) for e in it if e.is_dir(follow_symlinks=False)]
                except OSError as exc:  # as the scandir walker: the folder is an error, the walk goes on
                    self.stats.errors.append({"path": _stored(rel), "error": exc.strerror or str(exc)})
                    continue
                listed.append(rel)
                self.stats.dirs += 1
            frontier = below
            if len(frontier) >= _MIN_PIECES or not frontier:
                break
        return listed, frontier

    def _runner(self, root: bytes, work: queue.SimpleQueue) -> None:
        try:
            while not self._stopped():
                try:
                    options, start = work.get_nowait()
                except queue.Empty:
                    return
                self._find(root, start, options)
        except BaseException as exc:
            with self._lock:
                self._failure = self._failure or exc
            self._failed.set()

    # ---- one find ----------------------------------------------------------
    def _find(self, root: bytes, start: list[bytes], options: list[str]) -> None:
        cmd = [gnu_find() or "find", "-P", *start, *options, "(", *records.PRINTF, ")"]
        with tempfile.TemporaryFile() as err:  # a pipe could fill and stall find
            proc = subprocess.Popen(
                cmd,
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "LC_ALL": "C"},
                start_new_session=True,  # Ctrl+C reaches the scan, which stops find
            )
            chunks: queue.Queue = queue.Queue(maxsize=_CHUNKS_AHEAD)
            # A second thread drains the pipe, so find never waits while a
            # batch is parsed (with one thread, 100K files took 0.65 s, not 0.45).
            drainer = threading.Thread(target=self._drain, args=(proc.stdout.fileno(), chunks), daemon=True)
            drainer.start()
            finished = False
            try:
                finished = self._read(chunks)
            finally:
                if not finished and proc.poll() is None:
                    proc.kill()
                proc.wait()
                while drainer.is_alive():  # it reads the pipe: close that only after it ends
                    _empty(chunks)  # it may be waiting for room
                    drainer.join(_POLL_S)
                proc.stdout.close()
            if not finished:
                return
            err.seek(0)
            errors = records.error_entries(err.read())
        if proc.returncode not in (0, 1):  # 1: some entries could not be read
            raise CasparianError(f"find stopped with status {proc.returncode} while walking {self.root}.")
        with self._lock:
            self.stats.errors += errors

    def _read(self, chunks: queue.Queue) -> bool:
        """Cut find's output into batches; False when stopped first."""
        buf = bytearray()
        pending = 0  # records in buf
        last_flush = time.monotonic()
        while True:
            if self._stopped():
                return False
            try:
                chunk = chunks.get(timeout=_POLL_S)
            except queue.Empty:
                chunk = None
                self._hand_out(self._take(None))  # the pool may have waited long enough
            if chunk:
                buf += chunk
                pending += chunk.count(b"\0")
            end = chunk == b""
            if end or pending >= self.batch_rows or (pending and time.monotonic() - last_flush >= FLUSH_INTERVAL_S):
                last = buf.rfind(b"\0")  # records end with a NUL: cut after the last whole one
                if last >= 0:
                    with memoryview(buf) as view:
                        data = bytes(view[: last + 1])  # one copy
                    del buf[: last + 1]
                    self._emit(data)
                pending = 0
                last_flush = time.monotonic()
            if end:
                return True

    def _drain(self, fd: int, chunks: queue.Queue) -> None:
        _grow_pipe(fd)
        while True:
            try:
                chunk = os.read(fd, _READ_BYTES)
            except OSError:
                chunk = b""
            self._offer(chunks, chunk)
            if not chunk or self._stopped():
                return

    def _emit(self, data: bytes) -> None:
        recs = records.split_records(data)
        kind = records.kinds(recs)
        is_file, is_dir = pc.equal(kind, b"f"), pc.equal(kind, b"d")
        n_files = pc.sum(is_file).as_py() or 0
        n_dirs = pc.sum(is_dir).as_py() or 0
        n_links = pc.sum(pc.equal(kind, b"l")).as_py() or 0
        files = records.file_batch(recs.filter(is_file))
        with self._lock:
            st = self.stats
            st.dirs += n_dirs
            st.symlinks += n_links
            st.special += len(recs) - n_files - n_dirs - n_links
            st.files += n_files
            if n_dirs:
                st.current_dir = records.folder_path(recs.filter(is_dir)[-1].as_py())
        self._hand_out(self._take(files))

    def _take(self, files: pa.Table | None, final: bool = False) -> list[pa.Table]:
        """Add `files` to the pool; the batches due to go out now."""
        with self._lock:
            if files is not None and files.num_rows:
                if not self._pool:
                    self._pool_since = time.monotonic()
                self._pool.append(files)
                self._pool_rows += files.num_rows
            if not self._pool_rows:
                return []
            due = final or time.monotonic() - self._pool_since >= FLUSH_INTERVAL_S
            if self._pool_rows < self.batch_rows and not due:
                return []
            table = pa.concat_tables(self._pool).combine_chunks()
            cut = table.num_rows if due else table.num_rows - table.num_rows % self.batch_rows
            rest = table.slice(cut)
            self._pool = [rest] if rest.num_rows else []
            self._pool_rows = rest.num_rows
            self._pool_since = time.monotonic()
        return [table.slice(start, min(self.batch_rows, cut - start)) for start in range(0, cut, self.batch_rows)]

    def _hand_out(self, batches: list[pa.Table]) -> None:
        for batch in batches:
            if self._stopped():
                return
            self._offer(self.out, batch)

    def _offer(self, q: queue.Queue, item) -> None:
        """Put on a bounded queue; once stopped, only if there is room (the
        reading side may have stopped reading)."""
        while not self._stopped():
            try:
                q.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue
        try:
            q.put_nowait(item)
        except queue.Full:
            pass


def _stored(rel: bytes) -> str:
    """Stored form of a ./rel path ('' for the root)."""
    return "" if rel == b"." else encode_name(rel[2:])


def _arg_groups(paths: list[bytes], groups: int) -> list[list[bytes]]:
    """`paths` dealt into about `groups` lists (neighbours apart, so big
    neighbouring subtrees spread), none longer than _MAX_ARG_BYTES."""
    if not paths:
        return []
    n = max(1, min(groups, len(paths)))
    dealt = [paths[i::n] for i in range(n)]
    out = []
    for group in dealt:
        current: list[bytes] = []
        size = 0
        for p in group:
            if current and size + len(p) + 1 > _MAX_ARG_BYTES:
                out.append(current)
                current, size = [], 0
            current.append(p)
            size += len(p) + 1
        out.append(current)
    return out


def _empty(q: queue.Queue) -> None:
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # a smaller pipe only means more wake-ups

