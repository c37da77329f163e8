"""Queue semantics on both backends: claims, fencing, retries, reaper, dead letter."""

from __future__ import annotations

import multiprocessing as mp

import pyarrow as pa
import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.sentinel import queue as q


def jobs_table(n: int, parser: str = "p", priority: list[int] | None = None, max_attempts: int = 3) -> pa.Table:
    return pa.table(
        {
            "file_id": pa.array(range(1, n + 1), pa.int64()),
            "parser_name": [parser] * n,
            "parser_version": ["1"] * n,
            "parser_fingerprint": ["fp"] * n,
            "priority": pa.array(priority or [0] * n, pa.int32()),
            "max_attempts": pa.array([max_attempts] * n, pa.int32()),
        }
    )


def enqueue(db, n, **kw) -> list[int]:
    return db.write("enqueue", lambda c: q.enqueue(c, jobs_table(n, **kw)))


def status_of(db, job_id):
    return db.query_one("SELECT status, attempts, lease_owner FROM cf_processing_queue WHERE id = ?", [job_id])


def test_enqueue_returns_ids_and_records_events(db):
    ids = enqueue(db, 5)
    assert len(ids) == 5 and ids == sorted(ids)
    assert db.query_value("SELECT count(*) FROM cf_job_events WHERE event = 'queued'") == 5
    assert db.query_value("SELECT count(*) FROM cf_processing_queue WHERE status = 'QUEUED'") == 5


def test_claim_orders_by_priority_then_id(db):
    ids = enqueue(db, 4, priority=[0, 5, 0, 5])
    got = db.write("claim", lambda c: q.claim_batch(c, "w1", 3))
    assert sorted(j.id for j in got) == sorted([ids[1], ids[3], ids[0]])
    assert status_of(db, ids[2])[0] == "QUEUED"
    again = db.write("claim", lambda c: q.claim_batch(c, "w2", 10))
    assert [j.id for j in again] == [ids[2]]


def test_claim_respects_parser_filter_and_run_after(db):
    enqueue(db, 2, parser="a")
    enqueue(db, 2, parser="b")
    got = db.write("claim", lambda c: q.claim_batch(c, "w", 10, parser_name="b", fingerprint="fp"))
    assert len(got) == 2
    db.execute("delay", "UPDATE cf_processing_queue SET run_after = ? WHERE status = 'QUEUED'", [q.now_us() + 10**9])
    assert db.write("claim", lambda c: q.claim_batch(c, "w", 10)) == []


def test_complete_is_fenced_on_owner_and_attempts(db):
    (jid,) = enqueue(db, 1)
    (job,) = db.write("claim", lambda c: q.claim_batch(c, "w1", 1))
    wrong = db.write("done", lambda c: q.complete_batch(c, "intruder", [q.Completion(jid, job.attempts, 3)]))
    assert wrong == set()
    ok = db.write("done", lambda c: q.complete_batch(c, "w1", [q.Completion(jid, job.attempts, 3, 1, '["x"]')]))
    assert ok == {jid}
    row = db.query_one("SELECT status, rows_out, rows_quarantined, output_paths, lease_owner FROM cf_processing_queue")
    assert row == ("COMPLETED", 3, 1, '["x"]', None)
    # a second completion of a completed job changes nothing
    assert db.write("done", lambda c: q.complete_batch(c, "w1", [q.Completion(jid, 0, 9)])) == set()


def test_failures_retry_with_backoff_then_dead_letter(db):
    (jid,) = enqueue(db, 1, max_attempts=2)
    for attempt in range(2):
        db.execute("now", "UPDATE cf_processing_queue SET run_after = 0")
        (job,) = db.write("claim", lambda c: q.claim_batch(c, "w", 1))
        assert job.attempts == attempt
        res = db.write("fail", lambda c: q.fail_batch(c, "w", [q.Failure(jid, job.attempts, "boom", "tb")]))
        assert res == {jid: "QUEUED" if attempt == 0 else "FAILED"}
        if attempt == 0:
            run_after = db.query_value("SELECT run_after FROM cf_processing_queue")
            assert run_after > q.now_us()  # backoff: not claimable right away
            assert db.write("claim", lambda c: q.claim_batch(c, "w", 1)) == []
    dead = db.query_one("SELECT job_id, attempts, error, traceback FROM cf_dead_letter")
    assert dead == (jid, 2, "boom", "tb")
    events = [r[0] for r in db.query_all("SELECT event FROM cf_job_events WHERE job_id = ? ORDER BY id", [jid])]
    assert events == ["queued", "claimed", "failed", "retry_scheduled", "claimed", "failed", "dead_lettered"]


def test_permanent_failure_dead_letters_at_once(db):
    (jid,) = enqueue(db, 1)
    (job,) = db.write("claim", lambda c: q.claim_batch(c, "w", 1))
    res = db.write("fail", lambda c: q.fail_batch(c, "w", [q.Failure(jid, 0, "bad", permanent=True)]))
    assert res == {jid: "FAILED"}
    assert db.query_value("SELECT count(*) FROM cf_dead_letter") == 1


