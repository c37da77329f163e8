"""Known-file sets: named lists of hashes (NSRL-style known-good, or known-bad).

A set holds lowercase hex digests; the algorithm of each follows from its
length (32 md5, 40 sha1, 64 sha256), so one set may mix them and a file
matches when any of its current hashes is in the set.

Hash-set rules tag the files whose current hash is in a set. They are a path
of their own, apart from the glob rules: their tags carry
tag_source 'hashset' (glob rule tags are 'rule', and `apply_rules` only ever
rebuilds those), and `apply_hashset_rules` rebuilds them after every hashing
batch, import, removal, and rule change.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import pyarrow as pa

from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.scout.hash_catalog import CURRENT
from casparian_tui.scout.rules import validate_tag
from casparian_tui.scout.sources import now_us

_HASH_COLUMNS = ("sha256", "sha-256", "sha1", "sha-1", "md5", "hash", "digest")
_HEX_RE = r"^([0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$"
_SCOPE = "_cf_hashset_scope"


class HashSetNotFound(CasparianError):
    pass


def read_hash_file(path: str, column: str | None = None) -> tuple[pa.Array, int]:
    """(unique valid lowercase digests, lines skipped) from a text or CSV file.

    Text: one hash per line ('#' comments and blank lines skipped). CSV: the
    first line is a header naming a hash column (SHA-256, SHA-1, MD5, hash…,
    or `column`). Parsed by Arrow, cleaned and sorted in numpy when every line
    is one bare hash of one length (no per-line Python either way).
    """
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    if not os.path.isfile(path):
        raise CasparianError(f"No such file: {path}", hint="Give a text file with one hash per line, or a CSV.")
    with open(path, "rb") as fh:
        head = fh.readline().decode("utf-8", "replace").strip().lstrip("\ufeff")
    is_csv = column is not None or "," in head or (
        bool(head) and not head.startswith("#") and not _looks_like_hash(head.strip('"'))
    )
    if is_csv:
        import csv

        header = next(csv.reader([head]), [])
        # every column as text: an MD5 of digits alone must not turn into a number
        table = pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in header}),
            read_options=pcsv.ReadOptions(use_threads=True),
        )
        names = {n.strip().strip('"').lower(): n for n in table.column_names}
        wanted = column.lower() if column else next((c for c in _HASH_COLUMNS if c in names), None)
        if wanted is None or wanted not in names:
            raise UsageError(
                f"No hash column in {path} (columns: {', '.join(table.column_names[:10])}).",
                hint="Name one with --column, or give one hash per line.",
            )
        raw = table.column(names[wanted]).cast(pa.string())
    else:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(column_names=["hash"], use_threads=True),
            parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False, invalid_row_handler=lambda r: "skip"),
            convert_options=pcsv.ConvertOptions(column_types={"hash": pa.string()}),
        )
        raw = table.column("hash")
    raw = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
    total = len(raw)
    fast = _clean_fixed_width(raw)
    if fast is not None:
        return fast
    clean = pc.ascii_lower(pc.ascii_trim_whitespace(raw))
    valid = clean.filter(pc.fill_null(pc.match_substring_regex(clean, _HEX_RE), False))
    unique = pc.unique(valid)
    # sorted: B-tree indexes (SQLite, PostgreSQL) then fill in order instead of at random
    return unique.take(pc.sort_indices(unique)), total - len(valid)


def _hex_table():
    import numpy as np

    lut = np.full(256, 255, np.uint8)
    for i, c in enumerate(b"0123456789abcdef"):
        lut[c] = i
    for i, c in enumerate(b"ABCDEF"):
        lut[c] = 10 + i
    return lut


def _clean_fixed_width(raw: pa.Array) -> tuple[pa.Array, int] | None:
    """The common case in numpy: every line one hash of the same length, no
    blanks or stray characters. Sorted and deduplicated on a 64-bit key
    made of the first 16 hex digits (a sort of integers, not of strings);
    None when the file is not that clean, or when two different hashes
    share that key, and the general path decides instead."""
    import numpy as np

    n = len(raw)
    if n == 0 or raw.null_count or raw.type != pa.string():
        return None
    offsets = np.frombuffer(raw.buffers()[1], dtype=np.int32)[raw.offset : raw.offset + n + 1]
    width = int(offsets[1] - offsets[0])
    if width not in (32, 40, 64) or int(offsets[-1] - offsets[0]) != width * n or not (np.diff(offsets) == width).all():
        return None
    import pyarrow.compute as pc

    if not pc.all(pc.match_substring_regex(raw, f"^[0-9a-fA-F]{{{width}}}$")).as_py():
        return None
    rows = np.frombuffer(raw.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, width)
    nibbles = _hex_table()[rows[:, :16]]
    key = ((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).copy().view(">u8").ravel()
    order = np.argsort(key, kind="stable")
    rows = np.take(rows, order, axis=0)
    np.bitwise_or(rows, 0x20, out=rows)  # hex digits only: bit 5 lowercases A-F and keeps 0-9
    key = key[order]
    tie = np.flatnonzero(key[1:] == key[:-1]) + 1
    if len(tie):
        if not (rows[tie] == rows[tie - 1]).all():
            return None  # different hashes with one key: order them by the full string
        keep = np.ones(n, bool)
        keep[tie] = False
        rows = rows[keep]
    m = len(rows)
    out = pa.StringArray.from_buffers(
        m, pa.py_buffer(np.arange(0, (m + 1) * width, width, dtype=np.int32)), pa.py_buffer(np.ascontiguousarray(rows))
    )
    return out, 0


def _looks_like_hash(text: str) -> bool:
    return len(text) in (32, 40, 64) and all(c in "0123456789abcdefABCDEF" for c in text)


def import_set(conn: Connection, name: str, hashes: pa.Array, origin: str | None = None, *, replace: bool = False) -> dict:
    """Create (or with `replace`, refill) the set `name` from unique digests."""
    import pyarrow.compute as pc

    name = _check_name(name)
    row = conn.query_one("SELECT id FROM scout_hashsets WHERE name = ?", [name])
    if row is not None and not replace:
        raise UsageError(f"A hash set named {name!r} already exists.", hint="Add --replace to refill it, or pick a name.")
    lengths = pc.value_counts(pc.utf8_length(hashes)).to_pylist() if len(hashes) else []
    algos = ",".join(sorted({_algo_for(int(v["values"])) for v in lengths}))
    if row is None:
        set_id = conn.query_value(
            "INSERT INTO scout_hashsets (name, hash_count, algos, origin, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            [name, len(hashes), algos, origin, now_us()],
        )
    else:
        set_id = row[0]
        conn.execute("DELETE FROM scout_hashset_entries WHERE set_id = ?", [set_id])
        conn.execute("UPDATE scout_hashsets SET hash_count = ?, algos = ?, origin = ? WHERE id = ?",
                     [len(hashes), algos, origin, set_id])
    if len(hashes):
        conn.bulk_insert(
            "scout_hashset_entries",
            pa.table({"set_id": pa.repeat(pa.scalar(set_id, pa.int64()), len(hashes)), "hash": hashes.cast(pa.string())}),
        )
    apply_hashset_rules(conn)
    return get_set(conn, name)


def _algo_for(length: int) -> str:
    return {32: "md5", 40: "sha1", 64: "sha256"}.get(length, "?")


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or not name.isprintable():
        raise UsageError(f"Invalid hash set name {name!r}.", hint="Give a printable name such as 'nsrl'.")
    return name


def get_set(conn: Connection, name: str) -> dict:
    rows = conn.query_dicts(
        "SELECT id, name, hash_count, algos, origin, created_at FROM scout_hashsets WHERE name = ?", [name]
    )
    if not rows:
        raise HashSetNotFound(f"No hash set named {name!r}.", hint="See `casparian hashset list`.")
    return rows[0]


def list_sets(conn: Connection) -> list[dict]:
    sets = conn.query_dicts("SELECT id, name, hash_count, algos, origin, created_at FROM scout_hashsets ORDER BY name")
    for s in sets:
        s["files"] = files_in_set(conn, s["id"])
        s["rules"] = [r for r in list_rules(conn) if r["set_id"] == s["id"]]
    return sets


def files_in_set(conn: Connection, set_id: int) -> int:
    return conn.query_value(
        f"SELECT count(DISTINCT f.id) FROM scout_files f JOIN scout_file_hashes h ON {CURRENT}"
        " JOIN scout_hashset_entries e ON e.hash = h.hash WHERE e.set_id = ? AND f.deleted_at IS NULL",
        [set_id],
        0,
    )


def remove_set(conn: Connection, name: str) -> dict:
    """Drop a set, its rules and the tags they gave."""
    s = get_set(conn, name)
    rule_ids = [r[0] for r in conn.query_all("SELECT id FROM scout_hashset_rules WHERE set_id = ?", [s["id"]])]
    for rid in rule_ids:
        conn.execute("DELETE FROM scout_file_tags WHERE tag_source = 'hashset' AND rule_id = ?", [rid])
    conn.execute("DELETE FROM scout_hashset_rules WHERE set_id = ?", [s["id"]])
    conn.execute("DELETE FROM scout_hashset_entries WHERE set_id = ?", [s["id"]])
    conn.execute("DELETE FROM scout_hashsets WHERE id = ?", [s["id"]])
    apply_hashset_rules(conn)  # a tag another set also gives comes back
    return {**s, "rules_removed": len(rule_ids)}


def membership_condition(alias: str = "f") -> str:
    """SQL true when the file's current hash is in the set named by one bound parameter."""
    return (
        f"EXISTS (SELECT 1 FROM scout_file_hashes h JOIN scout_hashset_entries e ON e.hash = h.hash"
        f" WHERE h.file_id = {alias}.id AND h.size = {alias}.size AND h.mtime = {alias}.mtime"
        f" AND e.set_id = (SELECT id FROM scout_hashsets WHERE name = ?))"
    )


