"""Manual tags: set or remove a tag on the files a filter selects.

A manual tag wins over rules: tagging a file by hand drops its rule tag, and
removing a file's last manual tag lets the rules tag it again.
"""

from __future__ import annotations

import os

from casparian_tui.db.connection import Connection
from casparian_tui.scout.catalog import FileFilter, locate_path
from casparian_tui.scout.patterns import compile_glob
from casparian_tui.scout.rules import apply_rules, now_us, validate_tag

_SCOPE = "_cf_tag_scope"


def selection_filter(conn: Connection, target: str, *, source_id: int | None = None) -> FileFilter:
    """PATH (an existing file or folder inside a source) or else a glob PATTERN."""
    if os.path.lexists(target):
        return FileFilter(under=locate_path(conn, target))
    return FileFilter(source_id=source_id, globs=[compile_glob(target)])


def _stage_scope(conn: Connection, flt: FileFilter) -> int:
    """Materialize the selected ids once, so every later statement agrees on them."""
    where, params = flt.where(conn.backend)
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_SCOPE} (id BIGINT)")
    conn.execute(f"DELETE FROM {_SCOPE}")
    conn.execute(f"INSERT INTO {_SCOPE} (id) SELECT f.id FROM scout_files f WHERE {where}", params)
    return conn.query_value(f"SELECT count(*) FROM {_SCOPE}", (), 0)


def add_manual_tag(conn: Connection, flt: FileFilter, tag: str) -> int:
    """Tag the selected files by hand; returns how many files were selected."""
    tag = validate_tag(tag)
    try:
        n = _stage_scope(conn, flt)
        if not n:
            return 0
        conn.execute(
            f"DELETE FROM scout_file_tags WHERE file_id IN (SELECT id FROM {_SCOPE}) "
            "AND (tag_source = 'rule' OR tag = ?)",
            (tag,),
        )
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


def remove_manual_tag(conn: Connection, flt: FileFilter, tag: str | None = None) -> int:
    """Remove a manual tag (or all manual tags) from the selected files, then
    let the rules tag them again. Returns the number of tags removed."""
    try:
        n = _stage_scope(conn, flt)
        if not n:
            return 0
        cond, params = "", []
        if tag is not None:
            cond, params = " AND tag = ?", [validate_tag(tag)]
        removed = conn.query_value(
            f"SELECT count(*) FROM scout_file_tags WHERE tag_source = 'manual' "
            f"AND file_id IN (SELECT id FROM {_SCOPE}){cond}",
            params,
            0,
        )
        conn.execute(
            f"DELETE FROM scout_file_tags WHERE tag_source = 'manual' "
            f"AND file_id IN (SELECT id FROM {_SCOPE}){cond}",
            params,
        )
        ids = [r[0] for r in conn.query_all(f"SELECT id FROM {_SCOPE}")]
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_SCOPE}")
    if removed:
        apply_rules(conn, file_ids=ids)
    return removed
