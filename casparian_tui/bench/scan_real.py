"""One round of the scan_real benchmark: first scan, find, unchanged rescan,
then the end-of-scan work (folder aggregates, rule tagging) timed alone.

`find` is timed between the two scans of each round so every ratio compares
runs made moments apart on a shared machine.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from casparian_tui.db import Database


def scan_real_runs(new_db: Callable[[], Database], root: Path, n: int, runs: int) -> list[dict]:
    from casparian_tui.bench.scan_probe import scan_once, time_find
    from casparian_tui.scout import catalog_sync, rules

    out = []
    for _ in range(runs + 1):  # the first round warms up and is dropped
        db = new_db()
        try:
            db.query_value("SELECT 1")  # create + migrate outside the timings
            first_s, first = scan_once(db, root)
            assert first.files_found == n and first.new == n, first
            find_s = time_find(root, repeat=1)
            rescan_s, again = scan_once(db, root)
            assert again.unchanged == n and again.new == again.changed == again.deleted == 0, again
            find_s = min(find_s, time_find(root, repeat=1))
            sid = db.query_value("SELECT max(id) FROM scout_sources")
            t0 = time.perf_counter()
            db.write("bench folders", lambda c: catalog_sync.refresh_folders(c, sid))
            folders_s = time.perf_counter() - t0
            db.write("bench rule", lambda c: rules.add_rule(c, "**/*.py", "python"))
            t0 = time.perf_counter()
            db.write("bench tagging", lambda c: rules.apply_rules(c, source_id=sid))
            tagging_s = time.perf_counter() - t0
        finally:
            db.close()
        out.append({"first_s": first_s, "rescan_s": rescan_s, "find_s": find_s,
                    "folders_s": folders_s, "tagging_s": tagging_s})
    return out[1:]
