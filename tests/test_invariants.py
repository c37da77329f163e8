"""Invariants under random input (hypothesis), on both backends.

- Upsert idempotence: scanning the same tree twice changes nothing.
- The job state machine: random sequences of claim, heartbeat, complete, fail,
  reap, release, cancel, retry, requeue and purge agree step by step with a
  small model; no job is ever in two states, lost, or completed twice.
(Pattern translation vs a reference matcher lives in test_patterns.py.)
"""

from __future__ import annotations

import itertools
import os
import shutil

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casparian_tui.errors import CasparianError
from casparian_tui.scout.pathcodec import to_bytes
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source
from casparian_tui.sentinel import jobs
from casparian_tui.sentinel import queue as q

FIXTURE_OK = settings(max_examples=20, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# File names from an alphabet of troublemakers, as bytes (Linux names are bytes).
NAME_BYTES = st.lists(st.sampled_from([b"a", b"B", b".", b" ", b"%", b"_", b"*", b"?", b"[", b"'", b"\\",
                                       b"\n", b"\xe9", b"\xff", "é".encode(), b"-"]),
                      min_size=1, max_size=6).map(b"".join).filter(lambda n: n not in (b".", b".."))
TREE = st.dictionaries(st.tuples(st.sampled_from([b"", b"x", b"x/y", b"z%"]), NAME_BYTES),
                       st.integers(0, 3), max_size=25)

_counter = itertools.count()


@FIXTURE_OK
@given(tree=TREE)
def test_scanning_the_same_tree_twice_changes_nothing(db, tmp_path, tree):
    root = tmp_path / f"t{next(_counter)}"
    rootb = os.fsencode(str(root))
    os.makedirs(rootb)
    expected = {}
    for (folder, name), size in tree.items():
        d = os.path.join(rootb, folder) if folder else rootb
        if os.path.isfile(d):
            continue  # a file already took that folder's name
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, name)
        if os.path.isdir(p):
            continue
        with open(p, "wb") as fh:
            fh.write(b"x" * size)
        expected[os.path.relpath(p, rootb)] = size
    try:
        src = add_source(db, root)
        first = Scanner(db, src, batch_rows=4).run()
        cols = "rel_path, parent_path, name, extension, size, mtime, file_uid, status, deleted_at, first_seen_at"
        snap = db.query_all(f"SELECT {cols} FROM scout_files WHERE source_id = ? ORDER BY rel_path", [src.id])
        second = Scanner(db, src, batch_rows=3).run()
        again = db.query_all(f"SELECT {cols} FROM scout_files WHERE source_id = ? ORDER BY rel_path", [src.id])
    finally:
        shutil.rmtree(root)
    assert first.new == len(expected) and {to_bytes(r[0]): r[4] for r in snap} == expected
    assert (second.new, second.changed, second.renamed, second.deleted) == (0, 0, 0, 0)
    assert second.unchanged == len(expected)
    assert again == snap


# ---- the job state machine -------------------------------------------------------
N_JOBS, MAX_ATTEMPTS, LEASE_S = 5, 3, 10.0
T0 = 10**15  # a fixed clock far ahead of any real run_after
OWNERS = ["w1", "w2"]

OPS = st.one_of(
    st.tuples(st.just("claim"), st.sampled_from(OWNERS), st.integers(1, 3)),
    st.tuples(st.just("heartbeat"), st.sampled_from(OWNERS)),
    st.tuples(st.just("complete"), st.sampled_from(OWNERS), st.integers(1, N_JOBS), st.booleans()),
    st.tuples(st.just("fail"), st.sampled_from(OWNERS), st.integers(1, N_JOBS), st.booleans(), st.booleans()),
    st.tuples(st.just("reap")),
    st.tuples(st.just("release"), st.sampled_from(OWNERS)),
    st.tuples(st.just("cancel"), st.integers(1, N_JOBS)),
    st.tuples(st.just("retry"), st.integers(1, N_JOBS)),
    st.tuples(st.just("requeue"), st.integers(1, N_JOBS)),
    st.tuples(st.just("purge")),
)


class Model:
    """What the queue should hold: per job (status, owner, attempts), and the dead letter."""

    def __init__(self, ids):
        self.jobs = {i: [q.QUEUED, None, 0] for i in ids}
        self.claimed_attempts: dict[tuple[str, int], int] = {}  # what a worker believes it holds
        self.dead: set[int] = set()
        self.completions: dict[int, int] = {i: 0 for i in ids}

    def held(self, owner, job_id) -> bool:
        st_, own, att = self.jobs[job_id]
        return st_ == q.RUNNING and own == owner and self.claimed_attempts.get((owner, job_id)) == att

    def to_failed_or_queued(self, job_id, permanent=False):
        job = self.jobs[job_id]
        job[2] += 1
        job[1] = None
        job[0] = q.FAILED if permanent or job[2] >= MAX_ATTEMPTS else q.QUEUED
        if job[0] == q.FAILED:
            self.dead.add(job_id)


