"""How fast the TUI answers on a big catalog: first frame, screen switch, file-table refresh, preview.

    python -m casparian_tui.bench.tui_probe [--files 1000000] [--backend duckdb]

Runs the real app headless (Textual's test driver) on a synthetic catalog
built in a temporary folder (the same builder as preview_probe). Figures are
medians; `casparian bench` will own them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from casparian_tui.bench.preview_probe import build
from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.scout.preview import preview


async def measure(db: Database, repeat: int) -> dict:
    from casparian_tui.tui.app import CasparianApp

    app = CasparianApp(db, deterministic=True)
    out: dict[str, float] = {}
    started = time.perf_counter()
    async with app.run_test(size=(130, 40)) as pilot:
        out["first_frame_ms"] = (time.perf_counter() - started) * 1000  # screen mounted and painted
        table = app.screen.query_one("#files")
        while table.row_count == 0:
            await asyncio.sleep(0.001)
        out["first_page_of_files_ms"] = (time.perf_counter() - started) * 1000
        await app.workers.wait_for_complete()

        refresh, db_part = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            await app.screen.load_files()
            refresh.append((time.perf_counter() - t) * 1000)
            db_part.append(app.last_refresh_ms)
        out["file_table_refresh_ms"] = statistics.median(refresh)
        out["file_table_refresh_db_ms"] = statistics.median(db_part)

        # Screen switch = switch the mode and let the next frame render. The first
        # visit also mounts the screen; later visits reuse it (as a user sees).
        switches = []
        for mode in ["jobs", "discover"] * (repeat + 1):
            t = time.perf_counter()
            await app.switch_mode(mode)
            await pilot.pause()
            switches.append((time.perf_counter() - t) * 1000)
            await app.workers.wait_for_complete()
        out["screen_switch_ms_first"] = switches[0]
        out["screen_switch_ms"] = statistics.median(switches[2:])

        for pattern in ("*.evtx", "**/*.log", "dir7*/**"):
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                await app.db_read(lambda c, p=pattern: preview(c, p))
                times.append((time.perf_counter() - t) * 1000)
            out[f"preview_ms[{pattern}]"] = statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=["duckdb", "sqlite"], default="duckdb")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.resolve(db=Path(tmp) / f"tui.{args.backend}", backend=args.backend, env={})
        with Database(settings) as db:
            built = build(db, args.files)
        print(f"{args.backend}: {args.files:,} files built in {built:.1f} s")
        with Database(settings) as db:
            res = asyncio.run(measure(db, args.repeat))
        for k, v in res.items():
            print(f"  {k:32s} {v:8.1f}")


if __name__ == "__main__":
    main()
