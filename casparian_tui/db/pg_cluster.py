"""A throwaway PostgreSQL server (for the tests and `casparian bench`), and fresh databases on it.

Given a base DSN (a role that may create databases), that server is used.
Otherwise, when the server binaries are installed, a cluster is made in a
temp folder: Unix socket only, `fsync=off`, stopped at the end. initdb
refuses to run as root, so as root the cluster runs as `postgres`.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

_ids = itertools.count()


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    return None


def unavailable_reason(base: str = "", dsn_hint: str = "a DSN") -> str | None:
    """Why no server can be had here, or None when one can (`base`: a server given by the user)."""
    if base:
        return None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'casparian-flow[postgres]')"
    if not (_binary("initdb") and _binary("pg_ctl")):
        return f"no PostgreSQL server binaries (initdb, pg_ctl) and {dsn_hint} is not set"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run initdb as"
    return None


class Cluster:
    """A server we may create databases on; `dsn(name)` points at one of them."""

    def __init__(self, base: str = "", prefix: str = "cf_test") -> None:
        self.folder: Path | None = None
        self._base = base
        self._prefix = prefix
        self._made: list[str] = []
        self.template = f"{prefix}_template"

    def start(self) -> None:
        if self._base:
            return
        folder = Path(tempfile.mkdtemp(prefix="cf-pg-"))
        self.folder = folder
        data = folder / "data"
        user = _as_user()
        if user:
            info = pwd.getpwnam(user)
            os.chown(folder, info.pw_uid, info.pw_gid)
        self._run(user, [_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                         "--no-sync", "-E", "UTF8", "--locale=C"])
        options = (f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c listen_addresses='' "
                   f"-c unix_socket_directories={folder} -c max_connections=200")
        self._run(user, [_binary("pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
                         "-w", "start"])
        self._base = f"postgresql://postgres@/postgres?host={folder}"

    def stop(self) -> None:
        """Stop the cluster we started; on a given server, drop the databases we made instead."""
        if self.folder is None:
            for name in self._made:
                self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            self._made.clear()
            return
        self._run(_as_user(), [_binary("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    @staticmethod
    def _run(user: str | None, cmd: list) -> None:
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{done.stdout}\n{done.stderr}")

    def dsn(self, dbname: str) -> str:
        """A postgresql:// URL (so --db alone implies the backend) naming `dbname` on this server."""
        from urllib.parse import quote, urlsplit, urlunsplit

        url = urlsplit(self._base)
        return urlunsplit((url.scheme, url.netloc, "/" + quote(dbname), url.query, ""))

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as con:
            con.execute(sql)

    def make_template(self) -> None:
        """A migrated database every test database is copied from (a copy is ~10x faster than migrating)."""
        from casparian_tui.config import Settings
        from casparian_tui.db import Database

        self.admin(f"DROP DATABASE IF EXISTS {self.template}")
        self.admin(f"CREATE DATABASE {self.template}")
        self._made.append(self.template)
        settings = Settings.resolve(db=self.dsn(self.template), backend="postgres", command=self._prefix, env={})
        with Database(settings) as db:
            db.read(lambda c: None)

    def new_database(self) -> str:
        """The DSN of a fresh, migrated database of its own."""
        name = f"{self._prefix}_{os.getpid()}_{next(_ids)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        self._made.append(name)
        return self.dsn(name)

    def empty_database(self) -> str:
        """The DSN of a fresh database with no tables."""
        name = f"{self._prefix}_empty_{os.getpid()}_{next(_ids)}"
        self.admin(f"CREATE DATABASE {name}")
        self._made.append(name)
        return self.dsn(name)


def _as_user() -> str | None:
    return "postgres" if os.geteuid() == 0 else None
