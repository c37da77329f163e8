"""What `casparian db info` and the Settings screen show about a database."""

from __future__ import annotations

import os

from casparian_tui.db.database import Database
from casparian_tui.db.lease import read_holder
from casparian_tui.db.migrate import current_version


def file_size(path) -> int:
    """Bytes on disk, including a write-ahead log that has not been folded in yet."""
    total = 0
    for suffix in ("", ".wal", "-wal"):
        p = path.with_name(path.name + suffix)
        if p.exists():
            total += p.stat().st_size
    return total


def database_info(db: Database) -> dict:
    version = db.read(current_version)
    holder = read_holder(db.path)
    if holder and holder.get("pid") == os.getpid():
        holder = None  # our own short write (creating or migrating) is not news
    return {
        "backend": db.backend,
        "path": str(db.path),
        "size_bytes": file_size(db.path),
        "schema_version": version,
        "read_only": db.read_only,
        "lease": holder,
    }
