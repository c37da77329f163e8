"""Waiting until the TUI shows the result of an action: what a user waits for.

Used by the TUI benchmark (bench/tui_probe.py); it lives here because nothing
outside `tui/` may import textual.
"""

from __future__ import annotations

import asyncio

from textual.worker import WorkerState


def _dirty(screen) -> bool:
    """Something on the screen changed and is not painted yet (Textual's own flags)."""
    return bool(
        screen._layout_required
        or screen._scroll_required
        or screen._repaint_required
        or screen._recompose_required
        or screen._dirty_widgets
        or screen._callbacks
    )


async def settled(app, pilot) -> None:
    """Until the current screen has handled its messages, finished its loads, and painted the result.

    This is what a user waits for after a key. Not `pilot.pause()`: that sleeps
    in 20 ms steps until the whole process (DB thread included) has used under
    1 ms of CPU for 20 ms, which adds 20-40 ms of sleeping (far more on a busy
    machine) that no user sees. Paints still happen on Textual's own frame timer.
    """
    clean_checks = 0
    while clean_checks < 2:  # twice: an idle handler (DataTable's) may dirty it again
        await pilot._wait_for_screen()
        screen = app.screen
        busy = any(
            w.node is screen and w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers
        )
        clean_checks = 0 if busy or _dirty(screen) else clean_checks + 1
        await asyncio.sleep(0.0005 if clean_checks == 0 else 0)
