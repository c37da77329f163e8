"""The walker when GNU find is there: `find -printf` in a child process.

A Python `scandir` walk spends ~7 µs of CPU per file in the interpreter
(an `lstat`, the DirEntry, the appends), which is what kept scans at 2.5x
`find`. Here `find` walks (in C, on the other core) and prints one
NUL-terminated record per entry; each batch of records is cut into columns
with Arrow kernels, ~1 µs per file. Same contract as `walker.Walker`: Arrow
batches of `BATCH_SCHEMA` on `out`, then `WalkDone` (or the exception);
`stats`, `complete`, `cancel`.

Exactness: a pipe carries the raw bytes of every name (`-printf` quotes
nothing when not writing to a terminal) and NUL cannot occur in a name, so
names are exact, non-UTF-8 ones included, and are encoded as the scandir
walker does. `-P` never follows symlinks below the root, `-H` follows a
symlinked root as the scandir walker does. Unreadable folders come back as
`find:` lines on stderr (C locale, C escapes), parsed back to the exact
folder; a line that cannot be placed is recorded against the root, so the
scan then marks nothing deleted rather than guess.

Used when there are no excludes (those prune folders while walking, with
the project's glob dialect; the scandir walker keeps them) and
`CASPARIAN_WALKER` is not `python`.
"""

from __future__ import annotations

import codecs
import functools
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pyarrow as pa
import pyarrow.compute as pc

from casparian_tui.errors import CasparianError
from casparian_tui.scout.pathcodec import ESC, encode_name
from casparian_tui.scout.walker import (
    BATCH_SCHEMA,
    DEFAULT_BATCH_ROWS,
    FLUSH_INTERVAL_S,
    ExcludeFn,
    WalkDone,
    Walker,
    WalkStats,
    extensions,
    hand_over,
)

# Files: type, device, inode, size, mtime, path (last: it may hold spaces).
# Folders: type and path (progress shows it). Anything else: its type.
_PRINTF = [
    "(", "-type", "f", "-printf", "f %D %i %s %T@ %P\\0", ")",
    "-o", "(", "-type", "d", "-printf", "d %P\\0", ")",
    "-o", "-printf", "%y\\0",
]  # fmt: skip
_READ_BYTES = 1 << 20
_PIPE_BYTES = 1 << 20  # fewer wake-ups than the 64 KB default pipe
_POLL_S = 0.02  # how often the parsing side re-checks cancel
_CHUNKS_AHEAD = 16  # read but not yet parsed, at most _READ_BYTES each
_ERROR_LINE = re.compile(rb"^\S*find: '((?:[^'\\]|\\.)*)': (.*)$")  # "/usr/bin/find: 'DIR': why"
_GONE = b"No such file or directory"
_NS = 1_000_000_000


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
    """Walk `root` with GNU find; put `pa.Table` batches (BATCH_SCHEMA) on `out`."""

    def __init__(self, root: str, out: queue.Queue, cancel: threading.Event, *, batch_rows: int = DEFAULT_BATCH_ROWS):
        super().__init__(name="casparian-walker", daemon=True)
        self.root = root
        self.out = out
        self.cancel = cancel
        self.batch_rows = batch_rows
        self.exclude = None
        self.stats = WalkStats()
        self.complete = False
        self._root_bytes = os.fsencode(root).rstrip(b"/") or b"/"
        self._drainer: threading.Thread | None = None

    def run(self) -> None:
        try:
            if self._walk():
                self.complete = not self.cancel.is_set()
            self._put(WalkDone())
        except BaseException as exc:  # handed to the consumer, never lost
            self._put(exc)

    def _walk(self) -> bool:
        """True when find ran to its end."""
        os.stat(self.root)  # a missing root is the caller's error, as with scandir
        self.stats.dirs = 1  # the root
        with tempfile.TemporaryFile() as err:  # a pipe could fill and stall find
            proc = subprocess.Popen(
                [gnu_find() or "find", "-H", self.root, "-mindepth", "1", *_PRINTF],
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "LC_ALL": "C"},
                # Ctrl+C in a terminal must reach the scan, which cancels and
                # stops find itself; find dying first would read as a failure.
                start_new_session=True,
            )
            finished = False
            try:
                finished = self._read(proc)
            finally:
                if not finished and proc.poll() is None:  # cancelled or failed: stop the walk
                    proc.kill()
                proc.wait()
                if self._drainer is not None:  # it reads the pipe: close that only after it ends
                    self._drainer.join()
                proc.stdout.close()
            if not finished:
                return False
            err.seek(0)
            self._record_errors(err.read())
        if proc.returncode not in (0, 1):  # 1: some entries could not be read
            raise CasparianError(f"find stopped with status {proc.returncode} while walking {self.root}.")
        return True

    def _read(self, proc: subprocess.Popen) -> bool:
        """Cut find's output into batches; False when cancelled first.

        A second thread drains the pipe, so find never waits while a batch
        is being parsed (it did, with one thread: 0.65 s instead of 0.45 s
        for 100K files), and only _CHUNKS_AHEAD chunks run ahead of parsing.
        """
        chunks: queue.Queue = queue.Queue(maxsize=_CHUNKS_AHEAD)
        self._drainer = threading.Thread(target=self._drain, args=(proc.stdout.fileno(), chunks), daemon=True)
        self._drainer.start()
        buf = bytearray()
        pending = 0  # records in buf
        last_flush = time.monotonic()
        while True:
            if self.cancel.is_set():
                return False
            try:
                chunk = chunks.get(timeout=_POLL_S)
            except queue.Empty:
                chunk = None
            if chunk:
                buf += chunk
                pending += chunk.count(b"\0")
            end = chunk == b""
            if end or pending >= self.batch_rows or (pending and time.monotonic() - last_flush >= FLUSH_INTERVAL_S):
                last = buf.rfind(b"\0")  # records end with a NUL: cut after the last whole one
                if last >= 0:
                    self._emit(bytes(buf[:last]))
                    del buf[: last + 1]
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
            hand_over(chunks, self.cancel, chunk)
            if not chunk or self.cancel.is_set():
                return

    def _emit(self, data: bytes) -> None:
        files = self._parse(data)
        for start in range(0, files.num_rows, self.batch_rows):
            if self.cancel.is_set():
                return
            self._put(files.slice(start, self.batch_rows))

    def _parse(self, data: bytes) -> pa.Table:
        recs = pc.split_pattern(pa.array([data], pa.binary()), b"\0").values
        kind = pc.binary_slice(recs, 0, 1)
        is_file = pc.equal(kind, b"f")
        is_dir = pc.equal(kind, b"d")
        n_files = pc.sum(is_file).as_py() or 0
        n_dirs = pc.sum(is_dir).as_py() or 0
        n_links = pc.sum(pc.equal(kind, b"l")).as_py() or 0
        st = self.stats
        st.dirs += n_dirs
        st.symlinks += n_links
        st.special += len(recs) - n_files - n_dirs - n_links
        if n_dirs:
            st.current_dir = encode_name(bytes(recs.filter(is_dir)[-1].as_py()[2:]))
        table = file_batch(recs.filter(is_file))
        st.files += table.num_rows
        return table

    def _record_errors(self, text: bytes) -> None:
        for line in text.splitlines():
            m = _ERROR_LINE.match(line)
            if m is None:  # not a folder we can place: protect the whole source
                self.stats.errors.append({"path": "", "error": line.decode("utf-8", "replace")})
                continue
            path, message = codecs.escape_decode(m.group(1))[0], m.group(2)
            rel = _relative(path, self._root_bytes)
            if message == _GONE and rel:
                continue  # vanished during the walk: it is gone
            self.stats.errors.append({"path": rel or "", "error": message.decode("utf-8", "replace")})

    def _put(self, item) -> None:
        hand_over(self.out, self.cancel, item)


