"""Which files a run covers, and which of them need a job.

Files come from paths given on the command line, or from the catalog by tag
and/or source. A path the catalog does not know yet is registered under an
implicit source named `adhoc` (root "/", rel_path = the absolute path without
its leading "/"), so every job points at a scout_files row like any other;
a later scan of a source that covers it takes that row over (same id, so the
file keeps its jobs and outputs and is not parsed a second time).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from casparian_tui.db.connection import Connection
from casparian_tui.errors import UsageError
from casparian_tui.scout.pathcodec import decode_name, encode_name
from casparian_tui.sentinel import queue as q
from casparian_tui.sentinel.plugin import ParserSpec

ADHOC_SOURCE = "adhoc"


@dataclass(frozen=True)
class DiskFile:
    stored: str  # absolute path, encoded for the database
    size: int
    mtime: int  # epoch microseconds


def expand_paths(paths: list[str]) -> list[DiskFile]:
    """Stat the given files; folders contribute every regular file below them."""
    out: list[DiskFile] = []
    for raw in paths:
        p = os.path.abspath(os.fsdecode(raw))
        if os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                for name in sorted(filenames):
                    _add(out, os.path.join(dirpath, name))
        elif os.path.isfile(p):
            _add(out, p)
        else:
            raise UsageError(f"No such file: {raw}", hint="Give existing files or folders, or use --tag / --source.")
    return out


def _add(out: list[DiskFile], path: str) -> None:
    st = os.stat(path)
    out.append(DiskFile(encode_name(path), st.st_size, st.st_mtime_ns // 1000))


def register_paths(conn: Connection, files: list[DiskFile]) -> pa.Table:
    """Catalog ids for on-disk files, registering unknown ones under `adhoc`.

    Returns a table (file_id, size, mtime) with the sizes and mtimes seen on
    disk now, which is what up-to-date checks compare against.
    """
    if not files:
        return _file_table([], [], [])
    sources = conn.query_all("SELECT id, root FROM scout_sources")
    cand_src, cand_rel, cand_idx, cand_len = [], [], [], []
    for i, f in enumerate(files):
        for sid, root in sources:
            prefix = root.rstrip("/") + "/"
            if f.stored.startswith(prefix):
                cand_src.append(sid)
                cand_rel.append(f.stored[len(prefix):])
                cand_idx.append(i)
                cand_len.append(len(prefix))
    found = _lookup(conn, cand_src, cand_rel, cand_idx, cand_len)
    missing = [i for i in range(len(files)) if i not in found]
    if missing:
        adhoc = _adhoc_source(conn)
        now = q.now_us()
        rels = [files[i].stored.lstrip("/") for i in missing]
        conn.bulk_insert("scout_files", pa.table({
            "source_id": pa.array([adhoc] * len(missing), pa.int64()),
            "rel_path": rels,
            "parent_path": [r.rpartition("/")[0] for r in rels],
            "name": [r.rpartition("/")[2] for r in rels],
            "extension": [_extension(r) for r in rels],
            "size": pa.array([files[i].size for i in missing], pa.int64()),
            "mtime": pa.array([files[i].mtime for i in missing], pa.int64()),
            "first_seen_at": pa.array([now] * len(missing), pa.int64()),
            "last_seen_at": pa.array([now] * len(missing), pa.int64()),
        }), conflict="ON CONFLICT (source_id, rel_path) DO NOTHING")  # a concurrent run on a server may have won
        found.update(_lookup(conn, [adhoc] * len(missing), rels, missing, [1] * len(missing)))
    order = sorted(found)
    return _file_table([found[i] for i in order], [files[i].size for i in order], [files[i].mtime for i in order])


def _lookup(conn, src, rel, idx, plen) -> dict[int, int]:
    """file index -> catalog id, preferring the source with the longest root."""
    if not src:
        return {}
    from casparian_tui.sentinel.queue import staged_table

    staged = pa.table({"source_id": pa.array(src, pa.int64()), "rel_path": pa.array(rel, pa.string()),
                       "idx": pa.array(idx, pa.int64()), "plen": pa.array(plen, pa.int64())})
    with staged_table(conn, "_cf_staged_paths", staged) as name:
        rows = conn.query_all(
            f"SELECT s.idx, f.id, s.plen FROM {name} AS s JOIN scout_files f "
            "ON f.source_id = s.source_id AND f.rel_path = s.rel_path WHERE f.deleted_at IS NULL")
    best: dict[int, tuple[int, int]] = {}
    for i, fid, length in rows:
        if i not in best or length > best[i][1]:
            best[i] = (fid, length)
    return {i: v[0] for i, v in best.items()}


def _adhoc_source(conn: Connection) -> int:
    sid = conn.query_value("SELECT id FROM scout_sources WHERE name = ?", [ADHOC_SOURCE])
    if sid is None:
        now = q.now_us()
        # Two runs on a server can both get here; the loser's insert does nothing.
        conn.execute("INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES (?, '/', ?, ?)"
                     " ON CONFLICT (name) DO NOTHING", [ADHOC_SOURCE, now, now])
        sid = conn.query_value("SELECT id FROM scout_sources WHERE name = ?", [ADHOC_SOURCE])
    return sid


def _extension(rel: str) -> str:
    name = rel.rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _file_table(ids, sizes, mtimes) -> pa.Table:
    return pa.table({"file_id": pa.array(ids, pa.int64()), "size": pa.array(sizes, pa.int64()),
                     "mtime": pa.array(mtimes, pa.int64())})


def select_catalog(conn: Connection, tag: str | None, source: str | None) -> pa.Table:
    """Live (not deleted) catalog files with `tag` and/or in source `source` (name).

    A table (file_id, size, mtime, path): the catalog's size and mtime, as of
    the last scan, and the stored path; `on_disk_now` brings them up to date.
    """
    where, params, join = ["f.deleted_at IS NULL"], [], ""
    if tag:
        join = "JOIN scout_file_tags t ON t.file_id = f.id AND t.tag = ?"
        params.append(tag)
    if source:
        sid = conn.query_value("SELECT id FROM scout_sources WHERE name = ?", [source])
        if sid is None:
            raise UsageError(f"No source named {source!r}.", hint="List sources with: casparian source list")
        where.append("f.source_id = ?")
        params.append(sid)
    rows = conn.query_all(f"SELECT f.id, f.size, f.mtime, s.root, f.rel_path FROM scout_files f "
                          f"JOIN scout_sources s ON s.id = f.source_id {join} WHERE {' AND '.join(where)} "
                          "ORDER BY f.id", params)
    table = _file_table([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    return table.append_column("path", pa.array([_join_stored(r[3], r[4]) for r in rows], pa.string()))


def _join_stored(root: str, rel: str) -> str:
    return root.rstrip("/") + "/" + rel if rel else root


# The stored path of scout_files row f, in SQL (the same join as `_join_stored`).
STORED_PATH_SQL = "CASE WHEN f.rel_path = '' THEN src.root ELSE rtrim(src.root, '/') || '/' || f.rel_path END"


def on_disk_now(catalog: pa.Table) -> pa.Table:
    """(file_id, size, mtime) as the disk has them now, for `select_catalog`'s rows.

    The catalog is as of the last scan; a file may have grown since, and an
    up-to-date check against old figures would skip it. A file that cannot be
    stat'ed keeps the catalog's figures (its job reports the error).
    """
    sizes, mtimes = catalog.column("size").to_pylist(), catalog.column("mtime").to_pylist()
    for i, stored in enumerate(catalog.column("path").to_pylist()):
        try:
            st = os.stat(decode_name(stored))
        except OSError:
            continue
        sizes[i], mtimes[i] = st.st_size, st.st_mtime_ns // 1000
    return _file_table(catalog.column("file_id").to_pylist(), sizes, mtimes)


def record_disk_changes(conn: Connection, files: pa.Table) -> int:
    """Update catalog rows whose size or mtime on disk differ from `files`; return how many did."""
    if files.num_rows == 0:
        return 0
    from casparian_tui.sentinel.queue import staged_table

    files = files.group_by("file_id").aggregate([("size", "max"), ("mtime", "max")]).rename_columns(
        ["file_id", "size", "mtime"])
    with staged_table(conn, "_cf_staged_disk", files) as name:
        rows = conn.query_all(
            f"UPDATE scout_files SET size = d.size, mtime = d.mtime, last_seen_at = ? FROM {name} AS d "
            "WHERE scout_files.id = d.file_id AND (scout_files.size <> d.size OR scout_files.mtime <> d.mtime) "
            "RETURNING scout_files.id", [q.now_us()])
    return len(rows)


@dataclass
class Plan:
    job_ids: list[int]  # new jobs plus ones already queued for this parser
    skipped: int


def plan_jobs(conn: Connection, spec: ParserSpec, files: pa.Table, force: bool, max_attempts: int = 3) -> Plan:
    """Enqueue a job per file unless its output is up to date (same size, mtime, path, fingerprint).

    The path counts too: a renamed file is parsed again, so the lineage of its
    rows names the file as it is called now (the old rows are superseded).

    A file that already has a QUEUED or RUNNING job for this parser build gets
    no second one; that job is part of this run.
    """
    if files.num_rows == 0:
        return Plan([], 0)
    from casparian_tui.sentinel.queue import staged_table

    files = files.group_by("file_id").aggregate([("size", "max"), ("mtime", "max")]).rename_columns(
        ["file_id", "size", "mtime"])
    params = [spec.name, spec.fingerprint] * 2
    with staged_table(conn, "_cf_staged_files", files) as name:
        rows = conn.query_all(
            f"SELECT s.file_id, s.size, s.mtime, "
            f"(SELECT max(j.id) FROM {q.Q} j WHERE j.file_id = s.file_id AND j.parser_name = ? "
            "  AND j.parser_fingerprint = ? AND j.status IN ('QUEUED', 'RUNNING')) AS active, "
            f"(SELECT count(*) FROM {q.Q} j WHERE j.file_id = s.file_id AND j.parser_name = ? "
            "  AND j.parser_fingerprint = ? AND j.status = 'COMPLETED' AND j.superseded_by IS NULL "
            "  AND j.file_size = s.size AND j.file_mtime = s.mtime "
            f"  AND (j.source_path IS NULL OR j.source_path = (SELECT {STORED_PATH_SQL} FROM scout_files f "
            "       JOIN scout_sources src ON src.id = f.source_id WHERE f.id = s.file_id))) AS fresh "
            f"FROM {name} AS s ORDER BY s.file_id", params)
    active = [r[3] for r in rows if r[3] is not None]
    todo = [r for r in rows if r[3] is None and (force or not r[4])]
    skipped = sum(1 for r in rows if r[3] is None and r[4] and not force)
    n = len(todo)
    new_ids = q.enqueue(conn, pa.table({
        "file_id": pa.array([r[0] for r in todo], pa.int64()),
        "parser_name": pa.repeat(pa.scalar(spec.name), n),
        "parser_version": pa.repeat(pa.scalar(spec.version), n),
        "parser_fingerprint": pa.repeat(pa.scalar(spec.fingerprint), n),
        "parser_path": pa.repeat(pa.scalar(str(spec.path)), n),
        "max_attempts": pa.repeat(pa.scalar(max_attempts, pa.int32()), n),
        "file_size": pa.array([r[1] for r in todo], pa.int64()),
        "file_mtime": pa.array([r[2] for r in todo], pa.int64()),
    })) if n else []
    return Plan(sorted(active + new_ids), skipped)


def default_output_root(home: Path) -> Path:
    return Path(home) / "output"


def resolve_output_root(option: str | None, home: Path, env: dict | None = None) -> Path:
    """--output-root, else CASPARIAN_OUTPUT, else <home>/output (hosts sharing a queue share this folder)."""
    env = os.environ if env is None else env
    raw = option or env.get("CASPARIAN_OUTPUT")
    return Path(raw).expanduser().absolute() if raw else default_output_root(home)


def tagged_file_ids(conn: Connection, tags: list[str], sample: int | None = None) -> list[int]:
    """Live catalog files carrying any of `tags`, in id order; `sample` picks that many spread evenly."""
    if not tags:
        return []
    marks = ", ".join("?" for _ in tags)
    ids = [r[0] for r in conn.query_all(
        f"SELECT DISTINCT f.id FROM scout_files f JOIN scout_file_tags t ON t.file_id = f.id "
        f"WHERE f.deleted_at IS NULL AND t.tag IN ({marks}) ORDER BY f.id", list(tags))]
    if sample is None or sample >= len(ids):
        return ids
    if sample <= 0:
        return []
    # evenly spread, deterministic: the same sample on every rerun
    step = len(ids) / sample
    return [ids[int(i * step)] for i in range(sample)]
