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


def database_size(db: Database) -> int:
    """Bytes the database takes: its files, or on a server what the server reports."""
    if db.shared:
        return db.read(server_size)
    return file_size(db.path)


def server_size(conn) -> int:
    """What the server reports for the database (a server database has no file of ours)."""
    return conn.size_bytes()


def database_info(db: Database) -> dict:
    version = db.read(current_version)
    if db.shared:
        # No lease on a server: every process reads and writes at once (MVCC, row locks).
        holder = None
    else:
        holder = read_holder(db.path)
        if holder and holder.get("pid") == os.getpid():
            holder = None  # our own short write (creating or migrating) is not news
    return {
        "backend": db.backend,
        "path": db.location,
        "size_bytes": database_size(db),
        "schema_version": version,
        "read_only": db.read_only,
        "lease": holder,
        "sharing": "server: no writer lease, every process reads and writes at once" if db.shared
        else "writer lease, processes take turns",
    }