def _relative(path: bytes, root: bytes) -> str:
    """Encoded path of `path` below `root`; '' for the root or a path outside it."""
    prefix = root if root.endswith(b"/") else root + b"/"
    return encode_name(path[len(prefix):]) if path.startswith(prefix) else ""


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # a smaller pipe only means more wake-ups


def file_batch(recs: pa.BinaryArray) -> pa.Table:
    """BATCH_SCHEMA rows from `f DEV INO SIZE MTIME PATH` records."""
    if not len(recs):
        return BATCH_SCHEMA.empty_table()
    parts = pc.split_pattern(recs, b" ", max_splits=5)
    dev, ino, size, mtime, path = (pc.list_element(parts, k) for k in range(1, 6))
    rel = _encoded_paths(path)
    # "/rel" always has a slash: split once at the last one into parent and name.
    halves = pc.split_pattern(pc.binary_join_element_wise("", rel, "/"), "/", max_splits=1, reverse=True)
    parent = pc.utf8_slice_codeunits(pc.list_element(halves, 0), 1)
    name = pc.list_element(halves, 1)
    uid = pc.binary_join_element_wise(dev.cast(pa.string()), ino.cast(pa.string()), ":")
    return pa.Table.from_arrays(
        [rel, parent, name, extensions(name), size.cast(pa.string()).cast(pa.int64()), _mtime_us(mtime), uid],
        schema=BATCH_SCHEMA,
    )


def _mtime_us(stamps: pa.Array) -> pa.Array:
    """`%T@` ("SECONDS.NNNNNNNNN0", seconds floored, fraction positive) to µs,
    truncated like the scandir walker's st_mtime_ns // 1000 toward zero."""
    halves = pc.split_pattern(stamps.cast(pa.string()), ".", max_splits=1)
    sec = pc.list_element(halves, 0).cast(pa.int64())
    frac = pc.utf8_rpad(pc.utf8_slice_codeunits(pc.list_element(halves, 1), 0, 9), 9, "0").cast(pa.int64())
    return pc.divide(pc.add(pc.multiply(sec, _NS), frac), 1000)


def _encoded_paths(raw: pa.BinaryArray) -> pa.StringArray:
    """Paths as stored text (see walker._encoded_array): valid UTF-8 without
    our escape character is stored as is; other batches go one by one."""
    try:
        text = raw.cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array([encode_name(p) for p in raw.to_pylist()], pa.string())
    if pc.any(pc.match_substring(text, ESC)).as_py():
        return pa.array([encode_name(p) for p in raw.to_pylist()], pa.string())
    return text