# ---- rules -------------------------------------------------------------------
def add_rule(conn: Connection, set_name: str, tag: str) -> dict:
    s = get_set(conn, set_name)
    tag = validate_tag(tag)
    if conn.query_one("SELECT 1 FROM scout_hashset_rules WHERE set_id = ? AND tag = ?", [s["id"], tag]):
        raise UsageError(f"A rule hash set {set_name!r} → {tag!r} already exists.", hint="See `casparian rule list`.")
    rid = conn.query_value(
        "INSERT INTO scout_hashset_rules (set_id, tag, created_at) VALUES (?, ?, ?) RETURNING id",
        [s["id"], tag, now_us()],
    )
    apply_hashset_rules(conn)
    return {"id": rid, "hashset": s["name"], "set_id": s["id"], "tag": tag}


def list_rules(conn: Connection) -> list[dict]:
    return conn.query_dicts(
        "SELECT r.id, s.name AS hashset, r.set_id, r.tag, r.created_at FROM scout_hashset_rules r"
        " JOIN scout_hashsets s ON s.id = r.set_id ORDER BY r.id"
    )


def find_rule(conn: Connection, *, rule_id: int | None = None, set_name: str | None = None,
              tag: str | None = None) -> dict:
    """One hash-set rule: by id, or by set (and tag, unless the set has one rule only)."""
    if rule_id is not None:
        rows = [r for r in list_rules(conn) if r["id"] == int(rule_id)]
        if not rows:
            raise UsageError(f"No hash-set rule h{rule_id}.", hint="See `casparian rule list`.")
        return rows[0]
    s = get_set(conn, set_name or "")
    rows = [r for r in list_rules(conn) if r["set_id"] == s["id"] and (tag is None or r["tag"] == tag)]
    if not rows:
        what = f"{set_name!r} → {tag!r}" if tag is not None else f"for {set_name!r}"
        raise UsageError(f"No hash-set rule {what}.", hint="See `casparian rule list`.")
    if len(rows) > 1:
        raise UsageError(f"The hash set {set_name!r} has {len(rows)} rules.",
                         hint="Say which with --tag, or remove it by id (h1, h2… in `casparian rule list`).")
    return rows[0]


