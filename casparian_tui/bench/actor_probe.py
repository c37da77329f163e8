"""Cost of opening/closing the database file and of one trip through the DB actor.

    python -m casparian_tui.bench.actor_probe [--requests N]

Printed figures are medians over repeated runs on a scratch database in a
temporary folder. `casparian bench` will own the full suite.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.db.duckdb_backend import DuckDBConnection
from casparian_tui.db.sqlite_backend import SQLiteConnection

FACTORIES = {"duckdb": DuckDBConnection, "sqlite": SQLiteConnection}


def median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def probe(backend: str, folder: Path, requests: int) -> dict:
    path = folder / f"probe.{backend}"
    settings = Settings.resolve(db=path, backend=backend, env={})
    with Database(settings) as db:
        db.query_value("SELECT 1")  # create + migrate
    factory = FACTORIES[backend]

    def open_close(read_only: bool):
        factory(path, read_only=read_only).close()

    def write_then_close():
        conn = factory(path, read_only=False)
        rows = pa.table({"name": [f"s{time.perf_counter_ns()}_{i}" for i in range(10_000)], "root": ["/"] * 10_000,
                         "created_at": [0] * 10_000, "updated_at": [0] * 10_000})
        with conn.transaction():
            conn.bulk_insert("scout_sources", rows)
        t = time.perf_counter()
        conn.close()
        return (time.perf_counter() - t) * 1000

    out = {
        "open_close_rw_ms": median_ms(lambda: open_close(False), 30),
        "open_close_ro_ms": median_ms(lambda: open_close(True), 30),
        "close_after_10k_row_write_ms": statistics.median(write_then_close() for _ in range(5)),
    }
    direct = factory(path, read_only=False)
    out["direct_select1_us"] = median_ms(lambda: [direct.query_value("SELECT 1") for _ in range(requests)], 5) * 1000 / requests
    direct.close()
    with Database(settings) as db:
        db.query_value("SELECT 1")
        out["actor_select1_us"] = median_ms(lambda: [db.query_value("SELECT 1") for _ in range(requests)], 5) * 1000 / requests
        out["actor_noop_us"] = median_ms(lambda: [db.read(lambda c: None) for _ in range(requests)], 5) * 1000 / requests
    out["actor_overhead_us"] = out["actor_select1_us"] - out["direct_select1_us"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("duckdb", "sqlite"):
            res = probe(backend, Path(tmp), args.requests)
            print(backend, "  ".join(f"{k}={v:.3f}" for k, v in res.items()))


if __name__ == "__main__":
    main()
