"""Replacing a file's earlier output rows when the same parser version processes it again.

The database side (which jobs are superseded) is in `queue`; the file side
(rewriting part files without their rows) is in `outputs.parquet`. This
module joins the two: after new rows are published, the superseded jobs'
rows are removed and the jobs are marked retired. A crash in between leaves
them pending; `finish_pending` (run at the start of every run) completes it.
"""

from __future__ import annotations

from casparian_tui.db import Database
from casparian_tui.outputs import parquet
from casparian_tui.sentinel import queue as q


def retire(db: Database, superseded: list[tuple[int, list[str]]]) -> int:
    """Remove superseded jobs' rows from their parts; return how many jobs are now retired."""
    if not superseded:
        return 0
    paths = {p for _, ps in superseded for p in ps}
    # One pass over the union: a part holds only its own jobs' rows, and a
    # forced rerun supersedes thousands of jobs sharing a few parts.
    unpublished = parquet.retire_rows(paths, {jid for jid, _ in superseded})
    done = [jid for jid, ps in superseded if not unpublished.intersection(ps)]
    if done:
        db.write("retire superseded output rows", lambda c: q.mark_retired(c, done))
    return len(done)


def finish_pending(db: Database, parser_name: str, parser_version: str) -> int:
    pending = db.read(lambda c: q.pending_retirements(c, parser_name, parser_version))
    return retire(db, pending)
