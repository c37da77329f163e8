"""Several processes on one database file take turns (real processes)."""

import json
import subprocess
import sys
import time

import pytest

from casparian_tui.db import Database

WRITER = """
import sys, time, json
import pyarrow as pa
from casparian_tui.config import Settings
from casparian_tui.db import Database
s = Settings.resolve(db=sys.argv[1], backend=sys.argv[2], env={}, command="writer")
seconds = float(sys.argv[3])
db = Database(s)
batch = pa.table({"job_id": list(range(20000)), "event_at": [0]*20000, "event": ["e"]*20000})
start = time.monotonic(); n = 0
print("started", flush=True)
while time.monotonic() - start < seconds:
    db.write("log events", lambda c: c.bulk_insert("cf_job_events", batch))
    n += 1
db.close()
print(json.dumps({"batches": n, "steps_aside": db.actor.steps_aside}), flush=True)
"""

READER = """
import sys, time, json
from casparian_tui.config import Settings
from casparian_tui.db import Database
s = Settings.resolve(db=sys.argv[1], backend=sys.argv[2], env={}, wait_s=10)
db = Database(s)
t = time.monotonic()
n = db.query_value("SELECT count(*) FROM cf_job_events")
print(json.dumps({"latency": time.monotonic() - t, "count": n}))
db.close()
"""


@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
def test_reader_process_gets_in_while_a_writer_process_works(tmp_path, backend):
    path = tmp_path / f"turns.{backend}"
    with Database(__import__("casparian_tui.config", fromlist=["Settings"]).Settings.resolve(db=path, backend=backend, env={})) as db:
        db.query_value("SELECT 1")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), backend, "6"], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "started"
    latencies = []
    counts = []
    for _ in range(6):
        out = subprocess.run([sys.executable, "-c", READER, str(path), backend], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        answer = json.loads(out.stdout)
        latencies.append(answer["latency"])
        counts.append(answer["count"])
    summary = json.loads(writer.communicate(timeout=60)[0])
    print(backend, "latencies", [round(x, 3) for x in latencies], summary)
    assert writer.returncode == 0
    # each reader got its answer within about 2 s of asking (target 2 s; margin for a busy CI machine)
    assert max(latencies) < 3.0, latencies
    assert counts == sorted(counts)
    assert summary["batches"] > 0, summary
    if backend == "duckdb":
        assert summary["steps_aside"] >= 1, summary
