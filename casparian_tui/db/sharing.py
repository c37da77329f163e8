"""When to give the file up, when to read through its holder, when to take turns.

The decisions of the sharing protocol (see `db/lease.py`), as functions of a
clock and of what other processes announce: waiter markers (`db/turns.py`)
and a published read server (`db/read_wire.py`). Both the clock and those
observations are injected, so the rules are unit-tested without processes or
sleeps; `db/shared_file.py` acts on the answers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from casparian_tui.db import read_wire, turns

# A writer steps aside for waiting processes once it has held the file
# TURN_S, or sooner — but not before MIN_TURN_S — once their waits add up to
# TURN_S: ten readers arriving together are let in after ~0.5 s instead of
# each waiting a whole turn, while a single waiter sees the same turn as
# before. Each step aside costs the writer ~0.1-0.3 s (a checkpoint, the
# waiters' turn, a reopen), so TURN_S sets the trade between how long a
# waiter waits and how much a long writer slows down, and MIN_TURN_S how much
# progress a writer keeps under a crowd (figures: db/lease.py, rule 4).
# Readers a holder serves leave no marker, so they never cost it a turn.
TURN_S = 1.25
MIN_TURN_S = 0.5
# A reader that finds a writer waiting (for longer than READERS_JOIN_S) lets
# it go first, for at most MAX_DEFER_S.
READERS_JOIN_S = 0.3
MAX_DEFER_S = 2.0
# How long a writer that stepped aside stays away if the waiter is slow.
MAX_YIELD_S = 1.0
# A served read may take longer than --wait (which bounds waiting for a lock,
# not a query's own time); a holder silent for this long is given up on.
SERVED_READ_MIN_S = 10.0
# A read on our own connection that has run this long while a writer waits
# for the file is interrupted, the file handed over, and the read asked again
# (of the writer's read server, or on our own connection after it).
READ_OVERSTAY_S = 2 * TURN_S
# A process in the middle of a long job (a scan between two batches, while
# its walker gathers the next) keeps the file through quiet spells this long
# instead of the idle grace: each close costs it a checkpoint and a reopen
# (0.1-0.8 s each, three times in one 100K-file scan under load), and the
# processes that wait for it still get their turns.
JOB_GRACE_S = 10.0


class SharingPolicy:
    """The protocol's decisions for one database file."""

    def __init__(
        self,
        db_path: Path,
        clock: Callable[[], float] = time.monotonic,
        waiter_ages: Callable[[bool], list[float]] | None = None,
        holder: Callable[[], dict | None] | None = None,
    ):
        self.clock = clock
        self._waiter_ages = waiter_ages or (lambda writers_only=False: turns.waiter_ages(db_path, writers_only))
        self._holder = holder or (lambda: read_wire.read_record(db_path))
        # read when the policy is made, so a probe can try other turns (bench/coexist_probe.py)
        self.turn_s, self.min_turn_s = TURN_S, MIN_TURN_S
        self.readers_join_s, self.max_defer_s, self.max_yield_s = READERS_JOIN_S, MAX_DEFER_S, MAX_YIELD_S
        self.read_overstay_s = READ_OVERSTAY_S

    # ---- a process that holds the file ---------------------------------------------
    def turn_over(self, opened_at: float) -> bool:
        """Have the processes waiting for us waited long enough? (see TURN_S)"""
        held = self.clock() - opened_at
        if held < self.min_turn_s:
            return False
        ages = self._waiter_ages(False)
        return bool(ages) and (held >= self.turn_s or sum(ages) >= self.turn_s)

    def close_when_idle(self, *, idle_since: float, grace_s: float, opened_at: float,
                        holds_lease: bool, served: bool, working: bool = False) -> tuple[bool, bool]:
        """After a quiet slice with the file open: (close now?, is it for a waiter?)."""
        if working:
            grace_s = max(grace_s, JOB_GRACE_S)
        if self.clock() - idle_since >= grace_s:
            return True, False
        if served:
            return False, False  # we hold nothing anyone waits for
        if not holds_lease:
            waiting = bool(self._waiter_ages(False))  # a reader with nothing to do lets any waiter in now
            return waiting, waiting
        over = self.turn_over(opened_at)
        return over, over

    def still_yielding(self, since: float) -> bool:
        """Having stepped aside at `since`: stay away? (until the waiters are in, or MAX_YIELD_S)"""
        return self.clock() - since < self.max_yield_s and bool(self._waiter_ages(False))

    def read_overstayed(self, started: float) -> bool:
        """Has our read on our own connection kept a waiting writer out too long?"""
        return self.clock() - started >= self.read_overstay_s and bool(self._waiter_ages(True))

    # ---- a process that wants in ---------------------------------------------------
    def reader_defers(self) -> bool:
        """Let a waiting writer go first? (one that has waited READERS_JOIN_S)"""
        return any(age >= self.readers_join_s for age in self._waiter_ages(True))

    def still_deferring(self, since: float, deadline: float) -> bool:
        now = self.clock()
        return now < deadline and now - since < self.max_defer_s and bool(self._waiter_ages(True))

    def holder_to_try(self, refused_pid: int | None) -> dict | None:
        """A published read server we have not already failed to reach."""
        record = self._holder()
        return record if record is not None and record["pid"] != refused_pid else None

    def served_deadline(self, deadline: float) -> float:
        """How long a served request may take: --wait, but never less than SERVED_READ_MIN_S."""
        now = self.clock()
        return now + max(deadline - now, SERVED_READ_MIN_S)
