"""Times as people read them (sizes: casparian_tui.units)."""

from __future__ import annotations

import datetime as _dt



def human_time(epoch_us: int | None) -> str:
    """UTC, so the same catalog looks the same on every machine (and in snapshots)."""
    if not epoch_us:
        return ""
    return _dt.datetime.fromtimestamp(epoch_us / 1_000_000, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
