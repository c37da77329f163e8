"""Manual tags and untags on the files a filter selects.

Tags add up: a file carries every tag whose enabled rule matches it plus its
manual tags. A manual untag removes one tag from one file and is recorded
(`scout_file_untags`), so no rule gives that tag back to that file; tagging
the file by hand again, or `reset_manual`, lifts it.
"""

from __future__ import annotations

import os

from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError
from casparian_tui.scout.catalog import FileFilter, locate_path
from casparian_tui.scout.patterns import compile_glob
from casparian_tui.scout.rules import apply_rules, now_us, validate_tag

_SCOPE = "_cf_tag_scope"


class UnknownTag(CasparianError):
    """A tag no file carries and no rule gives."""


def selection_filter(conn: Connection, target: str, *, source_id: int | None = None) -> FileFilter:
    """PATH (an existing file or folder inside a source) or else a glob PATTERN."""
    if os.path.lexists(target):
        return FileFilter(under=locate_path(conn, target))
    return FileFilter(source_id=source_id, globs=[compile_glob(target)])


def _stage_scope(conn: Connection, flt: FileFilter) -> int:
    """Materialize the selected ids once, so every later statement agrees on them."""
    where, params = flt.where(conn.dialect)
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_SCOPE} (id BIGINT)")
    conn.execute(f"DELETE FROM {_SCOPE}")
    conn.execute(f"INSERT INTO {_SCOPE} (id) SELECT f.id FROM scout_files f WHERE {where}", params)
    return conn.query_value(f"SELECT count(*) FROM {_SCOPE}", (), 0)


def add_manual_tag(conn: Connection, flt: FileFilter, tag: str) -> int:
    """Tag the selected files by hand (their other tags stay); returns how
    many files were selected. Lifts an earlier untag of this tag."""
    tag = validate_tag(tag)
    try:
        n = _stage_scope(conn, flt)
        if not n:
            return 0
        in_scope = f"file_id IN (SELECT id FROM {_SCOPE}) AND tag = ?"
        conn.execute(f"DELETE FROM scout_file_untags WHERE {in_scope}", (tag,))
        conn.execute(f"DELETE FROM scout_file_tags WHERE {in_scope}", (tag,))
        conn.execute(
            "INSERT INTO scout_file_tags (file_id, tag, tag_source, rule_id, created_at) "
            f"SELECT id, ?, 'manual', NULL, ? FROM {_SCOPE}",
            (tag, now_us()),
        )
        return n
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_SCOPE}")


def tag_file_ids(conn: Connection, file_ids: list[int], tag: str) -> int:
    """Tag exactly these files by hand (the TUI's selection)."""
    if not file_ids:
        return 0
    return add_manual_tag(conn, FileFilter(file_ids=list(file_ids)), tag)


def untag(conn: Connection, flt: FileFilter, tag: str) -> int:
    """Remove TAG from the selected files that carry it, whatever gave it,
    and record that, so rules do not give it back. Returns files untagged."""
    tag = validate_tag(tag)
    try:
        if not _stage_scope(conn, flt):
            return 0
        carried = f"file_id IN (SELECT id FROM {_SCOPE}) AND tag = ?"
        # A carried tag has no untag record (tagging lifts it, rules respect
        # it), so these inserts cannot collide; an earlier untag stays put.
        conn.execute(
            "INSERT INTO scout_file_untags (file_id, tag, created_at) "
            f"SELECT file_id, tag, ? FROM scout_file_tags WHERE {carried}",
            (now_us(), tag),
        )
        return conn.execute(f"DELETE FROM scout_file_tags WHERE {carried}", (tag,))
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_SCOPE}")


def untag_file_ids(conn: Connection, file_ids: list[int], tag: str) -> int:
    """Untag exactly these files (the TUI's selection)."""
    if not file_ids:
        return 0
    return untag(conn, FileFilter(file_ids=list(file_ids)), tag)


def reset_manual(conn: Connection, flt: FileFilter) -> int:
    """Forget the selected files' manual tags and untags, so the rules alone
    decide their tags again. Returns how many manual tags and untags went."""
    try:
        if not _stage_scope(conn, flt):
            return 0
        in_scope = f"file_id IN (SELECT id FROM {_SCOPE})"
        gone = conn.execute(f"DELETE FROM scout_file_untags WHERE {in_scope}")
        gone += conn.execute(f"DELETE FROM scout_file_tags WHERE tag_source = 'manual' AND {in_scope}")
        ids = [r[0] for r in conn.query_all(f"SELECT id FROM {_SCOPE}")]
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_SCOPE}")
    if gone:
        apply_rules(conn, file_ids=ids)
    return gone


def known_tags(conn: Connection) -> set[str]:
    """Every tag a file carries or an enabled rule gives."""
    rows = conn.query_all(
        "SELECT DISTINCT tag FROM scout_file_tags UNION SELECT DISTINCT tag FROM scout_tagging_rules WHERE enabled"
    )
    return {r[0] for r in rows}


def require_known_tag(conn: Connection, tag: str) -> None:
    """Raise UnknownTag (exit 1) for a tag nothing carries or gives."""
    if conn.query_one("SELECT 1 FROM scout_file_tags WHERE tag = ? LIMIT 1", (tag,)) is not None:
        return
    if conn.query_one("SELECT 1 FROM scout_tagging_rules WHERE tag = ? AND enabled LIMIT 1", (tag,)) is not None:
        return
    if conn.query_one("SELECT 1 FROM scout_hashset_rules WHERE tag = ? LIMIT 1", (tag,)) is not None:
        return
    known = sorted(known_tags(conn))
    shown = ", ".join(known[:10]) + (" …" if len(known) > 10 else "")
    raise UnknownTag(
        f"No file has the tag {tag!r}.",
        hint=f"Known tags: {shown}." if known else "No tags yet: add a rule (`casparian rule add`) or tag files.",
    )
