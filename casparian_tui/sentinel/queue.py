"""The job queue (cf_processing_queue, cf_dead_letter, cf_job_events).

Every function takes the live `Connection` and is meant to run inside one
`db.write(...)` / `db.read(...)` call. Semantics:

- `attempts` counts failed attempts (an error, a timeout, a dead worker, an
  expired lease). A job is dead-lettered when attempts reaches max_attempts,
  or at once for a permanent failure (one rerunning cannot fix).
- Claims take a batch in one statement, highest priority first, then oldest.
- Every state change a lease holder makes is fenced on (status RUNNING,
  lease_owner, attempts): after the reaper took a job away, or another
  claimer got it, the old holder's late report changes nothing.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import pyarrow as pa

from casparian_tui.db.connection import Connection

QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"
STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED)
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_LEASE_S = 60.0
DEFAULT_RETRY_BASE_S = 0.5
MAX_BACKOFF_S = 300.0
MAX_STORED_TEXT = 64 * 1024  # characters of an error, traceback or output tail kept per job
Q = "cf_processing_queue"
JOBS_CHANNEL = "casparian_jobs"


def now_us() -> int:
    return time.time_ns() // 1000


def cap_text(text: str | None, limit: int = MAX_STORED_TEXT) -> str | None:
    """`text` cut to `limit` characters, saying how much was cut (a parser's message can be huge)."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"\n… [cut: {len(text) - limit:,} more characters not stored]"


def backoff_us(attempts: int, base_s: float) -> int:
    """Exponential backoff with +-50 % jitter, so retries of a batch spread out."""
    delay = min(base_s * (2 ** max(attempts - 1, 0)), MAX_BACKOFF_S)
    return int(delay * random.uniform(0.5, 1.5) * 1_000_000)


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    file_id: int
    attempts: int
    max_attempts: int


@dataclass(frozen=True)
class Completion:
    id: int
    attempts: int  # as claimed: part of the fence
    rows_out: int = 0
    rows_quarantined: int = 0
    output_paths: str = "[]"
    output_tail: str | None = None  # the end of what the parser printed
    source_path: str | None = None  # the stored path the job parsed (a rename makes the output stale)


@dataclass(frozen=True)
class Failure:
    id: int
    attempts: int  # as claimed: part of the fence
    error: str
    traceback: str | None = None
    permanent: bool = False
    output_tail: str | None = None


# ---- events ----------------------------------------------------------
def add_events(conn: Connection, job_ids: Sequence[int], event: str, detail: str | None = None, at: int | None = None) -> None:
    if not job_ids:
        return
    at = now_us() if at is None else at
    n = len(job_ids)
    conn.bulk_insert(
        "cf_job_events",
        pa.table(
            {
                "job_id": pa.array(job_ids, pa.int64()),
                "event_at": pa.repeat(pa.scalar(at, pa.int64()), n),
                "event": pa.repeat(pa.scalar(event, pa.string()), n),
                "detail": pa.repeat(pa.scalar(detail, pa.string()), n),
            }
        ),
    )


# ---- enqueue ---------------------------------------------------------
def enqueue(conn: Connection, jobs: pa.Table) -> list[int]:
    """Insert one QUEUED job per row of `jobs`; return the new ids in order.

    `jobs` carries file_id, parser_name, parser_version, parser_fingerprint and
    optionally parser_path, priority, max_attempts, file_size, file_mtime.
    """
    if jobs.num_rows == 0:
        return []
    now = now_us()
    n = jobs.num_rows
    for col, value, typ in (
        ("status", QUEUED, pa.string()),
        ("created_at", now, pa.int64()),
        ("updated_at", now, pa.int64()),
    ):
        jobs = jobs.append_column(col, pa.repeat(pa.scalar(value, typ), n))
    ids = conn.insert_ids(Q, jobs)
    add_events(conn, ids, "queued", None, now)
    conn.notify(JOBS_CHANNEL)  # idle workers on other hosts wake up at commit
    return ids


# ---- lease holder side -------------------------------------------------
def claim_batch(
    conn: Connection,
    owner: str,
    limit: int,
    lease_s: float = DEFAULT_LEASE_S,
    *,
    parser_name: str | None = None,
    fingerprint: str | None = None,
    now: int | None = None,
) -> list[ClaimedJob]:
    """Claim up to `limit` runnable jobs in one statement."""
    now = now_us() if now is None else now
    where, params = "status = 'QUEUED' AND run_after <= ?", [now]
    if parser_name is not None:
        where += " AND parser_name = ?"
        params.append(parser_name)
    if fingerprint is not None:
        where += " AND parser_fingerprint = ?"
        params.append(fingerprint)
    pick = f"SELECT id FROM {Q} WHERE {where} ORDER BY priority DESC, id LIMIT ?"
    rows = conn.query_all(
        f"UPDATE {Q} SET status = 'RUNNING', lease_owner = ?, lease_expires_at = ?, "
        "started_at = ?, updated_at = ? "
        f"WHERE status = 'QUEUED' AND id {conn.claim_ids(pick)} "
        "RETURNING id, file_id, attempts, max_attempts",
        [owner, now + int(lease_s * 1_000_000), now, now, *params, limit],
    )
    jobs = sorted((ClaimedJob(*r) for r in rows), key=lambda j: j.id)
    add_events(conn, [j.id for j in jobs], "claimed", owner, now)
    return jobs


def heartbeat(conn: Connection, owner: str, lease_s: float = DEFAULT_LEASE_S, now: int | None = None) -> int:
    """Extend the lease of every job `owner` holds."""
    now = now_us() if now is None else now
    return conn.execute(
        f"UPDATE {Q} SET lease_expires_at = ? WHERE status = 'RUNNING' AND lease_owner = ?",
        [now + int(lease_s * 1_000_000), owner],
    )


def complete_batch(conn: Connection, owner: str, done: Sequence[Completion], now: int | None = None) -> set[int]:
    """Mark jobs COMPLETED, fenced on the lease; return the ids that were accepted."""
    if not done:
        return set()
    now = now_us() if now is None else now
    staged = pa.table(
        {
            "id": pa.array([d.id for d in done], pa.int64()),
            "attempts": pa.array([d.attempts for d in done], pa.int64()),
            "rows_out": pa.array([d.rows_out for d in done], pa.int64()),
            "rows_quarantined": pa.array([d.rows_quarantined for d in done], pa.int64()),
            "output_paths": pa.array([d.output_paths for d in done], pa.string()),
            "output_tail": pa.array([cap_text(d.output_tail) for d in done], pa.string()),
            "source_path": pa.array([d.source_path for d in done], pa.string()),
        }
    )
    accepted = _fenced_update_from(
        conn,
        staged,
        "status = 'COMPLETED', lease_owner = NULL, lease_expires_at = NULL, finished_at = ?, updated_at = ?, "
        "error = NULL, traceback = NULL, rows_out = s.rows_out, rows_quarantined = s.rows_quarantined, "
        "output_paths = s.output_paths, output_tail = s.output_tail, source_path = s.source_path",
        [now, now],
        owner,
    )
    add_events(conn, sorted(accepted), "completed", None, now)
    return accepted


def _fenced_update_from(conn: Connection, staged: pa.Table, set_sql: str, set_params: list, owner: str) -> set[int]:
    """UPDATE the queue from per-job values in `staged` (id, attempts, ...), fenced, in one statement."""
    fence = f"{Q}.status = 'RUNNING' AND {Q}.lease_owner = ? AND {Q}.attempts = s.attempts"
    with staged_table(conn, "_cf_staged_jobs", staged) as name:
        rows = conn.query_all(
            f"UPDATE {Q} SET {set_sql} FROM {name} AS s WHERE {Q}.id = s.id AND {fence} RETURNING {Q}.id",
            [*set_params, owner],
        )
    return {r[0] for r in rows}


def staged_table(conn: Connection, name: str, data: pa.Table):
    """`data` visible to SQL under the yielded name for the duration of the block."""
    return conn.staged(data, name)


def fail_batch(
    conn: Connection, owner: str, failures: Sequence[Failure], retry_base_s: float = DEFAULT_RETRY_BASE_S,
    now: int | None = None,
) -> dict[int, str]:
    """Record failed attempts, fenced; return {job id: new status} for the accepted ones.

    The job goes back to QUEUED after a backoff, or to FAILED plus a
    dead-letter row once attempts are used up (at once if permanent).
    """
    now = now_us() if now is None else now
    # A report repeated in the batch counts once, as it did one at a time (the fence refused the repeat).
    batch = list({(f.id, f.attempts): f for f in reversed(failures)}.values())[::-1]
    if not batch:
        return {}
    staged = pa.table({
        "id": pa.array([f.id for f in batch], pa.int64()),
        "attempts": pa.array([f.attempts for f in batch], pa.int64()),
        "permanent": pa.array([int(f.permanent) for f in batch], pa.int64()),
        "run_after": pa.array([now + backoff_us(f.attempts + 1, retry_base_s) for f in batch], pa.int64()),
        "error": pa.array([cap_text(f.error) for f in batch], pa.string()),
        "traceback": pa.array([cap_text(f.traceback) for f in batch], pa.string()),
        "output_tail": pa.array([cap_text(f.output_tail) for f in batch], pa.string()),
    })
    gives_up = f"s.permanent = 1 OR {Q}.attempts + 1 >= {Q}.max_attempts"
    fence = f"{Q}.status = 'RUNNING' AND {Q}.lease_owner = ? AND {Q}.attempts = s.attempts"
    with staged_table(conn, "_cf_staged_failed", staged) as name:
        rows = conn.query_all(
            f"UPDATE {Q} SET attempts = {Q}.attempts + 1, "
            f"status = CASE WHEN {gives_up} THEN 'FAILED' ELSE 'QUEUED' END, "
            f"finished_at = CASE WHEN {gives_up} THEN ? ELSE NULL END, "
            "run_after = s.run_after, lease_owner = NULL, lease_expires_at = NULL, error = s.error, "
            "traceback = s.traceback, output_tail = s.output_tail, updated_at = ? "
            f"FROM {name} AS s WHERE {Q}.id = s.id AND {fence} RETURNING {Q}.id, {Q}.status, {Q}.attempts",
            [now, now, owner],
        )
    by_claim = {(f.id, f.attempts): f for f in batch}
    accepted = {jid: by_claim[(jid, attempts - 1)] for jid, _, attempts in sorted(rows)}
    result = {jid: status for jid, status, _ in sorted(rows)}
    conn.bulk_insert("cf_job_events", pa.table({
        "job_id": pa.array(list(accepted), pa.int64()),
        "event_at": pa.array([now] * len(accepted), pa.int64()),
        "event": pa.array(["failed"] * len(accepted), pa.string()),
        "detail": pa.array([f.error[:500] for f in accepted.values()], pa.string()),
    }))
    add_events(conn, [jid for jid, status in result.items() if status != FAILED], "retry_scheduled", None, now)
    dead = [jid for jid, status in result.items() if status == FAILED]
    _dead_letter(conn, [jid for jid in dead if not accepted[jid].permanent], now, "attempts used up")
    _dead_letter(conn, [jid for jid in dead if accepted[jid].permanent], now, "permanent failure: not retried")
    return result


def _dead_letter(conn: Connection, job_ids: Sequence[int], now: int, why: str | None = None) -> None:
    if not job_ids:
        return
    ids = list(job_ids)
    marks = ", ".join("?" for _ in ids)
    conn.execute(
        "INSERT INTO cf_dead_letter (job_id, file_id, parser_name, parser_version, attempts, error, traceback, created_at) "
        f"SELECT id, file_id, parser_name, parser_version, attempts, error, traceback, ? FROM {Q} WHERE id IN ({marks})",
        [now, *ids],
    )
    add_events(conn, ids, "dead_lettered", why, now)


def release(conn: Connection, owner: str, job_ids: Iterable[int] | None = None, now: int | None = None) -> int:
    """Give held jobs back to the queue without counting an attempt (graceful stop)."""
    now = now_us() if now is None else now
    where, params = f"status = 'RUNNING' AND lease_owner = ?", [owner]
    if job_ids is not None:
        ids = list(job_ids)
        if not ids:
            return 0
        where += f" AND id IN ({', '.join('?' for _ in ids)})"
        params += ids
    rows = conn.query_all(
        f"UPDATE {Q} SET status = 'QUEUED', lease_owner = NULL, lease_expires_at = NULL, updated_at = ? "
        f"WHERE {where} RETURNING id",
        [now, *params],
    )
    add_events(conn, sorted(r[0] for r in rows), "released", owner, now)
    if rows:
        conn.notify(JOBS_CHANNEL)
    return len(rows)


# ---- housekeeping, usable by anyone ------------------------------------
def reap(conn: Connection, retry_base_s: float = DEFAULT_RETRY_BASE_S, now: int | None = None) -> tuple[int, int]:
    """Requeue RUNNING jobs whose lease expired (attempts + 1) or dead-letter them."""
    now = now_us() if now is None else now
    rows = conn.query_all(
        f"UPDATE {Q} SET attempts = attempts + 1, "
        "status = CASE WHEN attempts + 1 >= max_attempts THEN 'FAILED' ELSE 'QUEUED' END, "
        "finished_at = CASE WHEN attempts + 1 >= max_attempts THEN ? ELSE NULL END, "
        "error = 'lease expired: the process running it stopped answering', "
        "run_after = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ? "
        "WHERE status = 'RUNNING' AND lease_expires_at < ? RETURNING id, status",
        [now, now + backoff_us(1, retry_base_s), now, now],
    )
    requeued = sorted(r[0] for r in rows if r[1] == QUEUED)
    dead = sorted(r[0] for r in rows if r[1] == FAILED)
    add_events(conn, sorted(r[0] for r in rows), "reaped", None, now)
    _dead_letter(conn, dead, now, "attempts used up")
    if requeued:
        conn.notify(JOBS_CHANNEL)
    return len(requeued), len(dead)


# ---- superseded outputs --------------------------------------------------
# A file processed again by the same parser version (--force, or the file
# changed) must not keep its old rows next to the new ones in the output
# folder. When a job completes, older COMPLETED jobs of the same file, parser
# and version are marked superseded_by it; their rows are then removed from
# the part files they list (rows_retired_at records that this was done, so a
# crash in between is finished by the next run).
def supersede_older(conn: Connection, job_ids: Sequence[int], now: int | None = None) -> list[tuple[int, list[str]]]:
    """Mark earlier completions of these jobs' files superseded; return (old id, its part paths)."""
    if not job_ids:
        return []
    now = now_us() if now is None else now
    staged = pa.table({"id": pa.array(sorted(set(job_ids)), pa.int64())})
    # The older jobs are found through their file (idx_queue_file) and their
    # status is tested only after that join is materialised. A queue's status
    # mix changes faster than PostgreSQL's statistics: planned from stats
    # taken when every job was QUEUED, `status = 'COMPLETED'` looks like one
    # row, and the old form scanned all completed jobs once per new job
    # (5,000 completions cost 2 s, growing with every batch).
    # COMPLETED is final; `superseded_by IS NULL` is tested again on the row
    # updated, so a concurrent supersede of the same job is not overwritten.
    with staged_table(conn, "_cf_staged_new", staged) as name:
        rows = conn.query_all(
            f"WITH n AS MATERIALIZED (SELECT j.file_id, j.parser_name, j.parser_version, max(j.id) AS new_id "
            f"      FROM {Q} j JOIN {name} AS s ON s.id = j.id WHERE j.status = 'COMPLETED' "
            "      GROUP BY j.file_id, j.parser_name, j.parser_version), "
            f"old AS MATERIALIZED (SELECT o.id, o.status, o.superseded_by, n.new_id FROM {Q} o JOIN n "
            "      ON o.file_id = n.file_id AND o.parser_name = n.parser_name "
            "      AND o.parser_version = n.parser_version AND o.id < n.new_id) "
            f"UPDATE {Q} SET superseded_by = old.new_id, updated_at = ? FROM old "
            f"WHERE {Q}.id = old.id AND old.status = 'COMPLETED' AND old.superseded_by IS NULL "
            f"AND {Q}.superseded_by IS NULL "
            f"RETURNING {Q}.id, {Q}.output_paths",
            [now],
        )
    return [(r[0], _paths_of(r[1])) for r in sorted(rows)]


def pending_retirements(conn: Connection, parser_name: str, parser_version: str) -> list[tuple[int, list[str]]]:
    """Superseded jobs whose rows may still sit in part files."""
    rows = conn.query_all(
        f"SELECT id, output_paths FROM {Q} WHERE parser_name = ? AND parser_version = ? "
        "AND superseded_by IS NOT NULL AND rows_retired_at IS NULL ORDER BY id",
        [parser_name, parser_version],
    )
    return [(r[0], _paths_of(r[1])) for r in rows]


def mark_retired(conn: Connection, job_ids: Sequence[int], now: int | None = None) -> None:
    if not job_ids:
        return
    ids = sorted(set(job_ids))
    now = now_us() if now is None else now
    conn.execute(
        f"UPDATE {Q} SET rows_retired_at = ? WHERE id IN ({', '.join('?' for _ in ids)})", [now, *ids]
    )
    add_events(conn, ids, "superseded", "rows replaced by a newer run of the same file", now)


def _paths_of(output_paths: str | None) -> list[str]:
    try:
        paths = json.loads(output_paths or "[]")
    except ValueError:
        return []
    return [p for p in paths if isinstance(p, str)]
