"""The sharing policy's decisions, on a fake clock and announced waiters (no processes, no sleeps)."""

from __future__ import annotations

from pathlib import Path

from casparian_tui.db.sharing import (
    JOB_GRACE_S,
    MAX_DEFER_S,
    MAX_YIELD_S,
    MIN_TURN_S,
    READ_OVERSTAY_S,
    READERS_JOIN_S,
    SERVED_READ_MIN_S,
    TURN_S,
    SharingPolicy,
)


class World:
    """A clock and what other processes announce, set by the test."""

    def __init__(self):
        self.now = 100.0
        self.readers: list[float] = []  # ages of waiting readers
        self.writers: list[float] = []
        self.holder: dict | None = None

    def ages(self, writers_only: bool = False) -> list[float]:
        return list(self.writers) + ([] if writers_only else list(self.readers))

    def policy(self) -> SharingPolicy:
        return SharingPolicy(Path("/nowhere.duckdb"), clock=lambda: self.now, waiter_ages=self.ages,
                             holder=lambda: self.holder)


def test_a_holder_keeps_the_file_while_nobody_waits():
    w = World()
    p = w.policy()
    assert not p.turn_over(opened_at=w.now - TURN_S * 10)


def test_a_lone_waiter_waits_out_the_turn():
    w = World()
    p = w.policy()
    w.readers = [TURN_S * 0.8]
    assert not p.turn_over(opened_at=w.now - TURN_S * 0.8)
    assert p.turn_over(opened_at=w.now - TURN_S)


def test_a_crowd_gets_in_after_the_least_turn_never_sooner():
    w = World()
    p = w.policy()
    w.readers = [TURN_S * 0.4] * 3  # their waits add up to more than a turn
    assert p.turn_over(opened_at=w.now - MIN_TURN_S)
    assert not p.turn_over(opened_at=w.now - MIN_TURN_S * 0.9)
    w.readers = [0.1, 0.1]  # a small crowd that just came waits on
    assert not p.turn_over(opened_at=w.now - MIN_TURN_S)


def test_idle_close_after_the_grace_or_for_a_waiter():
    w = World()
    p = w.policy()
    kw = dict(grace_s=0.3, opened_at=w.now - 0.1)
    assert p.close_when_idle(idle_since=w.now - 0.31, holds_lease=True, served=False, **kw) == (True, False)
    assert p.close_when_idle(idle_since=w.now - 0.1, holds_lease=True, served=False, **kw) == (False, False)
    w.readers = [0.05]
    # a reader with nothing to do lets a waiter in at once; a writer keeps its least turn
    assert p.close_when_idle(idle_since=w.now - 0.1, holds_lease=False, served=False, **kw) == (True, True)
    assert p.close_when_idle(idle_since=w.now - 0.1, holds_lease=True, served=False, **kw) == (False, False)
    # a served connection holds nothing anyone waits for
    assert p.close_when_idle(idle_since=w.now - 0.1, holds_lease=False, served=True, **kw) == (False, False)


def test_a_long_job_keeps_the_file_through_quiet_spells_but_not_past_a_waiters_turn():
    w = World()
    p = w.policy()
    kw = dict(grace_s=0.3, holds_lease=True, served=False, working=True)
    assert p.close_when_idle(idle_since=w.now - 0.31, opened_at=w.now - 0.5, **kw) == (False, False)
    assert p.close_when_idle(idle_since=w.now - JOB_GRACE_S, opened_at=w.now - 20, **kw) == (True, False)
    w.readers = [TURN_S]
    assert p.close_when_idle(idle_since=w.now - 0.31, opened_at=w.now - TURN_S, **kw) == (True, True)


def test_a_writer_that_stepped_aside_stays_away_until_the_waiters_are_in_or_for_max_yield():
    w = World()
    p = w.policy()
    since = w.now
    w.readers = [0.5]
    assert p.still_yielding(since)
    w.now += MAX_YIELD_S
    assert not p.still_yielding(since)
    w.now = since + 0.1
    w.readers = []
    assert not p.still_yielding(since)


def test_a_reader_lets_a_writer_that_has_waited_go_first_for_at_most_max_defer():
    w = World()
    p = w.policy()
    w.writers = [READERS_JOIN_S * 0.5]
    assert not p.reader_defers()  # it just came: join the readers already in
    w.writers = [READERS_JOIN_S]
    w.readers = [5.0]  # other readers do not count
    assert p.reader_defers()
    since, deadline = w.now, w.now + 30
    assert p.still_deferring(since, deadline)
    w.now = since + MAX_DEFER_S
    assert not p.still_deferring(since, deadline)
    w.now = since + 0.1
    assert not p.still_deferring(since, deadline=w.now)  # our --wait is over
    w.writers = []
    assert not p.still_deferring(since, deadline)


def test_a_read_that_keeps_a_writer_out_too_long_is_overstayed():
    w = World()
    p = w.policy()
    started = w.now
    w.now += READ_OVERSTAY_S
    assert not p.read_overstayed(started)  # nobody waits
    w.readers = [3.0]
    assert not p.read_overstayed(started)  # readers share the file with us
    w.writers = [0.1]
    assert p.read_overstayed(started)
    w.now = started + READ_OVERSTAY_S * 0.9
    assert not p.read_overstayed(started)


def test_read_through_a_published_holder_unless_it_already_refused_us():
    w = World()
    p = w.policy()
    assert p.holder_to_try(refused_pid=None) is None
    w.holder = {"pid": 42, "socket": "/s", "key": "00"}
    assert p.holder_to_try(refused_pid=None) == w.holder
    assert p.holder_to_try(refused_pid=42) is None
    w.holder = {"pid": 43, "socket": "/s", "key": "00"}  # a new holder is worth a try
    assert p.holder_to_try(refused_pid=42) == w.holder


def test_a_served_read_may_outlast_a_short_wait():
    w = World()
    p = w.policy()
    assert p.served_deadline(deadline=w.now) == w.now + SERVED_READ_MIN_S
    assert p.served_deadline(deadline=w.now + 60) == w.now + 60
