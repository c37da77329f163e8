"""Catalog queries: which files, filtered, sorted and paged.

`FileFilter` is the one way to say "these files" — `casparian files`, the
pattern preview, manual tagging and the TUI's file table all build their
WHERE clause from it. Deleted files are excluded unless asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from casparian_tui.db.connection import Connection
from casparian_tui.db.dialect import Dialect
from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.scout.pathcodec import display_name, encode_name, shown_path

if TYPE_CHECKING:
    from casparian_tui.scout.patterns import Glob

SORTS = {
    # path order follows UNIQUE(source_id, rel_path), so SQLite walks its index
    "path": ("f.source_id", "f.rel_path"),
    "size": ("f.size", "f.id"),
    "mtime": ("f.mtime", "f.id"),
}
DEFAULT_LIMIT = 50

# A file's status is derived from its jobs, never stored: for each parser,
# the file's latest job counts; the file is `failed` if any of those failed,
# else `queued` if one is queued or running, else `processed` if one
# completed, else `pending` (no job yet, or only cancelled ones).
FILE_STATUSES = ("pending", "queued", "processed", "failed")
_RANK = "CASE {j}.status WHEN 'FAILED' THEN 3 WHEN 'QUEUED' THEN 2 WHEN 'RUNNING' THEN 2 WHEN 'COMPLETED' THEN 1 ELSE 0 END"
_BY_RANK = {3: "failed", 2: "queued", 1: "processed", 0: "pending"}
_LATEST = "{j}.id = (SELECT max(k.id) FROM cf_processing_queue k WHERE k.file_id = {j}.file_id AND k.parser_name = {j}.parser_name)"


def status_sql(alias: str = "f") -> str:
    """SQL for a file's derived status (see FILE_STATUSES)."""
    rank = _RANK.format(j="j")
    names = " ".join(f"WHEN {r} THEN '{n}'" for r, n in _BY_RANK.items() if r)
    return (
        f"(SELECT CASE max({rank}) {names} ELSE 'pending' END FROM cf_processing_queue j "
        f"WHERE j.file_id = {alias}.id AND {_LATEST.format(j='j')})"
    )


def check_statuses(statuses: Sequence[str]) -> list[str]:
    wanted = [s.strip().lower() for s in statuses if s and s.strip()]
    bad = [s for s in wanted if s not in FILE_STATUSES]
    if bad:
        raise UsageError(f"Unknown status {bad[0]!r}.", hint=f"A file's status is one of: {', '.join(FILE_STATUSES)}.")
    return wanted


class SourceNotFound(CasparianError):
    pass