def test_one_batch_of_failures_settles_each_job_as_alone(db):
    """Retry, attempts used up, permanent, a stale report and a repeat, recorded in one call."""
    retry, last, permanent, stale = enqueue(db, 4, max_attempts=2)
    db.execute("one try used", "UPDATE cf_processing_queue SET attempts = 1 WHERE id = ?", [last])
    held = {j.id: j.attempts for j in db.write("claim", lambda c: q.claim_batch(c, "w", 4))}
    failures = [
        q.Failure(retry, held[retry], "E1", "tb1", output_tail="said 1"),
        q.Failure(last, held[last], "E2"),
        q.Failure(permanent, held[permanent], "E3", permanent=True),
        q.Failure(stale, held[stale] + 1, "not ours"),
        q.Failure(retry, held[retry], "E1 again"),
    ]
    res = db.write("fail", lambda c: q.fail_batch(c, "w", failures))
    assert res == {retry: "QUEUED", last: "FAILED", permanent: "FAILED"}
    rows = {r[0]: r[1:] for r in db.query_all(
        "SELECT id, status, attempts, error, traceback, output_tail, lease_owner, finished_at IS NULL "
        "FROM cf_processing_queue")}
    assert rows[retry] == ("QUEUED", 1, "E1", "tb1", "said 1", None, True)
    assert rows[last] == ("FAILED", 2, "E2", None, None, None, False)
    assert rows[permanent] == ("FAILED", 1, "E3", None, None, None, False)
    assert rows[stale] == ("RUNNING", 0, None, None, None, "w", True)
    assert db.query_value("SELECT run_after FROM cf_processing_queue WHERE id = ?", [retry]) > 0
    dead = db.query_all("SELECT job_id FROM cf_dead_letter ORDER BY job_id")
    assert dead == [(last,), (permanent,)]
    events = db.query_all("SELECT job_id, event, detail FROM cf_job_events WHERE event NOT IN ('queued', 'claimed') "
                          "ORDER BY job_id, id")
    assert events == [
        (retry, "failed", "E1"), (retry, "retry_scheduled", None),
        (last, "failed", "E2"), (last, "dead_lettered", "attempts used up"),
        (permanent, "failed", "E3"), (permanent, "dead_lettered", "permanent failure: not retried"),
    ]


def test_reaper_requeues_expired_lease_and_late_completion_is_ignored(db):
    (jid,) = enqueue(db, 1)
    (old,) = db.write("claim", lambda c: q.claim_batch(c, "dead-worker", 1, lease_s=0.001))
    future = q.now_us() + 1_000_000
    assert db.write("reap", lambda c: q.reap(c, retry_base_s=0, now=future)) == (1, 0)
    assert status_of(db, jid) == ("QUEUED", 1, None)
    (new,) = db.write("claim", lambda c: q.claim_batch(c, "w2", 1, now=future + 10))
    assert new.attempts == 1
    late = db.write("done", lambda c: q.complete_batch(c, "dead-worker", [q.Completion(jid, old.attempts, 99)]))
    assert late == set()
    late_fail = db.write("fail", lambda c: q.fail_batch(c, "dead-worker", [q.Failure(jid, old.attempts, "x")]))
    assert late_fail == {}
    assert status_of(db, jid) == ("RUNNING", 1, "w2")
    assert db.write("done", lambda c: q.complete_batch(c, "w2", [q.Completion(jid, new.attempts, 1)])) == {jid}


def test_reaper_dead_letters_when_attempts_exhausted(db):
    (jid,) = enqueue(db, 1, max_attempts=1)
    db.write("claim", lambda c: q.claim_batch(c, "w", 1, lease_s=0.001))
    assert db.write("reap", lambda c: q.reap(c, now=q.now_us() + 10**6)) == (0, 1)
    assert status_of(db, jid)[0] == "FAILED"
    assert db.query_value("SELECT count(*) FROM cf_dead_letter WHERE job_id = ?", [jid]) == 1


def test_heartbeat_keeps_lease_alive(db):
    (jid,) = enqueue(db, 1)
    db.write("claim", lambda c: q.claim_batch(c, "w", 1, lease_s=1))
    later = q.now_us() + 5_000_000
    db.write("beat", lambda c: q.heartbeat(c, "w", lease_s=60, now=later))
    assert db.write("reap", lambda c: q.reap(c, now=later + 1_000_000)) == (0, 0)


def test_release_requeues_without_counting_an_attempt(db):
    enqueue(db, 3)
    db.write("claim", lambda c: q.claim_batch(c, "w", 3))
    assert db.write("release", lambda c: q.release(c, "w")) == 3
    assert db.query_all("SELECT DISTINCT status, attempts FROM cf_processing_queue") == [("QUEUED", 0)]


def _claim_loop(settings: Settings, owner: str, out) -> None:
    db = Database(settings)
    got = []
    try:
        while True:
            jobs = db.write("claim", lambda c: q.claim_batch(c, owner, 1))
            if not jobs:
                break
            got.extend(j.id for j in jobs)
    finally:
        db.close()
    out.put(got)


def test_two_claimer_processes_never_share_a_job(db, settings):
    ids = enqueue(db, 60)
    db.close()  # let the claimer processes have the file
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_claim_loop, args=(settings, f"c{i}", out)) for i in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    claimed = results[0] + results[1]
    assert sorted(claimed) == ids  # every job claimed, none twice
    assert not set(results[0]) & set(results[1])
