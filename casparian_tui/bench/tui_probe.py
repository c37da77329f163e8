"""How fast the TUI answers on a big catalog: first frame, screen switch, file-table refresh, preview.

    python -m casparian_tui.bench.tui_probe [--files 1000000] [--backend duckdb] [--keep DIR]

Runs the real app headless (Textual's test driver) on a synthetic catalog
built in a temporary folder (the same builder as preview_probe), or in DIR
with --keep (built once, reused by later runs with the same --files and
--backend). It prints the median and range of each figure's repeats;
`casparian bench` reports the same samples.
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
from casparian_tui.tui.settle import settled


async def _start(settings: Settings) -> tuple[float, float]:
    """One start of the app on its own Database (the app closes it on exit): ms until
    its first frame is painted, and until the file table has rows."""
    from casparian_tui.tui.app import CasparianApp

    app = CasparianApp(Database(settings), deterministic=True)
    started = time.perf_counter()
    async with app.run_test(size=(130, 40)) as pilot:
        frame = (time.perf_counter() - started) * 1000  # screen mounted and painted
        table = app.screen.query_one("#files")
        while table.row_count == 0:
            await asyncio.sleep(0.001)
        page = (time.perf_counter() - started) * 1000
        await settled(app, pilot)
    return frame, page


async def measure(db: Database, repeat: int) -> dict[str, list[float]]:
    """Each figure's samples in ms."""
    from casparian_tui.tui.app import CasparianApp

    out: dict[str, list[float]] = {"first_frame_ms": [], "first_page_of_files_ms": []}
    await _start(db.settings)  # warm-up
    for _ in range(repeat):
        frame, page = await _start(db.settings)
        out["first_frame_ms"].append(frame)
        out["first_page_of_files_ms"].append(page)

    app = CasparianApp(db, deterministic=True)
    async with app.run_test(size=(130, 40)) as pilot:
        table = app.screen.query_one("#files")
        while table.row_count == 0:
            await asyncio.sleep(0.001)
        await settled(app, pilot)

        # Refresh: the DB round trip plus the table rebuild (the rows are in the
        # table), and the same until the new rows are painted.
        refresh, painted, db_part = [], [], []
        for _ in range(repeat):
            t = time.perf_counter()
            await app.screen.load_files()
            refresh.append((time.perf_counter() - t) * 1000)
            db_part.append(app.last_refresh_ms)
            await settled(app, pilot)
            painted.append((time.perf_counter() - t) * 1000)
        out["file_table_refresh_ms"] = refresh
        out["file_table_refresh_painted_ms"] = painted
        out["file_table_refresh_db_ms"] = db_part

        # The same after the actor closed the database for being idle (DESIGN
        # 3.3): what a user who looked at the screen for a while waits for.
        after_idle = []
        for _ in range(max(3, repeat // 2)):
            await asyncio.sleep(db.settings.idle_grace_s + 0.2)
            t = time.perf_counter()
            await app.screen.load_files()
            await settled(app, pilot)
            after_idle.append((time.perf_counter() - t) * 1000)
        out["file_table_refresh_after_idle_ms"] = after_idle

        # Next/previous page (what `]` `[` run; pilot.press() would add its own
        # idle waits): new rows, so the table is rebuilt and repainted.
        pages = []
        for i in range(repeat):
            t = time.perf_counter()
            app.screen.action_page(1 if i % 2 == 0 else -1)
            await settled(app, pilot)
            pages.append((time.perf_counter() - t) * 1000)
        out["file_table_page_ms"] = pages

        # Screen switch = switch the mode until the screen is painted with the
        # data it loads on arrival (the Jobs screen re-reads its queue on
        # resume). The first visit also mounts the screen; later visits reuse it.
        switches: dict[str, list[float]] = {"jobs": [], "discover": []}
        for mode in ["jobs", "discover"] * (repeat + 1):
            t = time.perf_counter()
            await app.switch_mode(mode)
            await settled(app, pilot)
            switches[mode].append((time.perf_counter() - t) * 1000)
        out["screen_switch_ms_first"] = switches["jobs"][:1]
        later = switches["jobs"][1:] + switches["discover"][1:]
        out["screen_switch_ms"] = later
        out["screen_switch_ms[jobs]"] = switches["jobs"][1:]
        out["screen_switch_ms[discover]"] = switches["discover"][1:]

        for pattern in ("*.evtx", "**/*.log", "dir7*/**"):
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                await app.db_read(lambda c, p=pattern: preview(c, p))
                times.append((time.perf_counter() - t) * 1000)
            out[f"preview_ms[{pattern}]"] = times
    return out


async def idle_cpu(db: Database, seconds: float, keys: tuple[str, ...] = ("1", "2", "3", "4", "5")) -> dict[str, float]:
    """Per screen (its key), the % of one core the app uses while nobody touches it.

    The real app with its real timers (status bar, change watcher), headless;
    CPU time of the whole process (the DB actor thread included) over `seconds`
    of wall time, after the screen has loaded and settled.
    """
    from casparian_tui.tui.app import CasparianApp

    out = {}
    app = CasparianApp(db)
    async with app.run_test(size=(130, 40)) as pilot:
        for key in keys:
            await pilot.press(key)
            await settled(app, pilot)
            await asyncio.sleep(1.0)  # first loads and the actor's idle close are behind us
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.sleep(seconds)
            out[key] = 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=["duckdb", "sqlite"], default="duckdb")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="build the catalog in this folder once and reuse it")
    args = ap.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(args, Path(tmp))


def run(args, folder: Path) -> None:
    path = folder / f"tui_{args.files}.{args.backend}"
    done = folder / f"tui_{args.files}.{args.backend}.done"  # an interrupted build is redone
    settings = Settings.resolve(db=path, backend=args.backend, env={})
    if not done.exists():
        path.unlink(missing_ok=True)
        with Database(settings) as db:
            built = build(db, args.files)
        done.write_text(str(args.files))
        print(f"{args.backend}: {args.files:,} files built in {built:.1f} s")
    else:
        print(f"{args.backend}: reusing {path}")
    with Database(settings) as db:
        res = asyncio.run(measure(db, args.repeat))
    for k, v in res.items():
        print(f"  {k:32s} {statistics.median(v):8.1f}   ({min(v):.1f}-{max(v):.1f}, {len(v)} runs)")


if __name__ == "__main__":
    main()
