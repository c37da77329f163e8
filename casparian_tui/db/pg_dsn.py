"""PostgreSQL connection strings: what may be shown of them (never credentials)."""

from __future__ import annotations

import os


def describe(dsn: str) -> str:
    """`host:port/dbname` of a DSN, filled from the PG* environment like libpq does."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn or "")
    except Exception:  # psycopg missing or a malformed string: show nothing of it
        parts = {}
    host = str(parts.get("host") or os.environ.get("PGHOST") or "localhost")
    port = str(parts.get("port") or os.environ.get("PGPORT") or "5432")
    user = parts.get("user") or os.environ.get("PGUSER")
    dbname = str(parts.get("dbname") or os.environ.get("PGDATABASE") or user or "postgres")
    return f"{host}:{port}/{dbname}"
