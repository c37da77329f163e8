"""Everything the catalog knows about one file: where it is, its times, each
tag and what gave it, the tags removed from it by hand, and its jobs with
their outputs. The TUI's file detail view shows it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from casparian_tui.db.connection import Connection
from casparian_tui.errors import CasparianError
from casparian_tui.scout.catalog import statuses_for
from casparian_tui.scout.pathcodec import shown_path


class FileNotInCatalog(CasparianError):
    """No catalog row has that id."""


@dataclass(frozen=True)
class TagReason:
    tag: str
    source: str  # "rule" or "manual"
    rule_id: int | None = None
    rule_pattern: str | None = None
    rule_name: str | None = None


@dataclass(frozen=True)
class FileJob:
    id: int
    parser: str
    version: str
    status: str
    attempts: int
    max_attempts: int
    finished_at: int | None
    rows_out: int | None
    rows_quarantined: int | None
    outputs: list[str]
    error: str | None


@dataclass
class FileDetail:
    id: int
    source: str
    path: str
    rel_path: str
    extension: str | None
    size: int
    mtime: int
    first_seen_at: int
    last_seen_at: int
    deleted_at: int | None
    content_hash: str | None
    status: str
    tags: list[TagReason] = field(default_factory=list)
    untags: list[str] = field(default_factory=list)
    jobs: list[FileJob] = field(default_factory=list)


def _outputs(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        found = json.loads(raw)
    except ValueError:
        return [raw]  # stored by an older writer as plain text: show it as it is
    return [str(p) for p in found] if isinstance(found, list) else [str(found)]


def file_detail(conn: Connection, file_id: int) -> FileDetail:
    row = conn.query_one(
        "SELECT f.id, s.name, s.root, f.rel_path, f.extension, f.size, f.mtime, f.first_seen_at, "
        "f.last_seen_at, f.deleted_at, f.content_hash FROM scout_files f "
        "JOIN scout_sources s ON s.id = f.source_id WHERE f.id = ?",
        (int(file_id),),
    )
    if row is None:
        raise FileNotInCatalog(f"No file with id {file_id} in the catalog.", hint="Rescan its source.")
    fid, source, root, rel, ext, size, mtime, first, last, deleted, digest = row
    if deleted is None:
        # A rescan leaves an unchanged file's row unwritten: a later complete
        # scan that read every folder saw it too.
        seen = conn.query_value(
            "SELECT max(r.started_at) FROM scout_scan_runs r JOIN scout_files f ON f.source_id = r.source_id"
            " WHERE f.id = ? AND r.status = 'completed' AND r.error_count = 0 AND r.excludes_json IS NULL",
            (fid,),
        )
        last = max(last, seen) if seen is not None and last is not None else last
    detail = FileDetail(
        id=fid,
        source=source,
        path=str(shown_path(root.rstrip("/") + "/" + rel)),
        rel_path=str(shown_path(rel)),
        extension=ext,
        size=size,
        mtime=mtime,
        first_seen_at=first,
        last_seen_at=last,
        deleted_at=deleted,
        content_hash=digest,
        status=statuses_for(conn, [fid]).get(fid, "pending"),
    )
    detail.tags = [
        TagReason(tag, src, rid, pattern, name)
        for tag, src, rid, pattern, name in conn.query_all(
            "SELECT t.tag, t.tag_source, t.rule_id, r.pattern, r.name FROM scout_file_tags t "
            "LEFT JOIN scout_tagging_rules r ON r.id = t.rule_id WHERE t.file_id = ? ORDER BY t.tag",
            (fid,),
        )
    ]
    detail.untags = [r[0] for r in conn.query_all(
        "SELECT tag FROM scout_file_untags WHERE file_id = ? ORDER BY tag", (fid,))]
    detail.jobs = [
        FileJob(jid, parser, version, status, attempts, max_attempts, finished, rows, quarantined, _outputs(paths), error)
        for jid, parser, version, status, attempts, max_attempts, finished, rows, quarantined, paths, error
        in conn.query_all(
            "SELECT id, parser_name, parser_version, status, attempts, max_attempts, finished_at, rows_out, "
            "rows_quarantined, output_paths, error FROM cf_processing_queue WHERE file_id = ? ORDER BY id DESC",
            (fid,),
        )
    ]
    return detail
