"""A query result read page by page: what the Query screen and `casparian query --output` hold.

Opening a result runs only its first page (`SELECT * FROM (<q>) LIMIT ?
OFFSET ?`): DuckDB stops reading once the page is full, so a 10,000,000-row
result opens about as fast as a 10-row one. The row count is a separate
request (`count(*)` over the statement) the caller asks for after the first
page is shown, and every other page is fetched when it is wanted (a few are
cached). Each page re-runs the statement up to its offset: cheap for scans
(DuckDB keeps insertion order, so pages are stable), a full re-evaluation
for a sort or an aggregate each time a page is not cached.

Every request goes through the DB actor, so `interrupt()` stops whatever
request of this result is running (the actor's interrupt, plus the scratch
DuckDB's on the SQLite backend).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from casparian_tui.db.connection import Connection
from casparian_tui.outputs import query
from casparian_tui.outputs.query import QueryRefused

PAGE_ROWS = 200
_CACHED_PAGES = 32


@dataclass
class Page:
    index: int
    rows: list[tuple]
    elapsed_s: float


@dataclass
class Frequency:
    column: str
    rows: list[tuple[Any, int, float]]  # value, count, % of all rows
    distinct: int
    total: int
    elapsed_s: float


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ResultSet:
    """One validated read-only statement and the pages of its result fetched so far."""

    def __init__(self, db, sql: str, output_root: Path, params: Sequence = (), page_rows: int = PAGE_ROWS):
        self.db = db
        self.sql = sql.strip().rstrip(";").strip()
        if not self.sql:
            raise QueryRefused("Empty query.")
        self.params = list(params)
        self.output_root = Path(output_root)
        self.page_rows = page_rows
        self.columns: list[str] = []
        self.row_count: int | None = None
        self.elapsed_s = 0.0  # the first page's request, start to rows in hand
        self.engine = ""
        self._kind = ""
        self._pages: OrderedDict[int, list[tuple]] = OrderedDict()
        self._lock = threading.Lock()
        self._running: set = set()
        self._inflight: dict[int, Future] = {}
        self._views = None
        self._scratch = None
        self._catalog_only: bool | None = None  # runs on the catalog engine alone, no outputs

    # ---- requests (each returns a Future; the CLI calls .result(), the TUI awaits) --------
    def open(self) -> Future:
        """Validate, then fetch the first page (sets columns and elapsed_s)."""
        return self._submit(lambda r: self._first_page(r))

    def page(self, index: int) -> Future:
        with self._lock:
            rows = self._pages.get(index)
            if rows is not None:
                self._pages.move_to_end(index)
            inflight = self._inflight.get(index)
        if rows is not None:
            done: Future = Future()
            done.set_result(Page(index, rows, 0.0))
            return done
        if inflight is not None:  # asked for again (e.g. prefetched, then scrolled to): one request
            return inflight
        fut = self._submit(lambda r: self._fetch_page(r, index))
        with self._lock:
            self._inflight[index] = fut
        fut.add_done_callback(lambda _f: self._inflight.pop(index, None))
        return fut

    @property
    def fetching(self) -> bool:
        """A page request is on its way."""
        with self._lock:
            return any(not f.done() for f in self._inflight.values())

    def prefetch(self, index: int) -> None:
        """Fetch page `index` into the cache now, so scrolling to it finds it there."""
        if index >= 0 and (self.row_count is None or index * self.page_rows < self.row_count):
            self.page(index)

    def count(self) -> Future:
        def run(r):
            if self.row_count is None:
                _, rows = r.rows(f"SELECT count(*) FROM (\n{self.sql}\n) AS q", self.params)
                self.row_count = rows[0][0]
            return self.row_count

        return self._submit(run)

    def frequency(self, column: str, limit: int = 100) -> Future:
        if column not in self.columns:
            raise QueryRefused(f"No column {column!r} in this result.")
        col = quote_ident(column)

        def run(r):
            t = time.perf_counter()
            body = (f"SELECT {col} AS value, count(*) AS n, count(*) * 100.0 / sum(count(*)) OVER () AS pct, "
                    f"count(*) OVER () AS distinct_values, sum(count(*)) OVER () AS total "
                    f"FROM (\n{self.sql}\n) AS q GROUP BY 1 ORDER BY n DESC, value LIMIT ?")
            _, rows = r.rows(body, [*self.params, limit])
            distinct = rows[0][3] if rows else 0
            total = int(rows[0][4]) if rows else 0
            return Frequency(column, [(v, n, float(p)) for v, n, p, _, _ in rows], distinct, total,
                             time.perf_counter() - t)

        return self._submit(run)

    def export(self, path: Path, fmt: str | None = None, *, overwrite: bool = False,
               progress: Callable[[int], None] | None = None) -> Future:
        """Write the whole result to `path` (csv, parquet, jsonl); see outputs/export.py."""
        from casparian_tui.outputs import export

        target, fmt = export.check_target(Path(path), fmt, overwrite)
        return self._submit(lambda r: export.write(r.batches(self._stream_sql(), self.params, export.BATCH_ROWS),
                                                   target, fmt, overwrite=overwrite, progress=progress))

    def interrupt(self) -> None:
        """Stop this result's running requests (queued ones never start)."""
        with self._lock:
            running = list(self._running)
        for fut in running:
            fut.interrupt()
        scratch = self._scratch
        if scratch is not None:
            scratch.interrupt()

    def close(self) -> None:
        scratch, self._scratch = self._scratch, None
        if scratch is not None:
            # on the actor thread, after anything of ours still queued
            self.db.submit_read(lambda _c: scratch.close())

    # ---- on the actor thread ---------------------------------------------------------------
    def _submit(self, fn: Callable[[Any], Any]) -> Future:
        def call(conn: Connection):
            runner = self._runner(conn)
            if runner is self._scratch:  # the actor's interrupt (Esc, a signal, shutdown) must reach it
                with conn.interrupting_too(runner):
                    return fn(runner)
            return fn(runner)

        fut = self.db.submit_read(call)
        with self._lock:
            self._running.add(fut)
        fut.add_done_callback(self._forget)
        return fut

    def _forget(self, fut) -> None:
        with self._lock:
            self._running.discard(fut)

    def _runner(self, conn: Connection):
        from casparian_tui.outputs import runners

        if not self._kind:
            self._kind = self._validate(conn)
        if self._views is None:
            self._views = query.output_views(self.output_root)
        if conn.dialect.outputs_in_place:
            self.engine = conn.backend
            return runners.CatalogDuckDB(conn, self._views)
        if self._catalog_only:
            self.engine = conn.backend
            if conn.dialect.own_dialect_queries:
                return runners.CatalogSQLite(conn)
            return runners.CatalogServer(conn)
        if self._scratch is None:
            from casparian_tui.outputs.sqlite_outputs import ScratchDuckDB, stage_catalog

            self._scratch = ScratchDuckDB(self._views, stage_catalog(conn, self.sql))
            self.engine = "duckdb-scratch"
        return self._scratch

    def _validate(self, conn: Connection) -> str:
        if conn.dialect.outputs_in_place:
            return query.check_duckdb(self.sql)
        from casparian_tui.outputs.sqlite_outputs import runs_on_sqlite

        try:
            kind = query.check_duckdb(self.sql)
        except query.QueryFailed:
            if not conn.dialect.own_dialect_queries:
                raise  # only what DuckDB's parser accepts runs there (the server)
            # DuckDB cannot parse it: SQLite's own dialect, over the catalog only
            self._catalog_only = True
            return "SELECT"
        self._catalog_only = runs_on_sqlite(self.sql, conn.table_names())
        return kind

    def _stream_sql(self) -> str:
        return self.sql if self._kind == "EXPLAIN" else f"SELECT * FROM (\n{self.sql}\n) AS q"

    def _first_page(self, r) -> Page:
        t = time.perf_counter()
        if self._kind == "EXPLAIN":  # cannot be wrapped; small by nature
            cols, rows = r.rows(self.sql, self.params)
            self.row_count = len(rows)
        else:
            cols, rows = r.rows(f"SELECT * FROM (\n{self.sql}\n) AS q LIMIT ? OFFSET 0", [*self.params, self.page_rows])
            if len(rows) < self.page_rows:
                self.row_count = len(rows)
        self.columns = cols
        self.elapsed_s = time.perf_counter() - t
        self._keep(0, rows[: self.page_rows] if self._kind != "EXPLAIN" else rows)
        return Page(0, rows, self.elapsed_s)

    def _fetch_page(self, r, index: int) -> Page:
        t = time.perf_counter()
        if self._kind == "EXPLAIN":
            rows: list[tuple] = []
        else:
            _, rows = r.rows(f"SELECT * FROM (\n{self.sql}\n) AS q LIMIT ? OFFSET ?",
                             [*self.params, self.page_rows, index * self.page_rows])
        self._keep(index, rows)
        return Page(index, rows, time.perf_counter() - t)

    def _keep(self, index: int, rows: list[tuple]) -> None:
        with self._lock:
            self._pages[index] = rows
            while len(self._pages) > _CACHED_PAGES:
                self._pages.popitem(last=False)