def _apply(db, model: Model, op: tuple) -> None:
    kind = op[0]
    if kind == "claim":
        _, owner, limit = op
        got = db.write("t", lambda c: q.claim_batch(c, owner, limit, LEASE_S, now=T0))
        want = sorted(i for i, j in model.jobs.items() if j[0] == q.QUEUED)[:limit]
        assert [g.id for g in got] == want
        for g in got:
            model.jobs[g.id][:2] = [q.RUNNING, owner]
            model.claimed_attempts[(owner, g.id)] = g.attempts
    elif kind == "heartbeat":
        n = db.write("t", lambda c: q.heartbeat(c, op[1], LEASE_S, now=T0))
        assert n == sum(1 for j in model.jobs.values() if j[0] == q.RUNNING and j[1] == op[1])
    elif kind == "complete":
        _, owner, job_id, stale = op
        attempts = model.claimed_attempts.get((owner, job_id), 0) - (1 if stale else 0)
        ok = db.write("t", lambda c: q.complete_batch(c, owner, [q.Completion(job_id, attempts)], now=T0))
        expect = not stale and model.held(owner, job_id)
        assert ok == ({job_id} if expect else set())
        if expect:
            model.jobs[job_id][:2] = [q.COMPLETED, None]
            model.completions[job_id] += 1
    elif kind == "fail":
        _, owner, job_id, permanent, stale = op
        attempts = model.claimed_attempts.get((owner, job_id), 0) - (1 if stale else 0)
        res = db.write("t", lambda c: q.fail_batch(
            c, owner, [q.Failure(job_id, attempts, "boom", permanent=permanent)], now=T0))
        if not stale and model.held(owner, job_id):
            model.to_failed_or_queued(job_id, permanent)
            assert res == {job_id: model.jobs[job_id][0]}
        else:
            assert res == {}
    elif kind == "reap":
        later = T0 + int(LEASE_S * 1_000_000) + 1  # every lease has run out
        requeued, dead = db.write("t", lambda c: q.reap(c, now=later))
        running = [i for i, j in model.jobs.items() if j[0] == q.RUNNING]
        for i in running:
            model.to_failed_or_queued(i)
        assert (requeued, dead) == (sum(model.jobs[i][0] == q.QUEUED for i in running),
                                    sum(model.jobs[i][0] == q.FAILED for i in running))
        # The reaped jobs become runnable at `later + backoff`; bring run_after back to our clock.
        db.execute("t", "UPDATE cf_processing_queue SET run_after = 0")
    elif kind == "release":
        n = db.write("t", lambda c: q.release(c, op[1], now=T0))
        mine = [i for i, j in model.jobs.items() if j[0] == q.RUNNING and j[1] == op[1]]
        assert n == len(mine)
        for i in mine:
            model.jobs[i][:2] = [q.QUEUED, None]
    else:
        job_id = op[1] if len(op) > 1 else None
        action = {"cancel": jobs.cancel, "retry": jobs.retry, "requeue": jobs.requeue_dead_letter,
                  "purge": lambda c, _i: jobs.purge_dead_letter(c)}[kind]
        allowed = {
            "cancel": lambda: model.jobs[job_id][0] in (q.QUEUED, q.RUNNING),
            "retry": lambda: model.jobs[job_id][0] in (q.FAILED, q.CANCELLED),
            "requeue": lambda: job_id in model.dead and model.jobs[job_id][0] == q.FAILED,
            "purge": lambda: True,
        }[kind]()
        try:
            db.write("t", lambda c: action(c, job_id))
        except CasparianError:
            assert not allowed, op
            return
        assert allowed, op
        if kind == "cancel":
            model.jobs[job_id][:2] = [q.CANCELLED, None]
        elif kind == "purge":
            model.dead.clear()
        else:
            model.jobs[job_id] = [q.QUEUED, None, 0]
            model.dead.discard(job_id)
    if kind != "reap":
        db.execute("t", "UPDATE cf_processing_queue SET run_after = 0 WHERE status = 'QUEUED'")


def _check(db, model: Model, ops) -> None:
    rows = db.query_all("SELECT id, status, lease_owner, attempts FROM cf_processing_queue ORDER BY id")
    assert len(rows) == len(model.jobs), ops  # none lost, none invented
    for job_id, status, owner, attempts in rows:
        assert status in q.STATUSES
        assert [status, owner, attempts] == model.jobs[job_id], (job_id, ops)
        assert (owner is not None) == (status == q.RUNNING), (job_id, ops)  # a lease only while running
    dead = [r[0] for r in db.query_all("SELECT job_id FROM cf_dead_letter")]
    assert len(dead) == len(set(dead)) and set(dead) == model.dead, ops
    done = dict(db.query_all("SELECT job_id, count(*) FROM cf_job_events WHERE event = 'completed' GROUP BY 1"))
    for job_id in model.jobs:
        assert done.get(job_id, 0) == model.completions[job_id] <= 1, (job_id, ops)


def _with_real_ids(op: tuple, real: dict) -> tuple:
    """The job number sits at index 2 of complete/fail and index 1 of cancel/retry/requeue."""
    at = {"complete": 2, "fail": 2, "cancel": 1, "retry": 1, "requeue": 1}.get(op[0])
    if at is None:
        return op
    return op[:at] + (real[op[at]],) + op[at + 1:]


@settings(FIXTURE_OK, max_examples=60)
@given(ops=st.lists(OPS, min_size=1, max_size=30))
def test_job_state_machine_matches_the_model(db, ops):
    db.write("reset", lambda c: [c.execute(f"DELETE FROM {t}")
                                 for t in ("cf_job_events", "cf_dead_letter", "cf_processing_queue")])
    n = N_JOBS
    table = pa.table({
        "file_id": pa.array(range(1, n + 1), pa.int64()), "parser_name": ["p"] * n, "parser_version": ["1"] * n,
        "parser_fingerprint": ["fp"] * n, "max_attempts": pa.array([MAX_ATTEMPTS] * n, pa.int32()),
    })
    ids = db.write("enqueue", lambda c: q.enqueue(c, table))
    db.execute("t", "UPDATE cf_processing_queue SET run_after = 0")
    # The strategies speak of jobs 1..N; map them onto the real ids.
    real = dict(zip(range(1, n + 1), ids))
    ops = [_with_real_ids(op, real) for op in ops]
    model = Model(ids)
    for i, op in enumerate(ops):
        _apply(db, model, op)
        _check(db, model, ops[: i + 1])
