"""The tables of DESIGN §4–§5, as ordered migrations.

Each migration is written once in a neutral dialect every backend accepts;
`render` turns the constructs they disagree on — an auto-assigned integer
id, and PostgreSQL's spelling of DOUBLE — into each backend's form.
Timestamps are epoch microseconds (BIGINT) everywhere so the backends
agree. There are no foreign keys: DuckDB implements UPDATE on a referenced
row as delete+insert and rejects it; `casparian db check` reports orphans
instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

ID = "@ID"  # stands for the auto-assigned primary key column type


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: list[str]
    # Indexes SQLite and PostgreSQL need for speed but DuckDB is better off
    # without: every extra ART index slows DuckDB's bulk inserts while its
    # scans need none.
    sqlite_only: list[str] = field(default_factory=list)
    # Data work after the statements, in the same transaction (takes the conn).
    after: Callable | None = None


def _retag_additively(conn) -> None:
    # Catalogs from before additive tags hold one winning rule tag per file
    # and no rule tag on manually tagged files: recompute every rule tag.
    from casparian_tui.scout.rules import apply_rules

    apply_rules(conn)


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "scout: sources, files, tags, rules, folders, scan runs",
        [
            f"""CREATE TABLE scout_sources (
                id {ID},
                name TEXT NOT NULL UNIQUE,
                root TEXT NOT NULL,
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                last_scan_at BIGINT,
                file_count BIGINT NOT NULL DEFAULT 0,
                total_bytes BIGINT NOT NULL DEFAULT 0
            )""",
            f"""CREATE TABLE scout_files (
                id {ID},
                source_id BIGINT NOT NULL,
                rel_path TEXT NOT NULL,
                parent_path TEXT NOT NULL,
                name TEXT NOT NULL,
                extension TEXT,
                size BIGINT NOT NULL,
                mtime BIGINT NOT NULL,
                file_uid TEXT,
                status TEXT NOT NULL DEFAULT 'pending',
                first_seen_at BIGINT NOT NULL,
                last_seen_at BIGINT NOT NULL,
                deleted_at BIGINT,
                content_hash TEXT,
                metadata_raw TEXT,
                last_scan_id BIGINT,
                first_scan_id BIGINT,
                changed_scan_id BIGINT,
                UNIQUE (source_id, rel_path)
            )""",
            """CREATE TABLE scout_file_tags (
                file_id BIGINT NOT NULL,
                tag TEXT NOT NULL,
                tag_source TEXT NOT NULL,
                rule_id BIGINT,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (file_id, tag)
            )""",
            f"""CREATE TABLE scout_tagging_rules (
                id {ID},
                name TEXT UNIQUE,
                pattern TEXT NOT NULL,
                tag TEXT NOT NULL,
                priority INTEGER NOT NULL DEFAULT 0,
                enabled BOOLEAN NOT NULL DEFAULT TRUE,
                created_at BIGINT NOT NULL,
                UNIQUE (pattern, tag)
            )""",
            """CREATE TABLE scout_folders (
                source_id BIGINT NOT NULL,
                path TEXT NOT NULL,
                parent_path TEXT,
                depth INTEGER NOT NULL,
                file_count BIGINT NOT NULL DEFAULT 0,
                total_bytes BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (source_id, path)
            )""",
            f"""CREATE TABLE scout_scan_runs (
                id {ID},
                source_id BIGINT NOT NULL,
                started_at BIGINT NOT NULL,
                finished_at BIGINT,
                status TEXT NOT NULL,
                files_found BIGINT NOT NULL DEFAULT 0,
                new_files BIGINT NOT NULL DEFAULT 0,
                changed_files BIGINT NOT NULL DEFAULT 0,
                unchanged_files BIGINT NOT NULL DEFAULT 0,
                renamed_files BIGINT NOT NULL DEFAULT 0,
                deleted_files BIGINT NOT NULL DEFAULT 0,
                error_count BIGINT NOT NULL DEFAULT 0,
                errors_json TEXT,
                dirs_scanned BIGINT NOT NULL DEFAULT 0,
                symlinks_skipped BIGINT NOT NULL DEFAULT 0,
                special_skipped BIGINT NOT NULL DEFAULT 0,
                excludes_json TEXT,
                owner TEXT,
                duration_s DOUBLE
            )""",
        ],
        sqlite_only=[
            "CREATE INDEX idx_files_status ON scout_files (status)",
            "CREATE INDEX idx_files_ext ON scout_files (extension)",
            "CREATE INDEX idx_files_uid ON scout_files (file_uid)",
            "CREATE INDEX idx_tags_tag ON scout_file_tags (tag)",
        ],
    ),
    Migration(
        2,
        "sentinel: processing queue, dead letters, job events",
        [
            f"""CREATE TABLE cf_processing_queue (
                id {ID},
                file_id BIGINT NOT NULL,
                parser_name TEXT NOT NULL,
                parser_version TEXT NOT NULL,
                parser_fingerprint TEXT NOT NULL,
                parser_path TEXT,
                status TEXT NOT NULL DEFAULT 'QUEUED',
                priority INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL DEFAULT 3,
                run_after BIGINT NOT NULL DEFAULT 0,
                lease_owner TEXT,
                lease_expires_at BIGINT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                started_at BIGINT,
                finished_at BIGINT,
                file_size BIGINT,
                file_mtime BIGINT,
                error TEXT,
                traceback TEXT,
                rows_out BIGINT,
                rows_quarantined BIGINT,
                output_paths TEXT,
                superseded_by BIGINT,
                rows_retired_at BIGINT
            )""",
            f"""CREATE TABLE cf_dead_letter (
                id {ID},
                job_id BIGINT NOT NULL,
                file_id BIGINT NOT NULL,
                parser_name TEXT NOT NULL,
                parser_version TEXT NOT NULL,
                attempts INTEGER NOT NULL,
                error TEXT,
                traceback TEXT,
                created_at BIGINT NOT NULL
            )""",
            f"""CREATE TABLE cf_job_events (
                id {ID},
                job_id BIGINT NOT NULL,
                event_at BIGINT NOT NULL,
                event TEXT NOT NULL,
                detail TEXT
            )""",
        ],
        sqlite_only=[
            "CREATE INDEX idx_queue_claim ON cf_processing_queue (status, priority, id)",
            "CREATE INDEX idx_queue_file ON cf_processing_queue (file_id, parser_name)",
            "CREATE INDEX idx_queue_owner ON cf_processing_queue (lease_owner)",
            "CREATE INDEX idx_dead_job ON cf_dead_letter (job_id)",
            "CREATE INDEX idx_events_job ON cf_job_events (job_id)",
        ],
    ),
    Migration(
        3,
        "trust: schema contracts and backtests",
        [
            f"""CREATE TABLE schema_contracts (
                id {ID},
                parser_name TEXT NOT NULL,
                output_name TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE (parser_name, output_name)
            )""",
            f"""CREATE TABLE schema_contract_versions (
                id {ID},
                contract_id BIGINT NOT NULL,
                version INTEGER NOT NULL,
                columns_json TEXT NOT NULL,
                status TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                approved_at BIGINT,
                UNIQUE (contract_id, version)
            )""",
            f"""CREATE TABLE cf_backtest_runs (
                id {ID},
                parser_name TEXT NOT NULL,
                parser_version TEXT NOT NULL,
                parser_fingerprint TEXT NOT NULL,
                tag TEXT,
                status TEXT NOT NULL,
                started_at BIGINT NOT NULL,
                finished_at BIGINT,
                files_total BIGINT NOT NULL DEFAULT 0,
                files_passed BIGINT NOT NULL DEFAULT 0,
                files_failed BIGINT NOT NULL DEFAULT 0,
                rows_total BIGINT NOT NULL DEFAULT 0,
                sample_size BIGINT,
                p50_ms DOUBLE,
                p95_ms DOUBLE
            )""",
            f"""CREATE TABLE cf_backtest_results (
                id {ID},
                run_id BIGINT NOT NULL,
                file_id BIGINT NOT NULL,
                passed BOOLEAN NOT NULL,
                rows_out BIGINT NOT NULL DEFAULT 0,
                rows_quarantined BIGINT NOT NULL DEFAULT 0,
                duration_ms DOUBLE,
                error TEXT,
                schema_json TEXT
            )""",
        ],
    ),
    Migration(
        4,
        "workers: registered parser sources, worker processes",
        [
            """CREATE TABLE cf_parsers (
                fingerprint TEXT NOT NULL PRIMARY KEY,
                name TEXT NOT NULL,
                version TEXT NOT NULL,
                filename TEXT NOT NULL,
                source TEXT NOT NULL,
                registered_at BIGINT NOT NULL,
                registered_by TEXT
            )""",
            """CREATE TABLE cf_workers (
                owner TEXT NOT NULL PRIMARY KEY,
                host TEXT NOT NULL,
                pid BIGINT NOT NULL,
                parsers TEXT,
                status TEXT NOT NULL,
                current_job BIGINT,
                jobs_done BIGINT NOT NULL DEFAULT 0,
                started_at BIGINT NOT NULL,
                heartbeat_at BIGINT NOT NULL
            )""",
        ],
    ),
    Migration(
        5,
        "scout: tags add up; manual untags are recorded",
        [
            """CREATE TABLE scout_file_untags (
                file_id BIGINT NOT NULL,
                tag TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (file_id, tag)
            )""",
        ],
        after=_retag_additively,
    ),
    Migration(
        6,
        "jobs: parser output tail and the path a job parsed",
        [
            "ALTER TABLE cf_processing_queue ADD COLUMN output_tail TEXT",
            "ALTER TABLE cf_processing_queue ADD COLUMN source_path TEXT",
        ],
    ),
    Migration(
        7,
        "forensics: content hashes, hash sets and their rules, what each scan changed",
        [
            # A hash is kept with the size and mtime it was computed for: it
            # is current only while the file's row still has both.
            """CREATE TABLE scout_file_hashes (
                file_id BIGINT NOT NULL,
                algo TEXT NOT NULL,
                hash TEXT NOT NULL,
                size BIGINT NOT NULL,
                mtime BIGINT NOT NULL,
                hashed_at BIGINT NOT NULL,
                PRIMARY KEY (file_id, algo)
            )""",
            "ALTER TABLE scout_sources ADD COLUMN hash_algo TEXT",
            f"""CREATE TABLE scout_hashsets (
                id {ID},
                name TEXT NOT NULL UNIQUE,
                hash_count BIGINT NOT NULL DEFAULT 0,
                algos TEXT,
                origin TEXT,
                created_at BIGINT NOT NULL
            )""",
            """CREATE TABLE scout_hashset_entries (
                set_id BIGINT NOT NULL,
                hash TEXT NOT NULL
            )""",
            f"""CREATE TABLE scout_hashset_rules (
                id {ID},
                set_id BIGINT NOT NULL,
                tag TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE (set_id, tag)
            )""",
            # New files are those whose first_scan_id is the scan; this holds
            # the rest (changed, reappeared, renamed with the old path, deleted).
            """CREATE TABLE scout_scan_changes (
                scan_id BIGINT NOT NULL,
                file_id BIGINT NOT NULL,
                change TEXT NOT NULL,
                old_path TEXT
            )""",
        ],
        sqlite_only=[
            "CREATE INDEX idx_hashes_hash ON scout_file_hashes (hash)",
            "CREATE INDEX idx_hashset_entries ON scout_hashset_entries (hash, set_id)",
            "CREATE INDEX idx_scan_changes ON scout_scan_changes (scan_id)",
            "CREATE INDEX idx_files_first_scan ON scout_files (first_scan_id)",
        ],
    ),
]

LATEST_VERSION = MIGRATIONS[-1].version

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS cf_schema_version (
    version INTEGER NOT NULL PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)"""

_CREATE_TABLE = re.compile(r"CREATE TABLE (\w+)")


def render(statement: str, backend: str) -> list[str]:
    """The backend's statements for one neutral statement."""
    if backend == "postgres":
        statement = re.sub(r"\bDOUBLE\b", "DOUBLE PRECISION", statement)
    if ID not in statement:
        return [statement]
    if backend == "sqlite":
        # INTEGER PRIMARY KEY aliases the rowid, which SQLite assigns itself.
        return [statement.replace(ID, "INTEGER PRIMARY KEY")]
    table = _CREATE_TABLE.search(statement).group(1)
    seq = f"seq_{table}"
    return [
        f"CREATE SEQUENCE {seq}",
        statement.replace(ID, f"BIGINT PRIMARY KEY DEFAULT nextval('{seq}')"),
    ]


def statements_for(migration: Migration, backend: str) -> list[str]:
    out: list[str] = []
    for stmt in migration.statements:
        out.extend(render(stmt, backend))
    if backend in ("sqlite", "postgres"):  # row stores: B-tree indexes pay for themselves
        out.extend(migration.sqlite_only)
    return out