@dataclass
class FileFilter:
    source_id: int | None = None
    tag: str | None = None
    untagged: bool = False
    statuses: Sequence[str] = ()
    extensions: Sequence[str] = ()
    globs: Sequence[Glob] = ()
    # (source_id, rel_path): that file, or every file below it when a folder
    under: tuple[int, str] | None = None
    # exactly these files (a hand-made selection in the TUI; bound, not formatted)
    file_ids: Sequence[int] = ()
    include_deleted: bool = False
    # content: a current hash (any algorithm, lowercase hex), hash-set membership by set name
    content_hash: str | None = None
    in_hashsets: Sequence[str] = ()
    not_in_hashsets: Sequence[str] = ()
    duplicates: bool = False  # files with an identical live copy (same algo, hash, size)
    changed_in_scan: int | None = None  # files that scan found new, changed or renamed

    @classmethod
    def build(
        cls,
        *,
        source_id: int | None = None,
        tag: str | None = None,
        untagged: bool = False,
        statuses: Sequence[str] = (),
        extensions: Sequence[str] = (),
        patterns: Sequence[str] = (),
        case_sensitive: bool = False,
    ) -> "FileFilter":
        if tag and untagged:
            raise UsageError("Use either a tag or 'untagged', not both.")
        exts = [e.strip().lstrip(".").lower() for e in extensions if e and e.strip()]
        globs: Sequence[Glob] = ()
        if patterns:  # the glob compiler and its SQL are imported only by those who use them
            from casparian_tui.scout.patterns import compile_many

            globs = compile_many(list(patterns), case_sensitive=case_sensitive)
        return cls(
            source_id=source_id,
            tag=tag,
            untagged=untagged,
            statuses=check_statuses(statuses),
            extensions=exts,
            globs=globs,
        )

    def where(self, dialect: Dialect | str, alias: str = "f") -> tuple[str, list]:
        a = alias
        conds: list[str] = []
        params: list = []
        if not self.include_deleted:
            conds.append(f"{a}.deleted_at IS NULL")
        if self.source_id is not None:
            conds.append(f"{a}.source_id = ?")
            params.append(int(self.source_id))
        if self.statuses:
            conds.append(f"{status_sql(a)} IN ({_marks(self.statuses)})")
            params.extend(self.statuses)
        if self.extensions:
            conds.append(f"{a}.extension IN ({_marks(self.extensions)})")
            params.extend(self.extensions)
        if self.tag:
            conds.append(f"EXISTS (SELECT 1 FROM scout_file_tags t WHERE t.file_id = {a}.id AND t.tag = ?)")
            params.append(self.tag)
        if self.untagged:
            conds.append(f"NOT EXISTS (SELECT 1 FROM scout_file_tags t WHERE t.file_id = {a}.id)")
        if self.under is not None:
            src, rel = self.under
            conds.append(f"{a}.source_id = ?")
            params.append(int(src))
            if rel:
                # A prefix compare, not LIKE: the path's '%' and '_' stay literal.
                prefix = rel + "/"
                conds.append(f"({a}.rel_path = ? OR substr({a}.rel_path, 1, ?) = ?)")
                params.extend([rel, len(prefix), prefix])
        if self.file_ids:
            conds.append(f"{a}.id IN ({_marks(self.file_ids)})")
            params.extend(int(i) for i in self.file_ids)
        if self.content_hash or self.in_hashsets or self.not_in_hashsets or self.duplicates or (
            self.changed_in_scan is not None
        ):
            from casparian_tui.scout.hashsets import content_conditions

            sql, p = content_conditions(self, a)
            conds.extend(sql)
            params.extend(p)
        if self.globs:
            from casparian_tui.db.glob_sql import patterns_condition

            sql, p = patterns_condition(self.globs, dialect, a)
            conds.append(sql)
            params.extend(p)
        return (" AND ".join(conds) if conds else "TRUE"), params


def _marks(values: Sequence) -> str:
    return ", ".join("?" for _ in values)


def resolve_source(conn: Connection, ref: str | int) -> dict:
    """A source row by name (or id, when digits and no source has that name)."""
    text = str(ref).strip()
    row = conn.query_dicts("SELECT id, name, root FROM scout_sources WHERE name = ?", (text,))
    if not row and text.isdigit():
        row = conn.query_dicts("SELECT id, name, root FROM scout_sources WHERE id = ?", (int(text),))
    if not row:
        raise SourceNotFound(f"No source named {text!r}.", hint="See `casparian source list`.")
    return row[0]


def locate_path(conn: Connection, path: str) -> tuple[int, str]:
    """(source_id, rel_path) of a real file or folder path inside a source."""
    full = encode_name(os.path.abspath(path))
    rows = conn.query_all("SELECT id, root FROM scout_sources")
    best: tuple[int, str] | None = None
    best_len = -1
    for sid, root in rows:
        root_n = root.rstrip("/") or "/"
        if full == root_n:
            rel = ""
        elif full.startswith(root_n.rstrip("/") + "/"):
            rel = full[len(root_n.rstrip("/")) + 1 :]
        else:
            continue
        if len(root_n) > best_len:  # the innermost source wins
            best, best_len = (sid, rel), len(root_n)
    if best is None:
        raise UsageError(
            f"{display_name(full)} is not inside any source.", hint="Add it with `casparian source add`."
        )
    return best


def count_files(conn: Connection, flt: FileFilter) -> int:
    where, params = flt.where(conn.dialect)
    return conn.query_value(f"SELECT count(*) FROM scout_files f WHERE {where}", params, 0)


