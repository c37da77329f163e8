"""How fast the Query screen answers over big Parquet: first page painted, next page, a frequency table.

    python -m casparian_tui.bench.query_probe [--mb 64] [--repeat 3]

Runs the real app headless (Textual's test driver) with the bench's Parquet
dataset published as the output `outputs.bench_rows` (a symlink in a fresh
home), presses run on `SELECT * FROM outputs.bench_rows`, and times: until
the first page is painted; scrolling to the next page until it is in the
grid and painted (the grid fetches the page after the one shown while it is
read, and counts the rows, so this waits for both first, as a reader would); and a
frequency table over a 1,000,000-row output column (`key`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from casparian_tui.config import Settings
from casparian_tui.db import Database

SQL = "SELECT * FROM outputs.bench_rows"
FREQ_ROWS = 1_000_000


def publish(home: Path, parquet_root: Path) -> None:
    """The dataset as parser `bench`, version 1, output `rows` (no copy)."""
    folder = home / "output" / "bench" / "1"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "rows"
    if not link.exists():
        os.symlink(parquet_root, link)


async def measure(settings: Settings, repeat: int) -> dict[str, list[float]]:
    from casparian_tui.outputs.results import ResultSet
    from casparian_tui.tui.app import CasparianApp
    from casparian_tui.tui.settle import settled

    out: dict[str, list[float]] = {"first_page_painted_ms": [], "next_page_ms": [], "frequency_1m_ms": []}
    db = Database(settings)
    db.query_value("SELECT 1")
    app = CasparianApp(db, deterministic=True)
    async with app.run_test(size=(130, 40)) as pilot:
        await app.switch_mode("query")
        await settled(app, pilot)
        screen = app.screen
        grid = screen.query_one("#query-results")
        for i in range(repeat + 1):  # the first is a warm-up
            t = time.perf_counter()
            screen.run_sql(SQL, remember=False)
            while grid.running or grid.loaded == 0:
                await asyncio.sleep(0.0005)
            await settled(app, pilot)
            first = (time.perf_counter() - t) * 1000
            table = grid.table
            # The grid fetches the next page, then counts the rows, while the first page is read;
            # scrolling before either ends would time those requests (or their repaint), not the scroll.
            while grid.result.fetching or grid.result.row_count is None:
                await asyncio.sleep(0.0005)
            await settled(app, pilot)
            t = time.perf_counter()
            loaded = grid.loaded
            table.move_cursor(row=loaded - 1)
            while grid.loaded == loaded:
                await asyncio.sleep(0.0005)
            out.setdefault("next_page_in_grid_ms", []).append((time.perf_counter() - t) * 1000)
            await settled(app, pilot)
            nxt = (time.perf_counter() - t) * 1000
            if i:
                out["first_page_painted_ms"].append(first)
                out["next_page_ms"].append(nxt)
        result = ResultSet(db, "SELECT key FROM outputs.bench_rows LIMIT ?", screen.output_root(),
                           params=[FREQ_ROWS])
        await asyncio.wrap_future(result.open())
        for i in range(repeat + 1):
            t = time.perf_counter()
            freq = await asyncio.wrap_future(result.frequency("key"))
            if i:
                out["frequency_1m_ms"].append((time.perf_counter() - t) * 1000)
        out["frequency_rows"] = [float(freq.total)]
        result.close()
    return out


def run(parquet_root: Path, repeat: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="casparian-query-probe-") as tmp:
        home = Path(tmp) / "home"
        publish(home, parquet_root)
        settings = Settings.resolve(backend="duckdb", command="bench query_screen",
                                    env={"CASPARIAN_HOME": str(home)})
        return asyncio.run(measure(settings, repeat))


def main() -> None:
    from casparian_tui.bench import corpora

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=int, default=64)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        res = run(corpora.parquet_dataset(Path(cache), args.mb), args.repeat)
    for key, samples in res.items():
        print(f"{key:24} median {statistics.median(samples):8.1f}  range {min(samples):.1f}-{max(samples):.1f}")


if __name__ == "__main__":
    main()
