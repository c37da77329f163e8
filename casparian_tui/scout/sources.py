"""Sources: the folders Casparian catalogs (scout_sources).

A source is a name and an absolute root folder. The root is stored with
`encode_name` like every path, resolved with `realpath` so one folder cannot
be registered twice under two spellings. Removing a source removes its
catalog rows (files, their tags, folder aggregates, scan runs).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

from casparian_tui.db import Database
from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.scout.pathcodec import decode_name, display_name, encode_name, shown_path

_COLUMNS = "id, name, root, enabled, created_at, updated_at, last_scan_at, file_count, total_bytes"


@dataclass(frozen=True)
class Source:
    id: int
    name: str
    root: str  # stored (encoded) text; `root_path` is the OS path
    enabled: bool
    created_at: int
    updated_at: int
    last_scan_at: int | None
    file_count: int
    total_bytes: int

    @property
    def root_path(self) -> str:
        """The root as the OS spells it (surrogate-escaped where needed)."""
        return decode_name(self.root)

    @property
    def root_display(self) -> str:
        """Printable text; in `--json` the exact root (see pathcodec.ShownPath)."""
        return shown_path(self.root)

    def to_json(self) -> dict:
        d = asdict(self)
        d["root"] = self.root_display
        d["enabled"] = bool(self.enabled)
        return d


def now_us() -> int:
    return time.time_ns() // 1000


def _row(r: tuple | None) -> Source | None:
    return Source(*r) if r else None


def resolve_root(path: str | os.PathLike) -> str:
    """The OS path of a folder a user named, checked; raises a clear error."""
    raw = os.fspath(path)
    if isinstance(raw, bytes):
        raw = os.fsdecode(raw)
    if not raw:
        raise UsageError("The folder path is empty.")
    real = os.path.realpath(os.path.expanduser(raw))
    shown = display_name(encode_name(raw))
    if not os.path.exists(real):
        raise CasparianError(f"No such folder: {shown}", hint="Check the path; use an absolute path if unsure.")
    if not os.path.isdir(real):
        raise CasparianError(f"Not a folder: {shown}", hint="Give the folder that contains the file.")
    if not os.access(real, os.R_OK | os.X_OK):
        raise CasparianError(
            f"Cannot read folder: {shown}", hint="Check its permissions (it needs read and execute for you)."
        )
    return real


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise UsageError("A source name cannot be empty.")
    if not name.isprintable():
        raise UsageError("A source name cannot hold control characters.")
    return name


def get_source(conn: Connection, name: str) -> Source | None:
    # encoded: a folder path typed where a name may be is not always UTF-8
    return _row(conn.query_one(f"SELECT {_COLUMNS} FROM scout_sources WHERE name = ?", [encode_name(name)]))


def get_source_by_id(conn: Connection, source_id: int) -> Source | None:
    return _row(conn.query_one(f"SELECT {_COLUMNS} FROM scout_sources WHERE id = ?", [source_id]))


def source_for_root(conn: Connection, root_os_path: str) -> Source | None:
    return _row(conn.query_one(f"SELECT {_COLUMNS} FROM scout_sources WHERE root = ?", [encode_name(root_os_path)]))


def list_sources(db: Database) -> list[Source]:
    rows = db.query_all(f"SELECT {_COLUMNS} FROM scout_sources ORDER BY name")
    return [Source(*r) for r in rows]


def find_source(db: Database, name: str) -> Source:
    """The source called `name`; a clear error when there is none."""
    src = db.read(lambda c: get_source(c, name))
    if src is None:
        raise CasparianError(
            f"No source named {display_name(encode_name(name))!r}.",
            hint="See `casparian source list`, or add one with `casparian source add PATH`.",
        )
    return src


def _unique_name(conn: Connection, base: str) -> str:
    base = base or "root"
    taken = {r[0] for r in conn.query_all("SELECT name FROM scout_sources")}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def add_source(db: Database, path: str | os.PathLike, name: str | None = None, *, exist_ok: bool = False) -> Source:
    """Register a folder as a source. With `exist_ok`, a folder that already
    is a source returns that source instead of failing (what `scan PATH` wants).
    """
    root = resolve_root(path)
    wanted = _check_name(name) if name is not None else None

    def add(conn: Connection) -> Source:
        existing = source_for_root(conn, root)
        if existing is not None:
            if exist_ok and (wanted is None or wanted == existing.name):
                return existing
            raise CasparianError(
                f"{display_name(existing.root)} is already the source {existing.name!r}.",
                hint=f"Scan it with `casparian scan {existing.name}`.",
            )
        if wanted is not None:
            if get_source(conn, wanted) is not None:
                raise CasparianError(
                    f"A source named {wanted!r} already exists.", hint="Pick another --name."
                )
            chosen = wanted
        else:
            # Name after the folder; made unique, and printable for the CLI.
            chosen = _unique_name(conn, display_name(encode_name(os.path.basename(root) or root)))
        ts = now_us()
        conn.execute(
            "INSERT INTO scout_sources (name, root, enabled, created_at, updated_at) VALUES (?, ?, TRUE, ?, ?)",
            [chosen, encode_name(root), ts, ts],
        )
        return get_source(conn, chosen)

    return db.write("add a source", add)


def remove_source(db: Database, name: str) -> dict:
    """Delete a source and its catalog rows; returns what was removed."""

    def remove(conn: Connection) -> dict:
        src = get_source(conn, name)
        if src is None:
            raise CasparianError(
                f"No source named {name!r}.", hint="See `casparian source list`."
            )
        # No foreign keys (see db/schema.py), so children go first, explicitly.
        tags = conn.execute(
            "DELETE FROM scout_file_tags WHERE file_id IN (SELECT id FROM scout_files WHERE source_id = ?)",
            [src.id],
        )
        files = conn.execute("DELETE FROM scout_files WHERE source_id = ?", [src.id])
        conn.execute("DELETE FROM scout_folders WHERE source_id = ?", [src.id])
        conn.execute("DELETE FROM scout_scan_runs WHERE source_id = ?", [src.id])
        conn.execute("DELETE FROM scout_sources WHERE id = ?", [src.id])
        return {"source": src.name, "root": src.root_display, "files_removed": files, "tags_removed": tags}

    return db.write("remove a source", remove)


def source_details(db: Database, name: str) -> dict:
    """A source plus its catalog figures and last scan, for `source show`."""
    src = find_source(db, name)

    def details(conn: Connection) -> dict:
        live, live_bytes, deleted = conn.query_one(
            "SELECT count(*) FILTER (WHERE deleted_at IS NULL),"
            " coalesce(sum(size) FILTER (WHERE deleted_at IS NULL), 0),"
            " count(*) FILTER (WHERE deleted_at IS NOT NULL)"
            " FROM scout_files WHERE source_id = ?",
            [src.id],
        )
        by_status = dict(
            conn.query_all(
                "SELECT status, count(*) FROM scout_files WHERE source_id = ? AND deleted_at IS NULL"
                " GROUP BY status ORDER BY status",
                [src.id],
            )
        )
        last = conn.query_dicts(
            "SELECT id, started_at, finished_at, status, files_found, new_files, changed_files,"
            " unchanged_files, renamed_files, deleted_files, error_count, duration_s"
            " FROM scout_scan_runs WHERE source_id = ? ORDER BY id DESC LIMIT 1",
            [src.id],
        )
        out = src.to_json()
        out.update(
            files=int(live),
            bytes=int(live_bytes),
            deleted_files=int(deleted),
            by_status={k: int(v) for k, v in by_status.items()},
            last_scan=last[0] if last else None,
        )
        return out

    return db.read(details)
