"""One line about who may write, for status bars (TUI) and `db info`."""

from __future__ import annotations

import os

from casparian_tui.db.database import Database
from casparian_tui.db.lease import pid_alive, read_holder


SHARED = "shared server, no lease"


def short_holder(holder: dict) -> str:
    command = str(holder.get("command", "?"))
    if len(command) > 48:
        command = command[:47] + "…"
    return f"PID {holder.get('pid')}: {command}"


def lease_state(db: Database) -> str:
    """`writer`, `read-only`, `waiting for lock (PID n: cmd)`, `reading through
    PID n: cmd` (another process answers our reads) or `locked by PID n: cmd`.

    Reads the lease record file only; never waits on the database.
    """
    if db.shared:  # a server: no lease, nobody waits for anybody
        return "read-only" if db.read_only else SHARED
    actor = db.actor
    if actor.waiting_for:
        return f"waiting for lock ({actor.waiting_for})"
    through = actor.reading_through
    if through and pid_alive(through.get("pid", 0)):
        return f"reading through {short_holder(through)}"
    if db.read_only:
        return "read-only"
    if actor.is_writer:
        return "writer"
    holder = read_holder(db.path)
    if holder and holder.get("pid") != os.getpid():
        return f"locked by {short_holder(holder)}"
    return "writer"


def other_activity(db: Database) -> str | None:
    """What another process holding the lease says it is doing, if anything."""
    if db.shared:
        return None
    holder = read_holder(db.path)
    if holder and holder.get("pid") != os.getpid() and holder.get("activity"):
        return f"PID {holder['pid']}: {holder['activity']}"
    return None
