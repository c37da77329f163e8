"""PostgreSQL connections (psycopg 3): the shared backend for many hosts.

Services write `?` placeholders; they become psycopg's `%s` here (outside
string literals and quoted names). The connection runs in autocommit mode and
`transaction()` issues BEGIN/COMMIT itself, so a read is `BEGIN READ ONLY`
when the connection is read-only.
"""

from __future__ import annotations

import contextlib
import itertools
from functools import lru_cache
from typing import Iterator

import pyarrow as pa

from casparian_tui.db.connection import Connection, Params
from casparian_tui.db.dialect import POSTGRES
from casparian_tui.errors import CasparianError, DatabaseError

_stage_ids = itertools.count()

PG_TYPES = {
    pa.string(): "TEXT", pa.large_string(): "TEXT", pa.int64(): "BIGINT", pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE PRECISION", pa.bool_(): "BOOLEAN",
}
# information_schema types -> the DuckDB names the transfer and checksums speak.
_CANONICAL = {"bigint": "BIGINT", "integer": "INTEGER", "text": "VARCHAR", "boolean": "BOOLEAN",
              "double precision": "DOUBLE", "character varying": "VARCHAR"}


def load_psycopg():
    try:
        import psycopg
    except ImportError:
        raise CasparianError(
            "The PostgreSQL backend needs psycopg.", hint="pip install 'casparian-flow[postgres]'"
        ) from None
    return psycopg


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """`?` -> `%s` and `%` -> `%%`, except inside '…', "…" and -- comments."""
    out, i, n = [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:
                end = sql.find(ch, end + 2)
            end = n - 1 if end == -1 else end
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
            continue
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end == -1 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        out.append("%s" if ch == "?" else "%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


def _numeric_loader(psycopg):
    """sum() of BIGINT is NUMERIC in PostgreSQL; our schema has no decimals, so give ints (or floats)."""
    from psycopg.types.numeric import NumericLoader

    class IntegralNumeric(NumericLoader):
        def load(self, data):
            value = super().load(data)
            return int(value) if value == value.to_integral_value() else float(value)

    return IntegralNumeric


_CSV_CHUNK_ROWS = 50_000


def _csv_safe(data: pa.Table) -> bool:
    """Whether Arrow's CSV of `data` reads back exactly under COPY … (FORMAT csv).

    It does for these types: NULL is an empty field, every text is quoted
    ('' too, and a text `\\.` is then no end-of-data marker).
    """
    return all(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
               or pa.types.is_floating(t) or pa.types.is_boolean(t) for t in data.schema.types)


# Planner statistics of a staged batch: a sample of 300 x this many rows.
_STAGED_STATISTICS = 10
# A bulk insert at least this big refreshes the table's planner statistics at once.
_ANALYZE_AFTER_ROWS = 1_000


class PostgresConnection(Connection):
    backend = "postgres"
    dialect = POSTGRES

    def __init__(self, dsn: str, read_only: bool, application_name: str = "casparian"):
        super().__init__(read_only)
        psycopg = load_psycopg()
        self._psycopg = psycopg
        try:
            # Client-side binding: the values are still quoted by the driver, never
            # formatted by us, and the server sees typed literals (a NULL in
            # `CASE WHEN ? IS NULL` has no type to infer when bound server-side).
            self._con = psycopg.connect(dsn, autocommit=True, application_name=application_name[:63],
                                        cursor_factory=psycopg.ClientCursor)
        except psycopg.OperationalError as exc:
            from casparian_tui.db.pg_dsn import describe

            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseError(
                f"Cannot connect to PostgreSQL at {describe(dsn)}: {first}",
                hint="Check --db / CASPARIAN_DB, the PG* variables and ~/.pgpass.",
            ) from None
        self._con.adapters.register_loader("numeric", _numeric_loader(psycopg))
        # Staged batches live in TEMP tables, in session-local buffers (8 MB by
        # default: a 100,000-file scan batch spilled to disk). Taken as used.
        self._con.execute("SET temp_buffers = '128MB'")
        if read_only:
            self._con.execute("SET default_transaction_read_only = on")
        self._listening: set[str] = set()
        # Channels notified and not yet asked for. psycopg keeps what arrives
        # during other statements for `notifies()` (a notify handler instead
        # would make that unreliable, and it warns).
        self._notified: set[str] = set()

    @property
    def raw(self):
        """The psycopg connection, for LISTEN/NOTIFY and COPY inside db/."""
        return self._con

    def _cursor_execute(self, sql: str, params: Params):
        cur = self._con.cursor()
        if params:
            cur.execute(to_pyformat(sql), list(params))
        else:
            cur.execute(sql)
        return cur

    def execute(self, sql: str, params: Params = ()) -> int:
        with self._cursor_execute(sql, params) as cur:
            return cur.rowcount

    def query_all(self, sql: str, params: Params = ()) -> list[tuple]:
        with self._cursor_execute(sql, params) as cur:
            return cur.fetchall() if cur.description else []

    def query_with_columns(self, sql: str, params: Params = ()) -> tuple[list[str], list[tuple]]:
        with self._cursor_execute(sql, params) as cur:
            if not cur.description:
                return [], []
            return [d.name for d in cur.description], cur.fetchall()

    def query_arrow(self, sql: str, params: Params = ()) -> pa.Table:
        cols, rows = self.query_with_columns(sql, params)
        return pa.table({c: [r[i] for r in rows] for i, c in enumerate(cols)})

    def copy_rows(self, table: str, data: pa.Table) -> None:
        """COPY `data` into `table` (columns by name): the server's fast load path."""
        cols = data.column_names
        if _csv_safe(data):
            # Arrow writes the CSV in C: ~4x faster than psycopg's row by row
            # (0.45 -> 0.1 s for 100,000 scanned files).
            import pyarrow.csv as pacsv

            options = pacsv.WriteOptions(include_header=False)
            with self._con.cursor() as cur:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT csv)") as cp:
                    for chunk in data.to_batches(max_chunksize=_CSV_CHUNK_ROWS):
                        sink = pa.BufferOutputStream()
                        pacsv.write_csv(chunk, sink, options)
                        cp.write(memoryview(sink.getvalue()))
            return
        columns = [data.column(c).to_pylist() for c in cols]
        with self._con.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
                for row in zip(*columns):
                    cp.write_row(row)

    @contextlib.contextmanager
    def staged(self, data: pa.Table, prefix: str = "_cf_stage") -> Iterator[str]:
        name = f"{prefix}_{next(_stage_ids)}"
        cols = ", ".join(f"{c} {PG_TYPES.get(t, 'TEXT')}" for c, t in zip(data.column_names, data.schema.types))
        self.execute(f"CREATE TEMP TABLE {name} ({cols})")
        try:
            if data.num_rows:
                self.copy_rows(name, data)
            self._analyze_staged(name, data.num_rows)
            yield name
        finally:
            if not self._failed():
                self.execute(f"DROP TABLE IF EXISTS {name}")

    def _analyze_staged(self, name: str, rows: int) -> None:
        """Row count and distinct values for the planner (without them it guesses 1,000 rows).

        A staged batch is joined once and dropped: a 3,000-row sample tells
        that as well as the default 30,000 (same estimates) at a tenth of the
        cost (100,000 scanned files: 75 -> 8 ms). A smaller batch is read
        whole either way, so it is spared the two statements.
        """
        if rows <= 300 * _STAGED_STATISTICS:
            self.execute(f"ANALYZE {name}")
            return
        self.execute(f"SET default_statistics_target = {_STAGED_STATISTICS}")
        try:
            self.execute(f"ANALYZE {name}")
        finally:
            if not self._failed():
                self.execute("RESET default_statistics_target")

    def _failed(self) -> bool:
        """In a transaction that an error has aborted (statements would fail until rollback)."""
        return self._con.info.transaction_status == self._psycopg.pq.TransactionStatus.INERROR

    def bulk_insert(self, table: str, data: pa.Table, conflict: str = "") -> None:
        if data.num_rows == 0:
            return
        if not conflict:
            self.copy_rows(table, data)
            return
        cols = ", ".join(data.column_names)
        with self.staged(data) as name:
            self.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {name} {conflict}")

    def claim_ids(self, subquery: str) -> str:
        # ARRAY(...) runs the subquery once (an InitPlan); under IN (...) the
        # planner may join against it and take more rows than its LIMIT.
        return f"= ANY(ARRAY({subquery} FOR UPDATE SKIP LOCKED))"

    def insert_ids(self, table: str, data: pa.Table) -> list[int]:
        if data.num_rows == 0:
            return []
        cols = ", ".join(data.column_names)
        with self.staged(data) as name:
            rows = self.query_all(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {name} RETURNING id")
        if len(rows) >= _ANALYZE_AFTER_ROWS:
            # Until autovacuum gets to it (a minute or more), the planner thinks
            # the table holds what it held before: after a bulk enqueue it took
            # the claim index for `id = ANY(...)` and a claim of 500 jobs out of
            # 20,000 cost 0.6 s instead of a few ms.
            self.execute(f"ANALYZE {table}")
        return sorted(r[0] for r in rows)

    def notify(self, channel: str) -> None:
        self.query_all("SELECT pg_notify(?, '')", (channel,))

    def wait_notified(self, channel: str, timeout: float) -> bool:
        if channel not in self._listening:
            self._con.execute(f'LISTEN "{channel}"')
            self._listening.add(channel)
        if channel not in self._notified:
            for n in self._con.notifies(timeout=timeout):
                self._notified.add(n.channel)
                if n.channel == channel:
                    break
        hit = channel in self._notified
        self._notified.discard(channel)
        return hit

    def _begin(self, write: bool) -> None:
        # A read transaction sees one snapshot throughout (a whole-database copy relies on it).
        self._con.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if self.read_only or not write
                          else "BEGIN")

    def _commit(self) -> None:
        self._con.execute("COMMIT")

    def _rollback(self) -> None:
        if self._con.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
            self._con.execute("ROLLBACK")

    def table_names(self) -> set[str]:
        rows = self.query_all(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        return {r[0] for r in rows}

    def table_columns(self, table: str) -> list[tuple[str, str]]:
        rows = self.query_all(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        return [(name, _CANONICAL.get(t, t.upper())) for name, t in rows]

    def arrow_batches(
        self, sql: str, schema: pa.Schema, batch_rows: int, params: Params = ()
    ) -> Iterator[pa.RecordBatch]:
        # A named (server-side) cursor streams; it needs a transaction, which the transfer holds.
        with self._con.cursor(name=f"_cf_batches_{next(_stage_ids)}") as cur:
            cur.execute(to_pyformat(sql) if params else sql, list(params) or None)
            while rows := cur.fetchmany(batch_rows):
                columns = list(zip(*rows))
                yield pa.record_batch([pa.array(col, f.type) for col, f in zip(columns, schema)], schema=schema)

    def index_definitions(self) -> list[tuple[str, str]]:
        return self.query_all(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname) ORDER BY 1"
        )

    def sequences(self) -> list[tuple[str, int | None, int]]:
        """(name, last value or None, start value) of our id sequences."""
        return self.query_all(
            "SELECT sequencename, last_value, start_value FROM pg_sequences "
            "WHERE schemaname = current_schema() AND sequencename LIKE 'seq\\_%'"
        )

    def continue_sequence(self, seq: str, top: int) -> None:
        self.query_all("SELECT setval(?, ?)", (seq, top))

    def size_bytes(self) -> int:
        return int(self.query_value("SELECT pg_database_size(current_database())", default=0))

    def interrupt(self) -> None:
        cancel = getattr(self._con, "cancel_safe", None) or self._con.cancel
        try:
            cancel()
        except Exception:
            pass  # nothing running, or the connection is gone

    def close(self) -> None:
        self._con.close()
