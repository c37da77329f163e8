"""The jobs service (list, detail, retry, cancel, requeue, purge) on both backends."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from sentinel_rows import make_files, make_parser, output_table, plan, run

from casparian_tui.sentinel import jobs
from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel import selection
from casparian_tui.sentinel.plugin import load_parser


def enqueue(db, tmp_path, n, parser="p", max_attempts=2):
    paths = make_files(tmp_path / "in", n)

    def go(c):
        files = selection.register_paths(c, selection.expand_paths(paths))
        return q.enqueue(c, pa.table({
            "file_id": files["file_id"],
            "parser_name": [parser] * n, "parser_version": ["1"] * n, "parser_fingerprint": ["fp"] * n,
            "max_attempts": pa.array([max_attempts] * n, pa.int32()),
        }))
    return db.write("enqueue", go)


def fail_until_dead(db, job_id, owner="w"):
    while db.query_value("SELECT status FROM cf_processing_queue WHERE id = ?", [job_id]) != "FAILED":
        db.execute("ready", "UPDATE cf_processing_queue SET run_after = 0 WHERE id = ?", [job_id])
        claimed = db.write("claim", lambda c: q.claim_batch(c, owner, 100))
        attempts = {j.id: j.attempts for j in claimed}
        db.write("fail", lambda c: q.fail_batch(c, owner, [q.Failure(job_id, attempts[job_id], "ValueError: boom\nmore",
                                                                    "Traceback (most recent call last): ...")]))
        db.write("release", lambda c: q.release(c, owner))


def test_counts_list_filters_and_paging(db, tmp_path):
    ids = enqueue(db, tmp_path, 5, "alpha") + enqueue(db, tmp_path / "b", 3, "beta")
    db.write("claim", lambda c: q.claim_batch(c, "w", 2, parser_name="alpha"))
    counts = db.read(jobs.counts)
    assert counts == {"QUEUED": 6, "RUNNING": 2, "COMPLETED": 0, "FAILED": 0, "CANCELLED": 0, "DEAD_LETTER": 0}
    assert db.read(lambda c: jobs.counts(c, parser="beta"))["QUEUED"] == 3
    rows = db.read(lambda c: jobs.list_jobs(c))
    assert [r.id for r in rows] == sorted(ids, reverse=True)  # latest first
    assert rows[0].file.endswith("f00002.txt") and rows[0].parser == "beta" and rows[0].updated
    running = db.read(lambda c: jobs.list_jobs(c, status="running"))
    assert [r.id for r in running] == sorted(ids[:2], reverse=True)
    page = db.read(lambda c: jobs.list_jobs(c, parser="alpha", limit=2, offset=1))
    assert [r.id for r in page] == [ids[3], ids[2]]
    json.dumps([r.to_dict() for r in rows])  # JSON-ready
    with pytest.raises(jobs.UsageError):
        db.read(lambda c: jobs.list_jobs(c, status="nope"))


def test_detail_has_attempts_error_traceback_and_events(db, tmp_path):
    (jid,) = enqueue(db, tmp_path, 1)
    fail_until_dead(db, jid)
    d = db.read(lambda c: jobs.job_detail(c, jid))
    assert d.job.status == "FAILED" and d.job.attempts == 2
    assert d.error == "ValueError: boom\nmore" and d.job.error == "ValueError: boom more"
    assert d.traceback.startswith("Traceback") and d.dead_letter_id is not None
    events = [e.event for e in d.events]
    assert events[0] == "queued" and events.count("claimed") == 2 and events[-1] == "dead_lettered"
    assert json.loads(json.dumps(d.to_dict()))["id"] == jid
    with pytest.raises(jobs.JobNotFound):
        db.read(lambda c: jobs.job_detail(c, 999_999))


def test_retry_and_requeue_put_failed_jobs_back(db, tmp_path):
    a, b, c_ = enqueue(db, tmp_path, 3)
    for jid in (a, b):
        fail_until_dead(db, jid)
    assert [d.job_id for d in db.read(lambda c: jobs.dead_letters(c))] == [b, a]
    assert db.write("retry", lambda c: jobs.retry(c, a)).job_ids == [a]
    assert db.query_one("SELECT status, attempts FROM cf_processing_queue WHERE id = ?", [a]) == ("QUEUED", 0)
    assert db.query_value("SELECT count(*) FROM cf_dead_letter WHERE job_id = ?", [a]) == 0
    with pytest.raises(jobs.JobStateError):
        db.write("retry", lambda c: jobs.retry(c, c_))  # QUEUED: nothing to retry
    with pytest.raises(jobs.JobStateError):
        db.write("requeue", lambda c: jobs.requeue_dead_letter(c, a))  # no longer dead
    assert db.write("requeue", lambda c: jobs.requeue_dead_letter(c, b)).job_ids == [b]
    assert db.read(jobs.counts)["DEAD_LETTER"] == 0
    fail_until_dead(db, a)
    fail_until_dead(db, b)
    assert db.write("retry all", lambda c: jobs.retry_all_failed(c)).job_ids == [a, b]
    assert db.read(jobs.counts)["QUEUED"] == 3


def test_cancel_queued_and_running_fences_the_worker(db, tmp_path):
    ids = enqueue(db, tmp_path, 4)
    claimed = db.write("claim", lambda c: q.claim_batch(c, "w", 1))
    running = claimed[0].id
    assert db.write("cancel", lambda c: jobs.cancel(c, running)).job_ids == [running]
    # the worker finishes late: nothing changes
    accepted = db.write("complete", lambda c: q.complete_batch(c, "w", [q.Completion(running, 0, 5)]))
    assert accepted == set()
    assert db.query_value("SELECT status FROM cf_processing_queue WHERE id = ?", [running]) == "CANCELLED"
    assert db.write("fail", lambda c: q.fail_batch(c, "w", [q.Failure(running, 0, "late")])) == {}
    with pytest.raises(jobs.JobStateError):
        db.write("cancel", lambda c: jobs.cancel(c, running))
    second = db.write("claim", lambda c: q.claim_batch(c, "w2", 1))[0].id
    res = db.write("cancel all", lambda c: jobs.cancel_all(c))
    assert res.job_ids == sorted(set(ids) - {running, second})  # queued only
    assert db.write("cancel all", lambda c: jobs.cancel_all(c, include_running=True)).job_ids == [second]
    assert db.read(jobs.counts)["CANCELLED"] == 4
    assert db.write("retry", lambda c: jobs.retry(c, running)).job_ids == [running]


def test_purge_dead_letter(db, tmp_path):
    a, b = enqueue(db, tmp_path, 2)
    fail_until_dead(db, a)
    fail_until_dead(db, b)
    assert db.write("purge", lambda c: jobs.purge_dead_letter(c)).job_ids == [a, b]
    assert db.read(jobs.counts)["DEAD_LETTER"] == 0 and db.read(jobs.counts)["FAILED"] == 2
    assert [e.event for e in db.read(lambda c: jobs.job_detail(c, a)).events][-1] == "dead_letter_purged"


def test_cancelled_running_job_publishes_no_rows(db, tmp_path):
    """A run in progress: cancel a job it holds; its rows must not appear."""
    paths = make_files(tmp_path / "in", 3, ["a.txt", "slow.txt", "c.txt"])
    flag = tmp_path / "slow_started"
    spec = load_parser(make_parser(tmp_path, f"if name == 'slow.txt':\n        open({str(flag)!r}, 'w').close()\n"
                                             f"        while os.path.exists({str(flag)!r}): time.sleep(0.02)"))
    planned = plan(db, spec, paths)
    import threading

    from waiting import wait_for
    t = threading.Thread(target=run, args=(db, spec, tmp_path), daemon=True)
    t.start()
    wait_for(flag.exists, timeout=30)
    slow = db.query_value("SELECT j.id FROM cf_processing_queue j JOIN scout_files f ON f.id = j.file_id "
                          "WHERE f.name = 'slow.txt'")
    db.write("cancel", lambda c: jobs.cancel(c, slow))
    flag.unlink()
    t.join(60)
    assert not t.is_alive()
    names = sorted(output_table(tmp_path).column("name").to_pylist())
    assert names == ["a.txt", "c.txt"] and len(planned.job_ids) == 3
    assert db.query_value("SELECT status FROM cf_processing_queue WHERE id = ?", [slow]) == "CANCELLED"
