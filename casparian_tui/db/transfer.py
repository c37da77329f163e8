"""Moving a whole database between backends: `casparian db migrate` and `db export`.

A one-shot copy that opens both files itself (not through the DB actor):

- The source is opened read-only, inside one read transaction, while this
  process holds the source's writer lease, so nothing changes under the copy
  and the file is never written.
- The target is built in a hidden temporary file beside it
  (`.<name>.<pid>.transfer-tmp`) at the latest schema (db/migrate.py), filled
  table by table in Arrow batches (DuckDB: a registered Arrow batch and
  INSERT … SELECT; SQLite: executemany, secondary indexes built after the
  load), verified, and only then renamed to the target name. A failure or a
  `kill -9` leaves no target; a dead run's temporary file is removed by the
  next transfer to the same target.
- An existing target is refused unless `force`; then its writer lease is
  taken too, so a file another process is writing is never replaced.
- Ids are copied as they are. DuckDB ids come from `seq_<table>`, which is
  advanced past max(id); SQLite's INTEGER PRIMARY KEY continues after the
  highest id by itself (so ids of rows deleted at the very end of a DuckDB
  table may be used again after an export, as SQLite always does).
- Verification reopens the finished target and compares, per table, the row
  count and an order-independent checksum (db/checksum.py) with the source's;
  any difference is an error naming the tables.

PostgreSQL on either side: a server database is named by its postgresql://
URL (shown as host:port/dbname, never with credentials). As a source it is
read in one REPEATABLE READ, READ ONLY transaction (no lease: the snapshot
is the consistency). As a target the whole copy — schema, rows, verification
— is one transaction, committed only once verified, so a failure or a kill
leaves the target database as it was; it must hold no Casparian tables
unless `force`, which drops them inside that transaction.

Schema versions: a source newer than this Casparian is refused (SchemaTooNew).
An older source is copied into a target at the latest schema: every column
both have is copied, newer columns take their defaults, `cf_schema_version`
keeps the source's rows plus the migrations the copy applied. Tables or
columns in the source that this Casparian does not know are refused, so
nothing is ever dropped silently.

Test hook: CASPARIAN_TRANSFER_TEST_DELAY=<seconds> sleeps after every copied
batch, so a test can kill a migration half-way.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa

from casparian_tui.db import duckdb_backend, sqlite_backend
from casparian_tui.db.checksum import BatchHasher, TableSum, arrow_schema, table_checksum
from casparian_tui.db.connection import Connection
from casparian_tui.db.lease import WriterLease, describe_holder, pid_alive, read_holder
from casparian_tui.db.migrate import check_not_newer, current_version, migrate
from casparian_tui.db.schema import LATEST_VERSION, MIGRATIONS
from casparian_tui.errors import CasparianError, DatabaseError, DatabaseLocked, NoDatabase, NotADatabase, UsageError

BATCH_ROWS = 100_000
DELAY_ENV = "CASPARIAN_TRANSFER_TEST_DELAY"
_TMP_SUFFIX = ".transfer-tmp"
_SIDECARS = ("", ".wal", "-wal", "-shm", "-journal")
_LOCK_RETRY_S = 0.1

# Per-backend file settings: a temporary file needs no crash safety while it
# is filled (it is thrown away on failure), only once it is finished.
_FAST_LOAD = {"sqlite": ["PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF"], "duckdb": [], "postgres": []}
_FINISH = {"sqlite": [], "duckdb": ["CHECKPOINT"], "postgres": []}
SERVER = "postgres"

ProgressFn = Callable[[str, int, int], None]  # table, rows copied so far, rows in the table


class TargetExists(CasparianError):
    """The target file exists and --force was not given."""


class TransferMismatch(DatabaseError):
    """Verification found a table whose copy differs from its source."""


@dataclass
class TableReport:
    table: str
    rows_source: int
    rows_target: int
    checksum_source: str
    checksum_target: str
    seconds: float


@dataclass
class TransferReport:
    source: str
    source_backend: str
    source_schema_version: int
    target: str
    target_backend: str
    target_schema_version: int
    tables: list[TableReport] = field(default_factory=list)
    verified: bool = False
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def table_order() -> list[str]:
    """Our tables in the order the migrations create them (the version table first)."""
    names = ["cf_schema_version"]
    for m in MIGRATIONS:
        for stmt in m.statements:
            found = re.search(r"CREATE TABLE (\w+)", stmt)
            if found:
                names.append(found.group(1))
    return names


def transfer(
    source,
    source_backend: str,
    target,
    target_backend: str,
    *,
    force: bool = False,
    wait_s: float = 30.0,
    command: str = "casparian",
    on_progress: ProgressFn | None = None,
) -> TransferReport:
    """Copy every table of `source` into a new `target`, verified. See the module docstring.

    A file is a path; a PostgreSQL database is its connection URL.
    """
    if source_backend == target_backend:
        raise UsageError(f"The source and the target are both {source_backend}; copy between two backends.")
    if SERVER in (source_backend, target_backend):
        return _transfer_server(source, source_backend, target, target_backend, force, wait_s, command, on_progress)
    started = time.perf_counter()
    source, target = Path(source).absolute(), Path(target).absolute()
    _check_paths(source, target, force)
    remove_stale_temps(target)
    deadline = time.monotonic() + wait_s
    leases: list[WriterLease] = []
    src = dst = None
    tmp = target.with_name(f".{target.name}.{os.getpid()}{_TMP_SUFFIX}")
    hasher = BatchHasher()
    try:
        leases.append(_take_lease(source, command, deadline))
        leases[0].set_activity(f"copying to {target}")
        if force and target.exists():
            leases.append(_take_lease(target, command, deadline))
        src = _open(source_backend, source, read_only=True, deadline=deadline)
        version = _source_version(src, source)
        report = TransferReport(str(source), source_backend, version, str(target), target_backend, LATEST_VERSION)
        _remove_files(tmp)
        dst = _open(target_backend, tmp, read_only=False, deadline=deadline)
        for stmt in _FAST_LOAD[target_backend]:
            dst.execute(stmt)
        migrate(dst)
        plans = _plan(src, dst)
        sums = _copy(src, dst, plans, version, hasher, on_progress)
        for stmt in _FINISH[target_backend]:
            dst.execute(stmt)
        dst.prepare_new()
        dst.close()
        dst = None
        dst = _open(target_backend, tmp, read_only=False, deadline=deadline)
        report.tables = _verify(dst, plans, sums, version, hasher)
        dst.close()
        dst = None
        _publish(tmp, target, force)
        report.verified = True
        report.duration_s = round(time.perf_counter() - started, 3)
        return report
    finally:
        for conn in (src, dst):
            if conn is not None:
                conn.close()
        hasher.close()
        _remove_files(tmp)
        for lease in reversed(leases):
            lease.release()


def _source_version(src: Connection, where) -> int:
    version = current_version(src)
    if version == 0:
        raise NotADatabase(f"Not a Casparian database (no schema version): {where}")
    check_not_newer(version, where)
    return version


def _transfer_server(source, source_backend, target, target_backend, force, wait_s, command, on_progress):
    """A copy with a PostgreSQL database on one side (see the module docstring)."""
    from casparian_tui.db.pg_dsn import describe

    started = time.perf_counter()
    deadline = time.monotonic() + wait_s
    leases: list[WriterLease] = []
    src = dst = None
    hasher = BatchHasher()
    name = {source_backend: source, target_backend: target}
    shown = {b: describe(str(v)) if b == SERVER else str(Path(v).absolute()) for b, v in name.items()}
    try:
        if source_backend == SERVER:
            target = Path(target).absolute()
            _check_paths(None, target, force)
            remove_stale_temps(target)
            if force and target.exists():
                leases.append(_take_lease(target, command, deadline))
            src = _open(SERVER, str(source), read_only=True, deadline=deadline)
        else:
            source = Path(source).absolute()
            if not source.exists():
                raise NoDatabase(f"No database at {source}.")
            leases.append(_take_lease(source, command, deadline))
            leases[0].set_activity(f"copying to {shown[target_backend]}")
            src = _open(source_backend, source, read_only=True, deadline=deadline)
        version = _source_version(src, shown[source_backend])
        report = TransferReport(shown[source_backend], source_backend, version, shown[target_backend],
                                target_backend, LATEST_VERSION)
        if target_backend == SERVER:
            dst = _open(SERVER, str(target), read_only=False, deadline=deadline)
            with dst.transaction():  # all or nothing: committed only once verified
                _clear_server_target(dst, shown[SERVER], force)
                migrate(dst)
                plans = _plan(src, dst)
                sums = _copy(src, dst, plans, version, hasher, on_progress)
                report.tables = _verify(dst, plans, sums, version, hasher)
        else:
            tmp = target.with_name(f".{target.name}.{os.getpid()}{_TMP_SUFFIX}")
            try:
                _remove_files(tmp)
                dst = _open(target_backend, tmp, read_only=False, deadline=deadline)
                for stmt in _FAST_LOAD[target_backend]:
                    dst.execute(stmt)
                migrate(dst)
                plans = _plan(src, dst)
                sums = _copy(src, dst, plans, version, hasher, on_progress)
                for stmt in _FINISH[target_backend]:
                    dst.execute(stmt)
                dst.prepare_new()
                report.tables = _verify(dst, plans, sums, version, hasher)
                dst.close()
                dst = None
                _publish(tmp, target, force)
            finally:
                _remove_files(tmp)
        report.verified = True
        report.duration_s = round(time.perf_counter() - started, 3)
        return report
    finally:
        for conn in (src, dst):
            if conn is not None:
                conn.close()
        hasher.close()
        for lease in reversed(leases):
            lease.release()


def _clear_server_target(dst: Connection, shown: str, force: bool) -> None:
    ours = sorted(set(table_order()) & dst.table_names())
    if ours and not force:
        raise TargetExists(f"The target database already holds Casparian tables: {shown}",
                           hint="Choose an empty database, or add --force to replace its Casparian tables.")
    for table in ours:
        dst.execute(f"DROP TABLE {table}")
    for seq, _last, _start in dst.sequences():
        dst.execute(f"DROP SEQUENCE IF EXISTS {seq}")


@dataclass
class _Plan:
    table: str
    schema: pa.Schema  # the columns both sides have, typed as the DuckDB side declares them
    in_source: bool


def _plan(src: Connection, dst: Connection) -> list[_Plan]:
    src_tables, dst_tables = src.table_names(), dst.table_names()
    unknown = sorted(src_tables - dst_tables)
    if unknown:
        raise DatabaseError(
            f"The source has tables this Casparian does not know: {', '.join(unknown)}",
            hint="Nothing was copied; use the Casparian that wrote this database.",
        )
    # Column types as DuckDB names them (PostgreSQL reports the same names; SQLite's are loose).
    duck = next(c for c in (src, dst) if c.backend == "duckdb") if "duckdb" in (src.backend, dst.backend) else \
        next(c for c in (src, dst) if c.backend != "sqlite")
    order = table_order()
    plans = []
    for table in sorted(dst_tables, key=lambda t: (order.index(t) if t in order else len(order), t)):
        dst_cols = [c for c, _ in dst.table_columns(table)]
        src_cols = [c for c, _ in src.table_columns(table)] if table in src_tables else []
        extra = sorted(set(src_cols) - set(dst_cols))
        if extra:
            raise DatabaseError(
                f"Table {table} in the source has columns this Casparian does not know: {', '.join(extra)}",
                hint="Nothing was copied; use the Casparian that wrote this database.",
            )
        names = [c for c in dst_cols if c in src_cols] if src_cols else dst_cols
        plans.append(_Plan(table, arrow_schema(duck.table_columns(table), names), table in src_tables))
    return plans


def _version_filter(table: str, source_version: int) -> tuple[str, list] | None:
    """The rows a table must agree on: the version table also lists migrations the copy applied."""
    return ("version <= ?", [source_version]) if table == "cf_schema_version" else None


def _copy(src, dst, plans, source_version, hasher, on_progress) -> dict[str, TableSum]:
    delay = float(os.environ.get(DELAY_ENV) or 0)
    indexes = dst.index_definitions()
    for name, _sql in indexes:
        dst.execute(f"DROP INDEX {name}")
    sums: dict[str, TableSum] = {}
    with src.transaction(write=False):
        for plan in plans:
            where = _version_filter(plan.table, source_version)
            if where:
                with dst.transaction():
                    dst.execute(f"DELETE FROM {plan.table} WHERE {where[0]}", where[1])
            total = src.query_value(f"SELECT count(*) FROM {plan.table}", default=0) if plan.in_source else 0
            if on_progress:
                on_progress(plan.table, 0, total)
            summed = TableSum()
            if plan.in_source:
                sql = f"SELECT {', '.join(plan.schema.names)} FROM {plan.table}"
                with dst.transaction():
                    for batch in src.arrow_batches(sql, plan.schema, BATCH_ROWS):
                        if src.backend != "duckdb":
                            hasher.add(summed, batch)  # the strict batch is exactly the source's rows
                        dst.bulk_insert(plan.table, pa.Table.from_batches([batch]))
                        if on_progress:
                            on_progress(plan.table, batch.num_rows, total)
                        if delay:
                            time.sleep(delay)
                if src.backend == "duckdb":
                    summed = table_checksum(src, plan.table, plan.schema, hasher)
            if where:  # only the source's own version rows are compared
                summed = table_checksum(src, plan.table, plan.schema, hasher, where) if plan.in_source else TableSum()
            sums[plan.table] = summed
    for _name, sql in indexes:
        dst.execute(sql)
    _continue_ids(dst, [p.table for p in plans])
    return sums


def _continue_ids(conn: Connection, tables: list[str]) -> None:
    """Advance each `seq_<table>` so the next id is max(id) + 1 (SQLite's rowids continue by themselves)."""
    names = {name for name, _last, _start in conn.sequences()}
    for table in tables:
        seq = f"seq_{table}"
        top = conn.query_value(f"SELECT max(id) FROM {table}", default=0) if seq in names else 0
        if top:
            conn.continue_sequence(seq, top)


def _verify(dst, plans, sums, source_version, hasher) -> list[TableReport]:
    reports, bad = [], []
    for plan in plans:
        t0 = time.perf_counter()
        got = table_checksum(dst, plan.table, plan.schema, hasher, _version_filter(plan.table, source_version))
        want = sums[plan.table]
        reports.append(
            TableReport(plan.table, want.rows, got.rows, want.hex, got.hex, round(time.perf_counter() - t0, 3))
        )
        if (got.rows, got.checksum) != (want.rows, want.checksum):
            bad.append(f"{plan.table} ({want.rows} rows {want.hex} vs {got.rows} rows {got.hex})")
    if bad:
        raise TransferMismatch(
            f"Verification failed, the copy differs from the source in: {'; '.join(bad)}",
            hint="No target was written. Run `casparian db check` on the source and report this.",
        )
    return reports


# ---- files, leases, connections -----------------------------------------
def _check_paths(source: Path | None, target: Path, force: bool) -> None:
    if source is not None and not source.exists():
        raise NoDatabase(f"No database at {source}.")
    if source is not None and target.exists() and source.resolve() == target.resolve():
        raise UsageError("The source and the target are the same file.")
    if target.exists() and not force:
        raise TargetExists(
            f"The target exists: {target}", hint="Choose another path, or add --force to replace it."
        )
    if not target.parent.is_dir():
        raise UsageError(f"No folder for the target: {target.parent}")


def _take_lease(path: Path, command: str, deadline: float) -> WriterLease:
    lease = WriterLease(path, command)
    if not lease.acquire(timeout=max(deadline - time.monotonic(), 0)):
        holder = read_holder(path)
        who = describe_holder(holder) if holder else "another process"
        raise DatabaseLocked(
            f"Database is locked by another process: {path} — held by {who}",
            hint="Wait longer with --wait N, or stop that process, then run this again.",
            holder=holder,
        )
    return lease


def _open(backend: str, path, read_only: bool, deadline: float) -> Connection:
    if backend == SERVER:
        from casparian_tui.db.postgres_backend import PostgresConnection

        return PostgresConnection(str(path), read_only=read_only, application_name="casparian transfer")
    if backend == "sqlite":
        return sqlite_backend.SQLiteConnection(path, read_only=read_only)
    while True:
        try:
            return duckdb_backend.DuckDBConnection(path, read_only=read_only)
        except duckdb.IOException as exc:
            # A reader in another process may have the file open for a moment.
            if not duckdb_backend.is_lock_error(exc) or time.monotonic() >= deadline:
                raise DatabaseError(f"Cannot open {path}: {exc}") from exc
            time.sleep(_LOCK_RETRY_S)


def _publish(tmp: Path, target: Path, force: bool) -> None:
    """Make the verified temporary file the target, atomically."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    if force:
        # An old write-ahead log beside the target would be replayed onto the new file.
        for suffix in _SIDECARS[1:]:
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if the target appeared meanwhile: never clobber
        except FileExistsError:
            raise TargetExists(f"The target appeared while copying: {target}", hint="Add --force to replace it.")
        except OSError:  # a file system without hard links: check, then rename
            if target.exists():
                raise TargetExists(f"The target appeared while copying: {target}", hint="Add --force to replace it.")
            os.replace(tmp, target)
        else:
            tmp.unlink()
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _remove_files(tmp: Path) -> None:
    for suffix in _SIDECARS:
        tmp.with_name(tmp.name + suffix).unlink(missing_ok=True)


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete temporary files a killed transfer to `target` left behind."""
    removed = []
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)" + re.escape(_TMP_SUFFIX) + r"(.*)$")
    for path in target.parent.glob(f".{target.name}.*{_TMP_SUFFIX}*"):
        m = pattern.match(path.name)
        if m and m.group(2) in _SIDECARS and not pid_alive(int(m.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
