"""The writer lease, and the whole protocol by which processes share one database file.

DuckDB lets one process open a file read-write and then locks every other
process out, readers included (`IO Error: Could not set lock on file …
Conflicting lock is held in … (PID n)`). So the process that holds the file
read-write answers the others' reads (rule 0), and otherwise Casparian
processes (CLI commands, the TUI, `casparian run`) take turns. The rules are
implemented in `db/actor.py` (the one thread per process that owns the
connection: queue, serving requests, interrupting), `db/shared_file.py`
(lease, markers, probe, open/close, the read server and served connections),
`db/sharing.py` (the decisions, on an injected clock), this module,
`db/turns.py` (waiter markers) and `db/read_server.py` / `db/read_wire.py` /
`db/remote_connection.py` (served reads):

0. The holder answers reads. While a process has a DuckDB file open
   read-write it serves other Casparian processes' reads over an owner-only
   Unix socket: `<db>.serve/holder.json` (folder 0700, file 0600) names its
   pid, command, socket (0600; in that folder, or in an owner-only runtime
   folder when the path is too long for a socket) and a random key; callers
   prove they know the key with `multiprocessing.connection`'s HMAC challenge.
   Each caller gets a cursor of the holder's open database, so its reads run
   beside the holder's writes and see only committed transactions (a scan's
   batches whole). The holder runs only what the `casparian query` validator
   accepts, inside a READ ONLY transaction. A reader tries the holder first;
   no record, a dead pid, a dead socket, no answer within 1 s, a holder that
   dies or closes mid-request, or a statement it will not run: the reader runs
   that request on its own connection, taking turns as below. A reader that
   is waiting for the file switches to a holder that begins to serve, so
   served readers leave no marker and never make a writer step aside. Writes
   from other processes always take the turns. `CASPARIAN_SERVE_READS=0`
   turns serving off; SQLite never serves.

1. Open per burst, close when idle. The actor opens the file when a request
   arrives and closes it once its queue has been quiet for the idle grace
   (`Settings.idle_grace_s`, 0.3 s; `CASPARIAN_IDLE_GRACE`). While idle with
   the file open it looks for waiters every 50 ms (rule 4).
2. Writers hold the lease. Before opening read-write the actor takes a
   `filelock` lock on `<db>.lock` (this module, `WriterLease`) and writes
   `<db>.lock.json`: pid, host, command line, since, and the current activity
   (`Database.set_activity`, e.g. `scanning host1: 120,000 files found`).
   It closes the file first and then releases the lease, removing the record.
   The OS lock dies with its process, so `kill -9` never leaves the database
   locked; the record it leaves behind names a dead pid on this host and is
   ignored (`read_holder`) until the next writer overwrites it.
3. Readers open read-only (DuckDB) and never take the lease; a process that
   holds the lease reads through its read-write connection. SQLite readers
   and writers need none of this (WAL, `BEGIN IMMEDIATE`), but SQLite writers
   still take the lease so status lines can say who is writing.
4. Waiters announce themselves. A process that cannot get in (the lease is
   taken, or DuckDB's file lock is held) creates `<db>.waiters/<host>.<pid>.w`
   (a writer) or `.r` (a reader) (`turns.WaitMarker`) and removes it once in
   or on giving up. A holder looks at that folder (one scandir) between
   requests and while idle:
   - a reader with nothing queued closes at once;
   - a writer steps aside at its next request boundary (a scan or run works in
     batches, each one request and one transaction) once it has had the file
     for its turn since it last opened it, `sharing.TURN_S` (1.25 s) — or
     sooner, but not before `sharing.MIN_TURN_S` (0.5 s), once its waiters'
     waits (the ages of their markers) add up to a turn. A lone waiter waits
     about a turn; ten arriving together are let in after ~0.5 s instead of
     each waiting a whole turn. It then stays away until the markers are gone
     (the waiters are in) or `MAX_YIELD_S` (1 s) passes, and reopens as soon
     as the waiters let go.
   Stepping aside costs the writer about 0.1 s (a close with its checkpoint,
   0.02-0.12 s; the waiter's own work; a reopen), so the turn sets the trade,
   measured with `python -m casparian_tui.bench.coexist_probe --files 1000000`
   (a reader that keeps asking during a 1M-file scan): at 1.25 s the scan
   took +8.6 % and +11.2 % (reader p95 1.47 s and 1.54 s), and `casparian
   bench coexist` gave +11.6 % (p95 1.49 s) on a quiet machine, +19.2 % while
   the disk was busy writing back a freshly made test tree. Before waiters
   stopped connecting blindly (rule 5) the same runs cost +13-28 %: each
   waiter then spent ~0.1 of a core on failed connects (ten: half the
   machine). Longer turns (1.5 s) cost less but push
   a lone reader's p95 towards 2 s; checkpointing ahead, inside the turn, was
   tried and measured worse (one more checkpoint per turn).
   DuckDB's read locks are shared, so a reader that arrives while a writer
   waits would slip in beside the current reader; once the writer has waited
   `READERS_JOIN_S` (0.3 s) a newcomer waits instead (marked `.r`) until the
   writer is in, for at most `MAX_DEFER_S` (2 s). A stream of readers cannot
   keep a writer out.
   Markers of dead processes on this host are swept by whoever looks.
5. Retry, then explain. Waiting for DuckDB's lock watches it with `F_GETLK`
   (`db/lock_probe.py`: microseconds, where a failed connect costs ~20 ms of
   CPU) every 5 ms and connects only when it looks free; "locked" is trusted,
   with one safety connect every 5 s. Ten waiters that instead retried the
   connect with backoff used 4.5 CPU-s in a 4 s wait, slowing the writer they
   waited for; watching, they use ~0.3 CPU-s. Should the probe say "free"
   five times in one wait while connects still fail (a filesystem that cannot
   show the lock), that wait falls back to connecting with jittered backoff
   (10 ms growing to 100 ms). Taking the lease polls. Both go on up to
   `--wait` seconds (default 30). Then the command fails with exit code 3 and
   `Database is locked by another process: <path> — held by PID n: <command>
   (since …)` and what to do (`--wait N`, `--read-only`, stop PID n). With no
   live record (e.g. a `duckdb` shell holds the file) it names the pid DuckDB
   reports and that process's command line (also when this process took the
   lease and then met a reader's lock: it never names itself).
   A read of ours on our own read-only connection that has run
   `sharing.READ_OVERSTAY_S` (2.5 s) while a writer waits is interrupted; the
   file is handed over and the read asked again (of the writer's read server,
   or after it), so one long query cannot keep writers out.
   Any OSError writing beside the database (lock file, record, home folder:
   a read-only filesystem, a full disk, permissions) is one error naming the
   folder and the reason, with the hint `--read-only`.
6. Read-only mode (`--read-only`, `CASPARIAN_READONLY=1`, the TUI switch) never
   takes the lease and refuses every write with exit code 4, naming the action.
   `Database.request_write_access()` (TUI Settings, `w`) leaves it once the
   lease can be had.
7. Status: `db/status.py` turns the actor's own state and the record into the
   TUI's `writer` / `read-only` / `waiting for lock (PID n: …)` / `reading
   through PID n: …` (reads served by that process) / `locked by PID n: …`
   plus the other process's activity, without touching the database.

Queue work shared by several `casparian run` processes is coordinated by the
database itself, not by the lease: planning skips files with a QUEUED or
RUNNING job for the same parser build, claims are fenced, and each run claims
a share of what is queued and waits for jobs another run holds (see
`sentinel/selection.py` and `sentinel/runner.py`).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path


from casparian_tui.errors import DatabaseError, DatabaseLocked


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
        self._lock = None  # a filelock.FileLock once we first try; a served reader never does
        self._since: float | None = None
        self._activity = ""
        # set_activity may come from any thread; it must never write a record
        # after release has removed it.
        self._record_lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._lock is not None and self._lock.is_locked

    def acquire(self, timeout: float) -> bool:
        """Take the lease, waiting up to `timeout` seconds; False if not taken."""
        if self.held:
            return True
        import filelock  # ~15 ms: not for a process whose reads are served

        if self._lock is None:
            self._lock = filelock.FileLock(str(lock_path(self.db_path)), thread_local=False)
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire(timeout=timeout, poll_interval=0.05)
        except filelock.Timeout:
            return False
        except OSError as exc:  # permissions, a read-only filesystem, a full disk...
            raise cannot_write(self.db_path.parent, exc) from exc
        try:
            with self._record_lock:
                self._since = time.time()
                self._write_record()
        except OSError as exc:
            self._since = None
            self._lock.release(force=True)
            raise cannot_write(self.db_path.parent, exc) from exc
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


def cannot_write(folder: Path, exc: OSError) -> DatabaseError:
    """The one-line error for any OSError writing beside the database: where, why, what to do."""
    reason = (exc.strerror or str(exc) or type(exc).__name__).lower()
    return DatabaseError(
        f"Cannot write in {folder}: {reason}.",
        hint="Check the folder's permissions, or point CASPARIAN_HOME / --db somewhere writable "
        "(--read-only reads without writing).",
    )


def locked_error(path: Path, holder: dict | None, pid: int | None = None) -> DatabaseLocked:
    """The exit-3 error: who holds `path` (our record, or the pid DuckDB names) and what to do."""
    if holder is None and pid is None:
        holder = read_holder(path)
    if holder and holder.get("pid") == os.getpid():
        holder = None  # our own record: we took the lease, and someone else has the file
    if holder:
        who = f"held by {describe_holder(holder)}"
        stop_pid = holder.get("pid")
    elif pid is not None:
        name = process_name(pid)
        who = f"held by PID {pid} ({name})" if "casparian" in name.lower() else \
            f"held by PID {pid} ({name}, not a Casparian process)"
        stop_pid = pid
    else:
        who = "held by an unknown process"
        stop_pid = None
    stop = f"stop PID {stop_pid}" if stop_pid else "stop the other process"
    return DatabaseLocked(
        f"Database is locked by another process: {path} — {who}",
        hint=f"Wait longer with --wait N, use --read-only for queries, or {stop}.",
        holder=holder or ({"pid": pid} if pid else None),
    )


def process_name(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "unknown command"
    parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    return " ".join(parts)[:120] or "unknown command"