def remove_rule(conn: Connection, set_name: str | None = None, tag: str | None = None, *,
                rule_id: int | None = None) -> dict:
    """Delete a hash-set rule and the tags it gave (a tag another rule also gives comes back)."""
    rule = find_rule(conn, rule_id=rule_id, set_name=set_name, tag=tag)
    conn.execute("DELETE FROM scout_file_tags WHERE tag_source = 'hashset' AND rule_id = ?", [rule["id"]])
    conn.execute("DELETE FROM scout_hashset_rules WHERE id = ?", [rule["id"]])
    apply_hashset_rules(conn)
    return rule


def apply_hashset_rules(
    conn: Connection, *, source_id: int | None = None, file_ids: Iterable[int] | None = None
) -> None:
    """Rebuild the hash-set tags of the files in scope (all files by default).

    Call inside a write transaction. A tag a file already carries (by hand
    or from a glob rule) or that a user removed from it is not added.
    """
    rules = conn.query_all("SELECT id, set_id, tag FROM scout_hashset_rules ORDER BY id")
    has_tags = conn.query_one("SELECT 1 FROM scout_file_tags WHERE tag_source = 'hashset' LIMIT 1") is not None
    if not rules and not has_tags:
        return
    scope = ["f.deleted_at IS NULL"]
    params: list = []
    staged = False
    if source_id is not None:
        scope.append("f.source_id = ?")
        params.append(int(source_id))
    if file_ids is not None:
        ids = list(file_ids)
        if not ids:
            return
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_SCOPE} (id BIGINT)")
        conn.execute(f"DELETE FROM {_SCOPE}")
        conn.bulk_insert(_SCOPE, pa.table({"id": pa.array(ids, pa.int64())}))
        scope.append(f"f.id IN (SELECT id FROM {_SCOPE})")
        staged = True
    where = " AND ".join(scope)
    try:
        # Deleted files in scope lose theirs too: only live files are kept tagged.
        conn.execute(
            "DELETE FROM scout_file_tags WHERE tag_source = 'hashset' AND file_id IN"
            f" (SELECT f.id FROM scout_files f WHERE {where.replace('f.deleted_at IS NULL', 'TRUE')})",
            params,
        )
        ts = now_us()
        for rid, set_id, tag in rules:
            conn.execute(
                "INSERT INTO scout_file_tags (file_id, tag, tag_source, rule_id, created_at)"
                f" SELECT DISTINCT f.id, ?, 'hashset', ?, ? FROM scout_files f JOIN scout_file_hashes h ON {CURRENT}"
                f" JOIN scout_hashset_entries e ON e.hash = h.hash WHERE e.set_id = ? AND {where}"
                " AND NOT EXISTS (SELECT 1 FROM scout_file_tags t WHERE t.file_id = f.id AND t.tag = ?)"
                " AND NOT EXISTS (SELECT 1 FROM scout_file_untags u WHERE u.file_id = f.id AND u.tag = ?)",
                [tag, rid, ts, set_id, *params, tag, tag],
            )
    finally:
        if staged:
            conn.execute(f"DROP TABLE IF EXISTS {_SCOPE}")


