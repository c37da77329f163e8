"""Where the database lives and how to open it.

Resolution order for every setting: command-line option, then environment,
then default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from casparian_tui.errors import UsageError

BACKENDS = ("duckdb", "sqlite", "postgres")
PG_PREFIXES = ("postgresql://", "postgres://")
DB_FILENAMES = {"duckdb": "casparian_flow.duckdb", "sqlite": "casparian_flow.sqlite"}


def db_file(folder: Path, backend: str, stem: str) -> Path:
    """A database file named `stem` in `folder`, with the file backend's own suffix."""
    return folder / (stem + Path(DB_FILENAMES[backend]).suffix)
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
DEFAULT_WAIT_S = 30.0
DEFAULT_IDLE_GRACE_S = 0.3

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def home_dir(env: os._Environ | dict | None = None) -> Path:
    env = os.environ if env is None else env
    raw = env.get("CASPARIAN_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".casparian_flow"


@dataclass(frozen=True)
class Settings:
    home: Path
    backend: str
    db_path: Path
    read_only: bool = False
    wait_s: float = DEFAULT_WAIT_S
    idle_grace_s: float = DEFAULT_IDLE_GRACE_S
    command: str = "casparian"
    # Whether a process holding the DuckDB file read-write answers other
    # processes' reads (CASPARIAN_SERVE_READS=0: they take turns instead).
    serve_reads: bool = True
    # PostgreSQL: the connection string (may hold a password: never print it; see `location`).
    dsn: str = ""

    @property
    def location(self) -> str:
        """Where the database is, safe to show: a file path, or host:port/dbname."""
        if self.backend != "postgres":
            return str(self.db_path)
        from casparian_tui.db.pg_dsn import describe

        return describe(self.dsn)

    @property
    def db_arg(self) -> str:
        """What --db / CASPARIAN_DB takes to reach this database again (a child process)."""
        return self.dsn if self.backend == "postgres" else str(self.db_path)

    @classmethod
    def resolve(
        cls,
        *,
        db: str | os.PathLike | None = None,
        backend: str | None = None,
        read_only: bool | None = None,
        wait_s: float | None = None,
        command: str | None = None,
        env: dict | None = None,
    ) -> "Settings":
        env = dict(os.environ) if env is None else env
        home = home_dir(env)
        db = db if db is not None else env.get("CASPARIAN_DB") or None
        backend = backend or env.get("CASPARIAN_BACKEND") or None
        is_url = db is not None and str(db).lower().startswith(PG_PREFIXES)
        if backend is None and db is not None and str(db).lower().endswith(SQLITE_SUFFIXES):
            backend = "sqlite"
        if backend is None and is_url:
            backend = "postgres"
        backend = (backend or "duckdb").lower()
        if backend not in BACKENDS:
            raise UsageError(
                f"Unknown backend {backend!r}.", hint=f"Choose one of: {', '.join(BACKENDS)}."
            )
        dsn = ""
        if backend == "postgres":
            # Without --db, libpq's own defaults (PGHOST, PGDATABASE, ... and ~/.pgpass) apply.
            dsn = str(db) if db else ""
            db_path = home / "postgres"  # no file: lease and waiter files are never used here
        elif is_url:
            raise UsageError(f"A PostgreSQL URL needs --backend postgres, not {backend}.")
        else:
            db_path = Path(db).expanduser() if db else home / DB_FILENAMES[backend]
        if read_only is None:
            read_only = env.get("CASPARIAN_READONLY", "").strip().lower() in _TRUE
        if wait_s is None:
            wait_s = DEFAULT_WAIT_S
        if wait_s < 0:
            raise UsageError("--wait must be zero or more seconds.")
        grace = env.get("CASPARIAN_IDLE_GRACE")
        return cls(
            home=home,
            backend=backend,
            db_path=db_path.absolute(),
            read_only=bool(read_only),
            wait_s=float(wait_s),
            idle_grace_s=float(grace) if grace else DEFAULT_IDLE_GRACE_S,
            command=command or "casparian",
            serve_reads=env.get("CASPARIAN_SERVE_READS", "1").strip().lower() not in _FALSE,
            dsn=dsn,
        )

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)
