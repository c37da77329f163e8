"""Tagging rules: CRUD and the set-based `apply_rules`.

Tags add up: a (not deleted) file carries the tag of every enabled rule that
matches it, plus its manual tags, minus the tags a user removed from it by
hand (`scout_file_untags`). Priorities only order rules for display and
decide which rule a tag is credited to when several give it. Rule tags are
derived data: `apply_rules` may drop and rebuild them at any time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Iterable

import pyarrow as pa

from casparian_tui.db.connection import Connection
from casparian_tui.db.glob_sql import glob_condition
from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.scout.patterns import compile_glob

_RULE_COLS = "id, name, pattern, tag, priority, enabled, created_at"
_SCOPE_TABLE = "_cf_rule_scope"


@dataclass(frozen=True)
class Rule:
    id: int
    name: str | None
    pattern: str
    tag: str
    priority: int
    enabled: bool
    created_at: int

    def to_json(self) -> dict:
        return asdict(self)


class RuleNotFound(CasparianError):
    pass


def now_us() -> int:
    return time.time_ns() // 1000


def validate_tag(tag: str) -> str:
    tag = (tag or "").strip()
    if not tag:
        raise UsageError("Empty tag.", hint="Give a tag name such as 'evtx'.")
    if any(not ch.isprintable() for ch in tag):
        raise UsageError(f"Invalid tag {tag!r}: it contains control characters.")
    return tag


def validate_rule_name(name: str | None) -> str | None:
    """A rule name as stored (None: no name); the same rules as tags and sources."""
    if name is None:
        return None
    name = name.strip()
    if not name or name.isdigit():
        raise UsageError(f"Invalid rule name {name!r}.", hint="A name must contain a non-digit (ids are numbers).")
    if not name.isprintable():
        raise UsageError(f"Invalid rule name {name!r}: it contains control characters.")
    return name


def add_rule(
    conn: Connection, pattern: str, tag: str, *, priority: int = 0, name: str | None = None, enabled: bool = True
) -> Rule:
    """Insert a rule (the pattern is validated first). Does not apply it."""
    compile_glob(pattern)
    tag = validate_tag(tag)
    name = validate_rule_name(name)
    if conn.query_one("SELECT id FROM scout_tagging_rules WHERE pattern = ? AND tag = ?", (pattern, tag)):
        raise UsageError(f"A rule {pattern!r} → {tag!r} already exists.", hint="See `casparian rule list`.")
    if name and conn.query_one("SELECT id FROM scout_tagging_rules WHERE name = ?", (name,)):
        raise UsageError(f"A rule named {name!r} already exists.", hint="Choose another --name.")
    new_id = conn.query_value(
        "INSERT INTO scout_tagging_rules (name, pattern, tag, priority, enabled, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (name, pattern, tag, int(priority), bool(enabled), now_us()),
    )
    return get_rule(conn, new_id)


def list_rules(conn: Connection, *, enabled_only: bool = False) -> list[Rule]:
    """Rules in display order: priority high to low, then oldest first."""
    where = "WHERE enabled" if enabled_only else ""
    rows = conn.query_all(
        f"SELECT {_RULE_COLS} FROM scout_tagging_rules {where} ORDER BY priority DESC, id ASC"
    )
    return [_rule(r) for r in rows]


def get_rule(conn: Connection, rule_id: int) -> Rule:
    row = conn.query_one(f"SELECT {_RULE_COLS} FROM scout_tagging_rules WHERE id = ?", (rule_id,))
    if row is None:
        raise RuleNotFound(f"No rule with id {rule_id}.", hint="See `casparian rule list`.")
    return _rule(row)


def find_rule(conn: Connection, ref: str | int) -> Rule:
    """A rule by id (digits) or by name."""
    text = str(ref).strip()
    row = None
    if text.isdigit():
        row = conn.query_one(f"SELECT {_RULE_COLS} FROM scout_tagging_rules WHERE id = ?", (int(text),))
    if row is None:
        row = conn.query_one(f"SELECT {_RULE_COLS} FROM scout_tagging_rules WHERE name = ?", (text,))
    if row is None:
        raise RuleNotFound(f"No rule with id or name {text!r}.", hint="See `casparian rule list`.")
    return _rule(row)


def remove_rule(conn: Connection, ref: str | int) -> Rule:
    """Delete a rule and the tags it gave (call apply_rules afterwards to re-tag)."""
    rule = find_rule(conn, ref)
    conn.execute("DELETE FROM scout_file_tags WHERE tag_source = 'rule' AND rule_id = ?", (rule.id,))
    conn.execute("DELETE FROM scout_tagging_rules WHERE id = ?", (rule.id,))
    return rule


def set_enabled(conn: Connection, ref: str | int, enabled: bool) -> Rule:
    rule = find_rule(conn, ref)
    conn.execute("UPDATE scout_tagging_rules SET enabled = ? WHERE id = ?", (bool(enabled), rule.id))
    return get_rule(conn, rule.id)


def nothing_to_apply(conn: Connection) -> bool:
    """True when apply_rules can change nothing, whatever its scope: no rule
    is enabled and no file carries a rule tag to clear. Two indexed probes;
    lets a scan skip staging its new file ids when there are no rules."""
    return (
        conn.query_one("SELECT 1 FROM scout_tagging_rules WHERE enabled LIMIT 1") is None
        and conn.query_one("SELECT 1 FROM scout_file_tags WHERE tag_source = 'rule' LIMIT 1") is None
    )


def apply_rules(
    conn: Connection,
    *,
    source_id: int | None = None,
    scan_id: int | None = None,
    file_ids: Iterable[int] | pa.Array | None = None,
) -> int:
    """Recompute rule tags for a set of files, set-based; returns the number
    of files in the scope that carry at least one rule tag.

    Call it inside a write transaction (e.g. within `db.write(...)`). The
    scope is the intersection of the given filters; no filter = every file:
    - `source_id`: files of that source;
    - `scan_id`: files whose `last_scan_id` is that scan (the rows it wrote:
      new, changed or moved; a rescan leaves unchanged rows as they were);
    - `file_ids`: exactly these files (a list or a pyarrow int array; staged
      in a temporary table, never one statement per file).
    Deleted files are left alone. A tag the file already carries by hand, or
    that a user removed from it, is not added. One statement per enabled
    rule, in display order, so a tag is credited to the first rule giving it.
    """
    staged = False
    if file_ids is not None:
        ids = file_ids if isinstance(file_ids, (pa.Array, pa.ChunkedArray)) else pa.array(list(file_ids), pa.int64())
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_SCOPE_TABLE} (id BIGINT)")
        conn.execute(f"DELETE FROM {_SCOPE_TABLE}")
        conn.bulk_insert(_SCOPE_TABLE, pa.table({"id": ids.cast(pa.int64())}))
        staged = True
    where, params = _scope(source_id, scan_id, staged)
    try:
        conn.execute(
            "DELETE FROM scout_file_tags WHERE tag_source = 'rule' "
            f"AND file_id IN (SELECT f.id FROM scout_files f WHERE {where})",
            params,
        )
        rules = list_rules(conn, enabled_only=True)
        if not rules:
            return 0
        ts = now_us()
        for rule in rules:
            _insert_rule_tags(conn, rule, where, params, ts)
        return _rule_tagged_files(conn, where, params)
    finally:
        if staged:
            conn.execute(f"DROP TABLE IF EXISTS {_SCOPE_TABLE}")


def _scope(source_id: int | None, scan_id: int | None, staged: bool) -> tuple[str, list]:
    scope = ["f.deleted_at IS NULL"]
    params: list = []
    if source_id is not None:
        scope.append("f.source_id = ?")
        params.append(int(source_id))
    if scan_id is not None:
        scope.append("f.last_scan_id = ?")
        params.append(int(scan_id))
    if staged:
        scope.append(f"f.id IN (SELECT id FROM {_SCOPE_TABLE})")
    return " AND ".join(scope), params


def _insert_rule_tags(conn: Connection, rule: Rule, where: str, params: list, ts: int) -> None:
    cond, cond_params = glob_condition(compile_glob(rule.pattern), conn.dialect, "f")
    # The NOT EXISTS keep (file_id, tag) unique: a manual tag or an earlier
    # rule already gave it, or the user removed it from this file.
    conn.execute(
        "INSERT INTO scout_file_tags (file_id, tag, tag_source, rule_id, created_at) "
        f"SELECT f.id, ?, 'rule', ?, ? FROM scout_files f WHERE {where} AND {cond} "
        "AND NOT EXISTS (SELECT 1 FROM scout_file_tags t WHERE t.file_id = f.id AND t.tag = ?) "
        "AND NOT EXISTS (SELECT 1 FROM scout_file_untags u WHERE u.file_id = f.id AND u.tag = ?)",
        [rule.tag, rule.id, ts, *params, *cond_params, rule.tag, rule.tag],
    )


def _rule_tagged_files(conn: Connection, where: str, params: list) -> int:
    return conn.query_value(
        "SELECT count(DISTINCT file_id) FROM scout_file_tags WHERE tag_source = 'rule' "
        f"AND file_id IN (SELECT f.id FROM scout_files f WHERE {where})",
        params,
        0,
    )


def count_matches(conn: Connection, rule: Rule) -> int:
    """Live files the rule's pattern matches (what `rule add` reports)."""
    cond, cond_params = glob_condition(compile_glob(rule.pattern), conn.dialect, "f")
    return conn.query_value(
        f"SELECT count(*) FROM scout_files f WHERE f.deleted_at IS NULL AND {cond}", cond_params, 0
    )


def _rule(row: tuple) -> Rule:
    return Rule(row[0], row[1], row[2], row[3], int(row[4]), bool(row[5]), row[6])