def content_conditions(flt, alias: str = "f") -> tuple[list[str], list]:
    """The WHERE parts of a FileFilter's hash and hash-set fields."""
    conds: list[str] = []
    params: list = []
    if flt.content_hash:
        conds.append(
            f"EXISTS (SELECT 1 FROM scout_file_hashes h WHERE h.file_id = {alias}.id AND h.size = {alias}.size"
            f" AND h.mtime = {alias}.mtime AND h.hash = ?)"
        )
        params.append(flt.content_hash.strip().lower())
    for name in flt.in_hashsets:
        conds.append(membership_condition(alias))
        params.append(name)
    for name in flt.not_in_hashsets:
        conds.append("NOT " + membership_condition(alias))
        params.append(name)
    if flt.duplicates:
        conds.append(
            f"EXISTS (SELECT 1 FROM scout_file_hashes h JOIN scout_file_hashes h2"
            f" ON h2.algo = h.algo AND h2.hash = h.hash AND h2.file_id <> h.file_id"
            f" JOIN scout_files f2 ON f2.id = h2.file_id AND f2.size = h2.size AND f2.mtime = h2.mtime"
            f" AND f2.deleted_at IS NULL"
            f" WHERE h.file_id = {alias}.id AND h.size = {alias}.size AND h.mtime = {alias}.mtime)"
        )
    if flt.changed_in_scan is not None:
        conds.append(
            f"({alias}.first_scan_id = ? OR EXISTS (SELECT 1 FROM scout_scan_changes c"
            f" WHERE c.file_id = {alias}.id AND c.scan_id = ? AND c.change IN ('new', 'changed', 'renamed')))"
        )
        params.extend([int(flt.changed_in_scan)] * 2)
    return conds, params


def sets_named(conn: Connection, names: Sequence[str]) -> None:
    """Raise HashSetNotFound for the first of `names` that is no set."""
    for n in names:
        get_set(conn, n)


def set_names(conn: Connection) -> list[str]:
    return [r[0] for r in conn.query_all("SELECT name FROM scout_hashsets ORDER BY name")]
