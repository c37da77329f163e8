"""Bringing a database to the schema this code expects."""

from __future__ import annotations

import time

from casparian_tui.db.connection import Connection
from casparian_tui.db.schema import LATEST_VERSION, MIGRATIONS, VERSION_TABLE, statements_for
from casparian_tui.errors import SchemaTooNew


def now_us() -> int:
    return time.time_ns() // 1000


def current_version(conn: Connection) -> int:
    """0 for an empty database."""
    if "cf_schema_version" not in conn.table_names():
        return 0
    return int(conn.query_value("SELECT max(version) FROM cf_schema_version", default=0))


def check_not_newer(version: int, path) -> None:
    if version > LATEST_VERSION:
        raise SchemaTooNew(
            f"Database schema version {version} is newer than this Casparian understands "
            f"(up to {LATEST_VERSION}): {path}",
            hint="Upgrade Casparian to use this database; it was left untouched.",
        )


def migrate(conn: Connection, target: int = LATEST_VERSION) -> list[int]:
    """Apply every missing migration up to `target` in one transaction.

    Returns the versions applied. A failure rolls everything back.
    """
    with conn.transaction(write=True):
        version = current_version(conn)
        applied = []
        if version >= target:
            return applied
        conn.execute(VERSION_TABLE)
        for m in MIGRATIONS:
            if version < m.version <= target:
                for stmt in statements_for(m, conn.backend):
                    conn.execute(stmt)
                if m.after is not None:
                    m.after(conn)
                conn.execute(
                    "INSERT INTO cf_schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.description, now_us()),
                )
                applied.append(m.version)
        return applied
