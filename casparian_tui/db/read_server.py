"""The holder's side of served reads: other processes' queries on our open DuckDB file.

While this process holds the file read-write, the actor runs a `ReadServer`:
other Casparian processes connect to its owner-only Unix socket
(`db/read_wire.py`), prove they know the key, and send read statements with
their bound parameters. Each connection gets its own cursor of our database
(a separate DuckDB connection on the same instance, usable from its own
thread), so a served read runs beside our writes and sees only what they
have committed: a scan's batches whole or not at all. Only statements the
`casparian query` validator accepts are run, inside a READ ONLY transaction;
everything else is refused.

Before the actor closes the file it stops the server: the record goes first
(no new callers), running statements are interrupted and their callers told
we are closing, so they fall back to taking turns.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import socket
import sys
import threading
import time
from multiprocessing.connection import (
    Client,
    Listener,
    answer_challenge,
    deliver_challenge,
)
from pathlib import Path
from typing import Any, Callable

from casparian_tui.db import read_wire, trace

# How often an idle handler looks whether the server is stopping.
_POLL_S = 0.1
# How long stop() waits for handlers to put their cursors down.
_STOP_JOIN_S = 2.0
# While statements run, look this often whether their callers interrupted them or hung up.
_WATCH_S = 0.02
# Python's GIL switch interval while a caller is connected. A handler blocks a
# dozen times per statement (socket, DuckDB), and each time it waits up to the
# switch interval (default 5 ms) for the GIL back from a busy thread of ours,
# such as a scan's walker: five reads took 748 ms against a spinning thread,
# 58 ms at 0.2 ms, 14 ms against an idle holder.
_SERVING_SWITCH_S = 0.0002
# Statements already found read-only. Readers repeat a few texts (values are
# bound, not in the text), and checking one costs ~0.6-1 ms of the ~2 ms a
# served read takes on an idle holder.
_CHECKED_MAX = 256


class ReadServer:
    """Serves reads for one open read-write DuckDB connection, between start() and stop()."""

    def __init__(self, db_path: Path, command: str):
        self.db_path = db_path
        self.command = command
        self.served = 0  # statements answered; tests and the bench read it
        self._listener: Listener | None = None
        self._address: str | None = None
        self._record: dict = {}  # as published
        self._key = b""
        self._new_cursor: Callable[[], Any] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._handlers: set[threading.Thread] = set()
        self._running: dict[int, tuple[Any, Any]] = {}  # thread ident -> (cursor, caller) while a statement runs
        self._busy = threading.Event()  # set while any statement runs

    @property
    def serving(self) -> bool:
        return self._listener is not None

    def start(self, new_cursor: Callable[[], Any], schema_version: int | None = None) -> bool:
        """Publish and listen; False (and no server) where the socket cannot be used.

        `schema_version`, when given, is published so that callers at that
        version skip checking it over the socket; give it only for a file
        whose version no longer changes while we hold it (see publish_schema).
        """
        if self._listener is not None:
            return True
        self._stopping.clear()
        self._new_cursor = new_cursor
        try:
            read_wire.owner_only_dir(read_wire.serve_dir(self.db_path))
            address = read_wire.socket_path(self.db_path)
            address.unlink(missing_ok=True)  # a dead holder's
            self._listener = Listener(str(address), family="AF_UNIX", backlog=64)
            os.chmod(address, 0o600)
            self._address = str(address)
            self._key = secrets.token_bytes(32)
            self._record = {
                "pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                "socket": self._address, "key": self._key.hex(),
            }
            if schema_version is not None:
                self._record["schema"] = schema_version
            read_wire.write_record(self.db_path, self._record)
        except OSError as exc:  # e.g. a filesystem without Unix sockets: readers take turns
            trace.event("serve", ok=False, why=str(exc))
            self._close_listener()
            return False
        threading.Thread(target=self._accept_loop, args=(self._listener,), name="casparian-read-server",
                         daemon=True).start()
        threading.Thread(target=self._watch_callers, name="casparian-read-watch", daemon=True).start()
        trace.event("serve", ok=True)
        return True

    def publish_schema(self, version: int) -> None:
        """Publish the file's schema version, once our schema check or migration settled it."""
        if self._listener is None or self._record.get("schema") == version:
            return
        self._record["schema"] = version
        try:
            read_wire.write_record(self.db_path, self._record)
        except OSError as exc:  # callers without it check the version over the socket
            trace.event("publish_schema", ok=False, why=str(exc))

    def stop(self) -> None:
        """Unpublish, interrupt what runs, and wait until no cursor is in use."""
        if self._listener is None:
            return
        read_wire.remove_record(self.db_path, os.getpid())
        self._stopping.set()
        self._busy.set()  # wakes the watcher, which then ends
        with self._lock:
            for cursor, _caller in self._running.values():
                cursor.interrupt()
            handlers = list(self._handlers)
        try:  # wake the accept loop
            Client(self._address, family="AF_UNIX").close()
        except OSError:
            pass
        for thread in handlers:
            thread.join(_STOP_JOIN_S)
        self._close_listener()

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.close()  # also removes the socket file
            except OSError:
                pass

    # ---- serving -----------------------------------------------------------------
    def _accept_loop(self, listener: Listener) -> None:
        while not self._stopping.is_set():
            try:
                conn = listener.accept()
            except OSError:
                return
            if self._stopping.is_set():
                conn.close()
                return
            thread = threading.Thread(target=self._handle, args=(conn,), name="casparian-read-handler", daemon=True)
            with self._lock:
                self._handlers.add(thread)
            thread.start()

    def _watch_callers(self) -> None:
        """Interrupt a statement whose caller sent something (an interrupt) or went away."""
        while not self._stopping.is_set():
            self._busy.wait()
            time.sleep(_WATCH_S)
            with self._lock:
                running = list(self._running.values())
                if not running:
                    self._busy.clear()
            for cursor, caller in running:
                try:
                    if caller.poll(0):
                        cursor.interrupt()
                except (OSError, EOFError):
                    cursor.interrupt()

    def _handle(self, conn) -> None:
        with _eager_gil():
            self._serve(conn)

    def _serve(self, conn) -> None:
        cursor = None
        try:
            deliver_challenge(conn, self._key)  # we speak first; a caller that never answers costs a parked thread
            answer_challenge(conn, self._key)
            cursor = self._new_cursor()
            in_tx = False
            while not self._stopping.is_set():
                if not conn.poll(_POLL_S):
                    continue
                request = read_wire.loads(conn.recv_bytes())
                if request == ("interrupt",):
                    continue  # came after its statement had finished: nothing to stop, no reply
                reply, in_tx = self._answer(cursor, request, in_tx, conn)
                conn.send_bytes(read_wire.dumps(reply))
            if not self._stopping.is_set():
                return
            conn.send_bytes(read_wire.dumps(("closing",)))
        except Exception as exc:  # a caller that went away, failed the challenge or sent junk
            trace.event("serve_drop", why=type(exc).__name__)
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except Exception:
                    pass
            conn.close()
            with self._lock:
                self._handlers.discard(threading.current_thread())

    def _answer(self, cursor, request, in_tx: bool, caller) -> tuple[tuple, bool]:
        """The reply to one request, and whether a caller's read transaction is open after it."""
        import duckdb

        kind = request[0] if isinstance(request, tuple) and request else None
        if kind == "begin":
            if not in_tx:
                cursor.execute("BEGIN TRANSACTION READ ONLY").fetchall()
            return ("ok", None), True
        if kind == "end":
            if in_tx:
                cursor.execute("ROLLBACK").fetchall()
            return ("ok", None), False
        if kind not in ("all", "columns", "arrow") or len(request) != 3:
            return ("refused", "Unknown request."), in_tx
        _, sql, params = request
        try:
            _check(sql)
        except Exception as exc:
            return ("refused", getattr(exc, "message", str(exc))), in_tx
        if self._stopping.is_set():
            return ("closing",), in_tx
        me = threading.get_ident()
        with self._lock:
            self._running[me] = (cursor, caller)
            self._busy.set()
        try:
            if not in_tx:
                cursor.execute("BEGIN TRANSACTION READ ONLY").fetchall()
            payload = _run(cursor, kind, sql, list(params))
        except duckdb.InterruptException:
            return (("closing",) if self._stopping.is_set() else ("error", "interrupted", "interrupted")), in_tx
        except duckdb.Error as exc:
            return ("error", type(exc).__name__, str(exc)), in_tx
        finally:
            with self._lock:
                self._running.pop(me, None)
            if not in_tx:  # (after leaving _running: nothing interrupts the rollback)
                try:
                    cursor.execute("ROLLBACK").fetchall()
                except duckdb.Error:
                    pass
        self.served += 1
        return ("ok", payload), in_tx


_eager_lock = threading.Lock()
_eager_count = 0
_saved_switch = 0.0


@contextlib.contextmanager
def _eager_gil():
    """A short switch interval while any caller is connected, the usual one after."""
    global _eager_count, _saved_switch
    with _eager_lock:
        if _eager_count == 0:
            _saved_switch = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved_switch, _SERVING_SWITCH_S))
        _eager_count += 1
    try:
        yield
    finally:
        with _eager_lock:
            _eager_count -= 1
            if _eager_count == 0:
                sys.setswitchinterval(_saved_switch)


@functools.lru_cache(maxsize=_CHECKED_MAX)
def _check(sql: str) -> None:
    """Raises unless `sql` is one read-only statement; only passes are remembered."""
    from casparian_tui.outputs.query import check_duckdb

    check_duckdb(sql)


def _run(cursor, kind: str, sql: str, params: list):
    if kind == "arrow":
        import pyarrow as pa

        table = cursor.sql(sql, params=params or None).to_arrow_table()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()
    result = cursor.execute(sql, params)
    rows = result.fetchall()
    if kind == "columns":
        return [d[0] for d in result.description or []], rows
    return rows
