"""Inspecting and steering jobs: what `casparian jobs`/`job` and the TUI's Jobs screen call.

Every function takes the live `Connection` (run it inside `db.read(...)` or
`db.write(...)`) and returns plain dataclasses whose fields are ready to
show: a printable file path, local time text next to the raw epoch
microseconds, a one-line error. `asdict()` of any of them is JSON-ready.

Steering is fenced like the queue itself: cancelling a RUNNING job clears
its lease owner, so the worker's late completion or failure changes nothing
(and a run drops that job's rows before publishing).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

import pyarrow as pa

from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.scout.pathcodec import shown_path
from casparian_tui.sentinel import queue as q

DEFAULT_LIMIT = 50


class JobNotFound(CasparianError):
    def __init__(self, job_id: int):
        super().__init__(f"No job with id {job_id}.", hint="List jobs with: casparian jobs")


class JobStateError(CasparianError):
    """The job exists but is not in a state the action applies to."""


def when(ts_us: int | None) -> str:
    """Local time text for epoch microseconds ('' for none)."""
    if not ts_us:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts_us / 1_000_000))


def one_line(text: str | None, width: int = 200) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


@dataclass(frozen=True)
class JobRow:
    id: int
    status: str
    parser: str
    version: str
    file_id: int
    file: str  # printable path
    attempts: int  # failed tries (the queue's counter)
    max_attempts: int
    priority: int
    rows_out: int | None
    rows_quarantined: int | None
    error: str  # why it FAILED, first line, shortened ('' for a job still in play)
    created_at: int
    updated_at: int
    finished_at: int | None
    updated: str  # local time text of updated_at
    tries: int  # tries made, the successful or running one included
    permanent: bool  # FAILED before using its tries: rerunning cannot fix it
    previous_error: str  # a QUEUED or RUNNING job's last failed try, first line

    @property
    def tries_text(self) -> str:
        return f"{self.tries}/{self.max_attempts}" + (" permanent" if self.permanent else "")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DeadLetter:
    id: int
    job_id: int
    parser: str
    version: str
    file_id: int
    file: str
    attempts: int
    error: str
    created_at: int
    created: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class JobEvent:
    at: int
    when: str
    event: str
    detail: str


@dataclass(frozen=True)
class JobDetail:
    job: JobRow
    error: str  # in full (for a job still in play: its last failed try's, see job.previous_error)
    traceback: str
    parser_path: str
    parser_fingerprint: str
    lease_owner: str
    lease_expires_at: int | None
    run_after: int
    started_at: int | None
    output_paths: list[str]
    superseded_by: int | None
    dead_letter_id: int | None
    output_tail: str  # the end of what the parser printed while running this job
    events: list[JobEvent] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(d.pop("job"))
        return d


@dataclass(frozen=True)
class ActionResult:
    """What a steering action did, for a one-line message."""

    action: str
    job_ids: list[int]
    skipped: dict[int, str] = field(default_factory=dict)  # job id -> why not

    @property
    def count(self) -> int:
        return len(self.job_ids)

    def to_dict(self) -> dict:
        return {"action": self.action, "count": self.count, "job_ids": self.job_ids,
                "skipped": {str(k): v for k, v in self.skipped.items()}}


# ---- reading ------------------------------------------------------------
_JOB_COLS = (
    "j.id, j.status, j.parser_name, j.parser_version, j.file_id, s.root, f.rel_path, j.attempts, j.max_attempts, "
    "j.priority, j.rows_out, j.rows_quarantined, j.error, j.created_at, j.updated_at, j.finished_at"
)
_JOB_FROM = (
    f"FROM {q.Q} j LEFT JOIN scout_files f ON f.id = j.file_id LEFT JOIN scout_sources s ON s.id = f.source_id"
)


def _file_text(root: str | None, rel: str | None, file_id: int) -> str:
    if root is None or rel is None:
        return f"<file {file_id} not in catalog>"
    return shown_path(root.rstrip("/") + "/" + rel if rel else root)


def _job_row(r: tuple) -> JobRow:
    (jid, status, parser, version, fid, root, rel, attempts, max_attempts, priority, rows_out, rows_q, error,
     created, updated, finished) = r
    in_play = status in (q.QUEUED, q.RUNNING)
    # `attempts` counts failed tries; a completed or running job is one more.
    tries = attempts + 1 if status in (q.COMPLETED, q.RUNNING) else attempts
    permanent = status == q.FAILED and attempts < max_attempts
    return JobRow(jid, status, parser, version, fid, _file_text(root, rel, fid), attempts, max_attempts, priority,
                  rows_out, rows_q, "" if in_play else one_line(error), created, updated, finished, when(updated),
                  tries, permanent, one_line(error) if in_play else "")


def counts(conn: Connection, parser: str | None = None) -> dict[str, int]:
    """Jobs per status (every status present, zeros included) plus `DEAD_LETTER`."""
    where, params = ("WHERE parser_name = ?", [parser]) if parser else ("", [])
    out = {s: 0 for s in q.STATUSES}
    for status, n in conn.query_all(f"SELECT status, count(*) FROM {q.Q} {where} GROUP BY status", params):
        out[status] = n
    out["DEAD_LETTER"] = conn.query_value(f"SELECT count(*) FROM cf_dead_letter {where}", params, 0)
    return out


def list_jobs(conn: Connection, status: str | None = None, parser: str | None = None,
              limit: int = DEFAULT_LIMIT, offset: int = 0) -> list[JobRow]:
    """The latest jobs first, optionally of one status and/or parser."""
    where, params = [], []
    if status:
        status = status.upper()
        if status not in q.STATUSES:
            raise UsageError(f"Unknown status {status!r}.", hint="One of: " + ", ".join(q.STATUSES))
        where.append("j.status = ?")
        params.append(status)
    if parser:
        where.append("j.parser_name = ?")
        params.append(parser)
    sql = f"SELECT {_JOB_COLS} {_JOB_FROM} {'WHERE ' + ' AND '.join(where) if where else ''} " \
          "ORDER BY j.id DESC LIMIT ? OFFSET ?"
    return [_job_row(r) for r in conn.query_all(sql, [*params, int(limit), int(offset)])]


def dead_letters(conn: Connection, parser: str | None = None, limit: int = DEFAULT_LIMIT,
                 offset: int = 0) -> list[DeadLetter]:
    where, params = ("WHERE d.parser_name = ?", [parser]) if parser else ("", [])
    rows = conn.query_all(
        "SELECT d.id, d.job_id, d.parser_name, d.parser_version, d.file_id, s.root, f.rel_path, d.attempts, "
        "d.error, d.created_at FROM cf_dead_letter d LEFT JOIN scout_files f ON f.id = d.file_id "
        f"LEFT JOIN scout_sources s ON s.id = f.source_id {where} ORDER BY d.id DESC LIMIT ? OFFSET ?",
        [*params, int(limit), int(offset)])
    return [DeadLetter(did, jid, p, v, fid, _file_text(root, rel, fid), att, one_line(err), at, when(at))
            for did, jid, p, v, fid, root, rel, att, err, at in rows]


def job_detail(conn: Connection, job_id: int) -> JobDetail:
    row = conn.query_one(f"SELECT {_JOB_COLS}, j.traceback, j.parser_path, j.parser_fingerprint, j.lease_owner, "
                         f"j.lease_expires_at, j.run_after, j.started_at, j.output_paths, j.superseded_by, j.error, "
                         f"j.output_tail "
                         f"{_JOB_FROM} WHERE j.id = ?", [job_id])
    if row is None:
        raise JobNotFound(job_id)
    job = _job_row(row[:16])
    tb, ppath, fp, owner, lease_exp, run_after, started, outputs, superseded, error, tail = row[16:]
    dead = conn.query_value("SELECT max(id) FROM cf_dead_letter WHERE job_id = ?", [job_id])
    events = [JobEvent(at, when(at), ev, detail or "") for at, ev, detail in conn.query_all(
        "SELECT event_at, event, detail FROM cf_job_events WHERE job_id = ? ORDER BY event_at, id", [job_id])]
    try:
        paths = [shown_path(p) for p in json.loads(outputs or "[]")]
    except ValueError:
        paths = []
    return JobDetail(job, error or "", tb or "", ppath or "", fp, owner or "", lease_exp, run_after, started,
                     paths, superseded, dead, tail or "", events)


# ---- steering -------------------------------------------------------------
def _status_of(conn: Connection, job_id: int) -> str:
    status = conn.query_value(f"SELECT status FROM {q.Q} WHERE id = ?", [job_id])
    if status is None:
        raise JobNotFound(job_id)
    return status


def _requeue(conn: Connection, ids: list[int], from_statuses: tuple[str, ...], event: str) -> list[int]:
    """Back to QUEUED with a fresh set of attempts and no error; their dead-letter entries go.

    The old error is not lost: the job's history event says what it was.
    """
    if not ids:
        return []
    now = q.now_us()
    marks = ", ".join("?" for _ in ids)
    smarks = ", ".join("?" for _ in from_statuses)
    old = dict(conn.query_all(f"SELECT id, error FROM {q.Q} WHERE id IN ({marks}) AND status IN ({smarks})",
                              [*ids, *from_statuses]))
    done = sorted(r[0] for r in conn.query_all(
        f"UPDATE {q.Q} SET status = 'QUEUED', attempts = 0, run_after = 0, lease_owner = NULL, "
        "lease_expires_at = NULL, started_at = NULL, finished_at = NULL, error = NULL, traceback = NULL, "
        f"output_tail = NULL, updated_at = ? WHERE id IN ({marks}) AND status IN ({smarks}) RETURNING id",
        [now, *ids, *from_statuses]))
    if done:
        conn.execute(f"DELETE FROM cf_dead_letter WHERE job_id IN ({', '.join('?' for _ in done)})", done)
        conn.bulk_insert("cf_job_events", pa.table({
            "job_id": pa.array(done, pa.int64()),
            "event_at": pa.array([now] * len(done), pa.int64()),
            "event": pa.array([event] * len(done), pa.string()),
            "detail": pa.array([("after: " + one_line(old.get(j), 300)) if old.get(j) else None for j in done],
                               pa.string()),
        }))
        conn.notify(q.JOBS_CHANNEL)
    return done


def retry(conn: Connection, job_id: int) -> ActionResult:
    """A FAILED or CANCELLED job goes back to the queue (attempts start again)."""
    status = _status_of(conn, job_id)
    if status not in (q.FAILED, q.CANCELLED):
        raise JobStateError(f"Job {job_id} is {status}; only FAILED or CANCELLED jobs can be retried.")
    return ActionResult("retried", _requeue(conn, [job_id], (q.FAILED, q.CANCELLED), "retried"))


def retry_all_failed(conn: Connection, parser: str | None = None) -> ActionResult:
    where, params = ("AND parser_name = ?", [parser]) if parser else ("", [])
    ids = [r[0] for r in conn.query_all(f"SELECT id FROM {q.Q} WHERE status = 'FAILED' {where} ORDER BY id", params)]
    return ActionResult("retried", _requeue(conn, ids, (q.FAILED,), "retried"))


def requeue_dead_letter(conn: Connection, job_id: int) -> ActionResult:
    """Take a job out of the dead letter and queue it again."""
    _status_of(conn, job_id)
    if not conn.query_value("SELECT count(*) FROM cf_dead_letter WHERE job_id = ?", [job_id], 0):
        raise JobStateError(f"Job {job_id} is not in the dead letter.",
                            hint="See dead-lettered jobs with: casparian jobs --dead-letter")
    return ActionResult("requeued", _requeue(conn, [job_id], (q.FAILED,), "requeued"))


def _cancel(conn: Connection, ids: list[int], statuses: tuple[str, ...]) -> list[int]:
    if not ids:
        return []
    now = q.now_us()
    marks = ", ".join("?" for _ in ids)
    smarks = ", ".join("?" for _ in statuses)
    # Clearing lease_owner is the fence: the holder's late report matches nothing.
    done = sorted(r[0] for r in conn.query_all(
        f"UPDATE {q.Q} SET status = 'CANCELLED', lease_owner = NULL, lease_expires_at = NULL, "
        f"finished_at = ?, updated_at = ? WHERE id IN ({marks}) AND status IN ({smarks}) RETURNING id",
        [now, now, *ids, *statuses]))
    q.add_events(conn, done, "cancelled", None, now)
    return done


def cancel(conn: Connection, job_id: int) -> ActionResult:
    """Cancel a QUEUED or RUNNING job."""
    status = _status_of(conn, job_id)
    if status not in (q.QUEUED, q.RUNNING):
        raise JobStateError(f"Job {job_id} is {status}; only QUEUED or RUNNING jobs can be cancelled.")
    return ActionResult("cancelled", _cancel(conn, [job_id], (q.QUEUED, q.RUNNING)))


def cancel_all(conn: Connection, parser: str | None = None, include_running: bool = False) -> ActionResult:
    statuses = (q.QUEUED, q.RUNNING) if include_running else (q.QUEUED,)
    where = f"status IN ({', '.join('?' for _ in statuses)})"
    params: list = list(statuses)
    if parser:
        where += " AND parser_name = ?"
        params.append(parser)
    ids = [r[0] for r in conn.query_all(f"SELECT id FROM {q.Q} WHERE {where} ORDER BY id", params)]
    return ActionResult("cancelled", _cancel(conn, ids, statuses))


def purge_dead_letter(conn: Connection, parser: str | None = None) -> ActionResult:
    """Forget dead-letter entries (the jobs stay FAILED, with their error)."""
    where, params = ("WHERE parser_name = ?", [parser]) if parser else ("", [])
    ids = sorted({r[0] for r in conn.query_all(f"DELETE FROM cf_dead_letter {where} RETURNING job_id", params)})
    q.add_events(conn, ids, "dead_letter_purged")
    return ActionResult("purged", ids)
