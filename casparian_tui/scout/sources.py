"""Sources: the folders Casparian catalogs (scout_sources).

A source is a name and an absolute root folder. The root is stored with
`encode_name` like every path, resolved with `realpath` so one folder cannot
be registered twice under two spellings. Removing a source removes its
catalog rows (files, their tags, folder aggregates, scan runs).

A file is one file whatever sources see it, so sources never nest: a folder
inside a source is refused (its files are already cataloged), and a new
source that contains existing ones absorbs them — their file rows move under
the new root with their ids, so tags, untags, jobs and outputs stay attached
and nothing is cataloged (or parsed) twice.
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


# `casparian run FILES` registers files it is given outside any source under
# this implicit source rooted at "/"; it holds single files, not a tree, so
# it takes no part in nesting.
ADHOC = ("adhoc", "/")


def _inside(root: str, outer: str) -> bool:
    """True when the encoded root `root` lies strictly below `outer`."""
    return root != outer and root.startswith(outer.rstrip("/") + "/")


def _tree_sources(conn: Connection, *, exclude_id: int | None = None) -> list[Source]:
    rows = conn.query_all(f"SELECT {_COLUMNS} FROM scout_sources ORDER BY root")
    return [Source(*r) for r in rows if (r[1], r[2]) != ADHOC and r[0] != exclude_id]


def enclosing_source(conn: Connection, root_os_path: str) -> Source | None:
    """The existing source whose root strictly contains this folder, if any."""
    root = encode_name(root_os_path)
    return next((s for s in _tree_sources(conn) if _inside(root, s.root)), None)


def nested_sources(conn: Connection, root_os_path: str) -> list[Source]:
    """The outermost existing sources whose roots lie strictly inside this folder."""
    root = encode_name(root_os_path)
    inner = [s for s in _tree_sources(conn) if _inside(s.root, root)]
    # Only the outermost: a pair nested in each other predates this rule and
    # would collide on its shared paths.
    return [s for s in inner if not any(_inside(s.root, o.root) for o in inner)]


def overlapping_sources(conn: Connection, source: Source) -> list[Source]:
    """Other sources nested in this one or containing it (catalogs from
    before nesting was refused can hold such pairs)."""
    if (source.name, source.root) == ADHOC:
        return []
    others = _tree_sources(conn, exclude_id=source.id)
    return [s for s in others if _inside(s.root, source.root) or _inside(source.root, s.root)]


def _absorb(conn: Connection, parent: Source, child: Source) -> dict:
    """Move a nested source's rows under the parent (same file ids), then drop it."""
    from casparian_tui.scout import catalog_sync

    prefix = child.root[len(parent.root.rstrip("/")) + 1 :]
    files = conn.execute(
        "UPDATE scout_files SET source_id = ?, rel_path = ? || rel_path,"
        " parent_path = CASE WHEN parent_path = '' THEN ? ELSE ? || parent_path END"
        " WHERE source_id = ?",
        [parent.id, prefix + "/", prefix, prefix + "/", child.id],
    )
    for table in ("scout_folders", "scout_scan_runs"):
        conn.execute(f"DELETE FROM {table} WHERE source_id = ?", [child.id])
    conn.execute("DELETE FROM scout_sources WHERE id = ?", [child.id])
    catalog_sync.refresh_folders(conn, parent.id)
    catalog_sync.refresh_source_totals(conn, parent.id, now_us())
    return {"source": child.name, "root": child.root_display, "files": files}


def add_source(
    db: Database,
    path: str | os.PathLike,
    name: str | None = None,
    *,
    exist_ok: bool = False,
    merged: list[dict] | None = None,
) -> Source:
    """Register a folder as a source. With `exist_ok`, a folder that already
    is a source returns that source instead of failing (what `scan PATH` wants).

    A folder inside an existing source is refused; existing sources inside
    the new folder are absorbed into it, each reported in `merged` (a list
    the caller passes to hear about it).
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
        outer = enclosing_source(conn, root)
        if outer is not None:
            raise CasparianError(
                f"{display_name(encode_name(root))} is inside the source {outer.name!r} ({outer.root_display}):"
                " its files are already cataloged there.",
                hint=f"Rescan it with `casparian scan {outer.name}`; select the folder with"
                " `casparian files --glob 'FOLDER/**'`.",
            )
        inner = nested_sources(conn, root)
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
        parent = get_source(conn, chosen)
        for child in inner:
            report = _absorb(conn, parent, child)
            if merged is not None:
                merged.append(report)
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
        from casparian_tui.scout.scan_changes import forget_source

        forget_source(conn, src.id)
        tags = conn.execute(
            "DELETE FROM scout_file_tags WHERE file_id IN (SELECT id FROM scout_files WHERE source_id = ?)",
            [src.id],
        )
        conn.execute(
            "DELETE FROM scout_file_untags WHERE file_id IN (SELECT id FROM scout_files WHERE source_id = ?)",
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
        from casparian_tui.scout.catalog import status_sql

        by_status = dict(
            conn.query_all(
                f"SELECT {status_sql('f')} AS st, count(*) FROM scout_files f"
                " WHERE f.source_id = ? AND f.deleted_at IS NULL GROUP BY st ORDER BY st",
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
