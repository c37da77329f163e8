"""Parsers stored in the database, and the worker processes that run them.

`register` keeps a parser's exact source under its fingerprint, so a worker
on any host runs the very version that was queued: `materialize` writes it to
the worker's home and loads it from there. Workers describe themselves in
cf_workers (host, pid, parsers, current job) and heartbeat there; a worker
whose heartbeat is older than a few intervals is shown as gone.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError
from casparian_tui.sentinel.plugin import ParserSpec, fingerprint_bytes, load_parser
from casparian_tui.sentinel.queue import Q

HEARTBEAT_S = 2.0
GONE_AFTER_S = 5 * HEARTBEAT_S


def now_us() -> int:
    return time.time_ns() // 1000


class ParserNotRegistered(CasparianError):
    """A queued job names a parser fingerprint that no one registered."""


def read_source(spec: ParserSpec) -> str:
    content = spec.path.read_bytes()
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        raise CasparianError(f"Parser {spec.path.name} is not UTF-8 text; it cannot be registered.") from None


def register(conn: Connection, spec: ParserSpec, who: str) -> bool:
    """Store the parser's source under its fingerprint; True if it was new."""
    source = read_source(spec)
    if fingerprint_bytes(source.encode("utf-8")) != spec.fingerprint:
        raise CasparianError(f"Parser {spec.path.name} changed while it was being registered; try again.")
    rows = conn.query_all(
        "INSERT INTO cf_parsers (fingerprint, name, version, filename, source, registered_at, registered_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING RETURNING fingerprint",
        [spec.fingerprint, spec.name, spec.version, spec.path.name, source, now_us(), who],
    )
    return bool(rows)


def list_parsers(conn: Connection) -> list[dict]:
    return conn.query_dicts(
        "SELECT name, version, fingerprint, filename, registered_at, registered_by FROM cf_parsers "
        "ORDER BY name, registered_at"
    )


def runnable(conn: Connection, names: list[str] | None, now: int | None = None) -> list[tuple[str, str]]:
    """(parser name, fingerprint) with jobs ready to claim, the most waiting first."""
    now = now_us() if now is None else now
    where, params = "status = 'QUEUED' AND run_after <= ?", [now]
    if names:
        where += f" AND parser_name IN ({', '.join('?' for _ in names)})"
        params += list(names)
    rows = conn.query_all(
        f"SELECT parser_name, parser_fingerprint, count(*) AS n FROM {Q} WHERE {where} "
        "GROUP BY parser_name, parser_fingerprint ORDER BY n DESC, parser_name", params)
    return [(r[0], r[1]) for r in rows]


def fetch_source(conn: Connection, fingerprint: str) -> tuple[str, str] | None:
    """(file name, source) of a registered parser."""
    row = conn.query_one("SELECT filename, source FROM cf_parsers WHERE fingerprint = ?", [fingerprint])
    return (row[0], row[1]) if row else None


def materialize(home: Path, fingerprint: str, filename: str, source: str) -> ParserSpec:
    """Write the registered source under <home>/parsers/<fingerprint>/ and load it from there."""
    folder = home / "parsers" / fingerprint
    path = folder / Path(filename).name
    data = source.encode("utf-8")
    if not (path.exists() and path.read_bytes() == data):
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    spec = load_parser(path)
    if spec.fingerprint != fingerprint:
        raise CasparianError(f"The stored parser {filename} does not match its fingerprint {fingerprint}.")
    return spec


# ---- workers -------------------------------------------------------------
def worker_started(conn: Connection, owner: str, host: str, pid: int, parsers: list[str] | None) -> None:
    now = now_us()
    conn.execute("DELETE FROM cf_workers WHERE owner = ?", [owner])
    conn.execute(
        "INSERT INTO cf_workers (owner, host, pid, parsers, status, current_job, jobs_done, started_at, heartbeat_at) "
        "VALUES (?, ?, ?, ?, 'idle', NULL, 0, ?, ?)",
        [owner, host, pid, json.dumps(parsers or []), now, now],
    )


def worker_heartbeat(conn: Connection, owner: str, status: str, current_job: int | None, jobs_done: int) -> None:
    conn.execute(
        "UPDATE cf_workers SET status = ?, current_job = ?, jobs_done = ?, heartbeat_at = ? WHERE owner = ?",
        [status, current_job, jobs_done, now_us(), owner],
    )


def worker_stopped(conn: Connection, owner: str, jobs_done: int) -> None:
    conn.execute("UPDATE cf_workers SET status = 'stopped', current_job = NULL, jobs_done = ?, heartbeat_at = ? "
                 "WHERE owner = ?", [jobs_done, now_us(), owner])


def list_workers(conn: Connection, include_stopped: bool = False, now: int | None = None) -> list[dict]:
    """Workers, newest first; one silent for GONE_AFTER_S shows as 'gone'."""
    now = now_us() if now is None else now
    rows = conn.query_dicts(
        "SELECT owner, host, pid, parsers, status, current_job, jobs_done, started_at, heartbeat_at "
        "FROM cf_workers ORDER BY started_at DESC, owner"
    )
    out = []
    for r in rows:
        if r["status"] != "stopped" and now - r["heartbeat_at"] > GONE_AFTER_S * 1_000_000:
            r["status"] = "gone"
            r["current_job"] = None
        if r["status"] in ("stopped", "gone") and not include_stopped:
            continue
        r["parsers"] = json.loads(r["parsers"] or "[]")
        out.append(r)
    return out


def workers_overview(conn: Connection, include_stopped: bool = False, now: int | None = None) -> list[dict]:
    """`list_workers` with `held`: the RUNNING jobs each one's lease holds.

    Cheap when no worker ever registered: one read of an empty table.
    """
    workers = list_workers(conn, include_stopped=include_stopped, now=now)
    if workers:
        owners = [w["owner"] for w in workers]
        held = dict(conn.query_all(
            f"SELECT lease_owner, count(*) FROM {Q} WHERE status = 'RUNNING' "
            f"AND lease_owner IN ({', '.join('?' for _ in owners)}) GROUP BY lease_owner", owners))
        for w in workers:
            w["held"] = int(held.get(w["owner"], 0))
    return workers
