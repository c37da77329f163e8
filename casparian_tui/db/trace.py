"""An opt-in timeline of what the DB actor does, for diagnosing turn-taking.

Set `CASPARIAN_DB_TRACE=/path/file` and every actor in every process appends
one JSON line per event (open, request, close — a close says why: done,
idle or step aside) with wall-clock time and pid, so the timelines of a
writer and its readers can be merged.
When unset, an event costs one check of a module global.
"""

from __future__ import annotations

import json
import os
import threading
import time

_PATH = os.environ.get("CASPARIAN_DB_TRACE") or None
_lock = threading.Lock()


def event(name: str, **fields) -> None:
    if _PATH is None:
        return
    line = json.dumps({"t": round(time.time(), 4), "pid": os.getpid(), "event": name, **fields})
    with _lock:
        try:
            with open(_PATH, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError:
            pass  # a trace must never break the work it watches


def read(path) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError:
        return []