def list_files(
    conn: Connection,
    flt: FileFilter,
    *,
    sort: str = "path",
    descending: bool = False,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    with_hashes: bool = False,
) -> list[dict]:
    """One page of files as dicts (the `files --json` shape; `with_hashes` adds
    each file's current `hash` and `hash_algo`, None when it has none)."""
    if sort not in SORTS:
        raise UsageError(f"Unknown sort {sort!r}.", hint=f"Choose one of: {', '.join(SORTS)}.")
    if limit < 0 or offset < 0:
        raise UsageError("--limit and --offset must be zero or more.")
    where, params = flt.where(conn.dialect)
    # The sources are looked up apart, not joined: the join cost ~2 ms of a
    # ~21 ms first page over 1M files (DuckDB), and there are only a few.
    sources = {sid: (name, root) for sid, name, root in conn.query_all("SELECT id, name, root FROM scout_sources")}
    if sort == "path" and limit + offset <= _WALK_MAX:
        rows = _first_by_path(conn, where, params, _sources_to_walk(flt, sources), descending, limit + offset)[offset:]
    else:
        direction = " DESC" if descending else ""
        order = ", ".join(col + direction for col in SORTS[sort])
        rows = conn.query_dicts(
            f"SELECT {_PAGE_COLUMNS} FROM scout_files f WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        )
    details = page_details(conn, [r["id"] for r in rows], with_hashes)
    keys = _PAGE_KEYS + (("hash", "hash_algo") if with_hashes else ())
    out = []
    for r in rows:
        source, root = sources[r["source_id"]]
        stored = r["rel_path"]
        r["source"] = source
        r["path"] = shown_path(root.rstrip("/") + "/" + stored)
        r["rel_path"] = shown_path(stored)
        r.update(details[r["id"]])
        out.append({k: r[k] for k in keys})
    return out


_PAGE_COLUMNS = "f.id, f.source_id, f.rel_path, f.size, f.mtime, f.extension"
_PAGE_KEYS = ("id", "source", "path", "rel_path", "size", "mtime", "extension", "status", "tags")
# Ordering the whole catalog by (source_id, rel_path) reads and sorts every
# path (22-29 ms for a first page over 1M files, DuckDB). One source's top-n
# by rel_path alone lets DuckDB skip row groups past the n-th path seen so
# far; SQLite and PostgreSQL walk the UNIQUE(source_id, rel_path) index
# either way. Past ~5000 rows the walk stops paying (1M files, DuckDB: 100
# rows at offset 4900 took 40-55 ms against 72-108; at 19900, 308-383 against
# 289-411), so deep pages take the single statement.
_WALK_MAX = 5000


def _sources_to_walk(flt: FileFilter, sources: dict) -> list[int]:
    """The sources a path-ordered page can come from (the filter may name one)."""
    named = {int(s) for s in (flt.source_id, flt.under and flt.under[0]) if s is not None}
    if len(named) > 1:
        return []  # two different sources asked for: no file is in both
    return sorted(named or sources)


def _first_by_path(
    conn: Connection, where: str, params: list, source_ids: list[int], descending: bool, n: int
) -> list[dict]:
    """The first n rows of `where` in (source_id, rel_path) order, source by source.

    The first source alone usually fills the page; the rest, when needed,
    are asked in one statement, each still its own top-n.
    """
    direction = " DESC" if descending else ""
    ids = sorted(source_ids, reverse=descending)
    one = (
        f"SELECT {_PAGE_COLUMNS} FROM scout_files f WHERE f.source_id = ? AND {where} "
        f"ORDER BY f.rel_path{direction} LIMIT ?"
    )
    rows: list[dict] = []
    for group in (ids[:1], ids[1:]):
        want = n - len(rows)
        if want <= 0 or not group:
            break
        if len(group) == 1:
            rows += conn.query_dicts(one, [group[0], *params, want])
            continue
        branches = " UNION ALL ".join(f"SELECT * FROM ({one}) s{i}" for i in range(len(group)))
        rows += conn.query_dicts(
            f"SELECT * FROM ({branches}) u ORDER BY u.source_id{direction}, u.rel_path{direction} LIMIT ?",
            [*(v for sid in group for v in (sid, *params, want)), want],
        )
    return rows


def page_details(conn: Connection, file_ids: Sequence[int], with_hashes: bool = False) -> dict[int, dict]:
    """{id: {"status", "tags"[, "hash", "hash_algo"]}} for a page of files, in one
    statement (per 500 ids where ids are bound one by one).

    The status is `statuses_for`'s, tags are in name order, and the hash is
    the one `hash_catalog.current_hashes` gives (None when there is none).
    """
    ids = [int(i) for i in file_ids]
    out: dict[int, dict] = {
        i: {"status": "pending", "tags": [], **({"hash": None, "hash_algo": None} if with_hashes else {})} for i in ids
    }
    if not ids:
        return out
    names = " ".join(f"WHEN {r} THEN '{n}'" for r, n in _BY_RANK.items())
    columns = ["t.file_id", "j.file_id"]
    if with_hashes:
        from casparian_tui.scout.hash_catalog import CURRENT, preferred_hashes

        columns += ["h.file_id", "f.id"]
    rows: list[tuple] = []
    for conds in zip(*(conn.dialect.id_conditions(col, ids) for col in columns)):
        (tag_in, tag_p), (job_in, job_p), *hash_conds = conds
        sql = (
            f"SELECT 0 AS kind, t.file_id AS file_id, t.tag AS a, NULL AS b FROM scout_file_tags t WHERE {tag_in}"
            f" UNION ALL SELECT 1, s.file_id, CASE s.r {names} END, NULL FROM ({_ranks_sql(job_in)}) s"
        )
        params = [*tag_p, *job_p]
        if hash_conds:
            (h_in, h_p), (f_in, f_p) = hash_conds
            sql += (
                " UNION ALL SELECT 2, h.file_id, h.algo, h.hash FROM scout_file_hashes h"
                f" JOIN scout_files f ON {CURRENT} WHERE {h_in} AND {f_in}"
            )
            params += [*h_p, *f_p]
        rows += conn.query_all(sql + " ORDER BY kind, file_id, a", params)
    hashes = []
    for kind, fid, a, b in rows:
        if kind == 0:
            out[fid]["tags"].append(a)
        elif kind == 1:
            out[fid]["status"] = a
        else:
            hashes.append((fid, a, b))
    if with_hashes:
        for fid, (algo, digest) in preferred_hashes(hashes).items():
            out[fid]["hash"], out[fid]["hash_algo"] = digest, algo
    return out


def statuses_for(conn: Connection, file_ids: Sequence[int]) -> dict[int, str]:
    """Derived statuses of a page of files; files with no job are absent (pending)."""
    rank: dict[int, int] = {}
    for cond, params in conn.dialect.id_conditions("j.file_id", file_ids):
        rank.update((fid, int(r)) for fid, r in conn.query_all(_ranks_sql(cond), params))
    return {fid: _BY_RANK[r] for fid, r in rank.items()}


def _ranks_sql(cond: str) -> str:
    """(file_id, r): the highest status rank of each file's latest job per
    parser, over the jobs `cond` picks (alias j).

    One pass over the jobs: on DuckDB half the time of matching each job
    against a grouped max(id) (3 against 7 ms, 470K jobs).
    """
    return (
        f"SELECT x.file_id, max(x.r) AS r FROM (SELECT j.file_id, {_RANK.format(j='j')} AS r,"
        " row_number() OVER (PARTITION BY j.file_id, j.parser_name ORDER BY j.id DESC) AS n"
        f" FROM cf_processing_queue j WHERE {cond}) x WHERE x.n = 1 GROUP BY x.file_id"
    )


def tags_for(conn: Connection, file_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    ids = list(file_ids)
    if not ids:
        return out
    rows = []
    for cond, params in conn.dialect.id_conditions("file_id", ids):
        rows += conn.query_all(f"SELECT file_id, tag FROM scout_file_tags WHERE {cond} ORDER BY file_id, tag", params)
    for fid, tag in rows:
        out.setdefault(fid, []).append(tag)
    return out


def tag_counts(conn: Connection) -> list[tuple[str, int]]:
    """Tags with their number of (not deleted) files, most used first."""
    return conn.query_all(
        "SELECT t.tag, count(*) AS n FROM scout_file_tags t JOIN scout_files f ON f.id = t.file_id "
        "WHERE f.deleted_at IS NULL GROUP BY t.tag ORDER BY n DESC, t.tag"
    )
