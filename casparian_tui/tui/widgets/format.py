"""Numbers and times as people read them."""

from __future__ import annotations

import datetime as _dt


def human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_time(epoch_us: int | None) -> str:
    """UTC, so the same catalog looks the same on every machine (and in snapshots)."""
    if not epoch_us:
        return ""
    return _dt.datetime.fromtimestamp(epoch_us / 1_000_000, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
