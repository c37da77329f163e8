"""The schema check a process passes once before its first request.

A database at the schema this code expects is used as is; an older one is
migrated under the writer lease (or refused in read-only mode); a newer one
is never touched; a missing one is created (or refused in read-only mode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from casparian_tui.db.lease import cannot_write
from casparian_tui.db.schema import LATEST_VERSION
from casparian_tui.errors import DatabaseError, NoDatabase

if TYPE_CHECKING:
    from casparian_tui.db.remote_connection import RemoteConnection
    from casparian_tui.db.shared_file import SharedFile


def current_over(conn: "RemoteConnection") -> bool:
    """Is the database behind a served connection at our schema? (False: check it ourselves)"""
    from casparian_tui.db.remote_connection import NotServed

    if conn.holder.get("schema") == LATEST_VERSION:  # published by the holder once settled
        return True
    # One statement, not current_version's two: the holder has the file open read-write,
    # so it made the version table; a database without one fails here and is checked by us.
    try:
        return int(conn.query_value("SELECT max(version) FROM cf_schema_version", default=0)) == LATEST_VERSION
    except (NotServed, DatabaseError):
        return False


def ensure(shared: "SharedFile", deadline: float) -> None:
    """Open the file, check its schema, migrate it if needed; leaves it open."""
    from casparian_tui.db.migrate import check_not_newer, current_version, migrate  # not for served readers

    settings = shared.settings
    path = settings.db_path
    exists = path.exists() and path.stat().st_size > 0
    if exists:
        shared.conn = shared.open(read_only=shared.read_only_connection(), deadline=deadline)
        version = current_version(shared.conn)
        if version == LATEST_VERSION:
            _passed(shared)
            return
        check_not_newer(version, path)
        if settings.read_only:
            shared.close()
            raise DatabaseError(
                f"Database {path} has schema version {version}; this Casparian needs {LATEST_VERSION}.",
                hint="Run any command once without --read-only to migrate it.",
            )
    elif settings.read_only:
        raise NoDatabase(
            f"No database at {path}.",
            hint="Run a command without --read-only once to create it, or point --db at an existing file.",
        )
    if shared.conn is not None and shared.conn.read_only:
        shared.close()
    shared.take_lease(deadline)
    if shared.conn is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cannot_write(path.parent, exc) from exc
        shared.conn = shared.open(read_only=False, deadline=deadline)
    version = current_version(shared.conn)
    check_not_newer(version, path)
    if version < LATEST_VERSION:
        shared.conn.prepare_new()
        migrate(shared.conn)
    _passed(shared)


def _passed(shared: "SharedFile") -> None:
    shared.schema_checked = True
    # Holding the file read-write, we alone could change its version: callers may rely on it.
    shared.publish_schema(LATEST_VERSION)
