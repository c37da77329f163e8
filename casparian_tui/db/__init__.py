"""Database layer: backends, the DB actor thread, the writer lease, schema and migrations."""

from casparian_tui.db.database import Database

__all__ = ["Database"]
