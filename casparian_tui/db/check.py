"""`casparian db check`: is this database whole?

The schema has no foreign keys (DuckDB rejects UPDATEs of referenced rows,
see db/schema.py), so references are checked here instead: tags, jobs, dead
letters and backtest results must point at rows that exist, (source, path)
must be unique, and DuckDB's id sequences must be ahead of the ids in use (a
sequence behind max(id) would make the next insert collide). SQLite also runs
its own `PRAGMA quick_check` over the file's structure.
"""

from __future__ import annotations

from casparian_tui.db.connection import Connection
from casparian_tui.db.migrate import current_version

# name -> (what it means, SQL counting offending rows). Each check names the
# tables it needs, so an older schema without them is simply not checked.
REFERENCE_CHECKS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "orphan_tags": (
        "tags on files that do not exist",
        ("scout_file_tags", "scout_files"),
        "SELECT count(*) FROM scout_file_tags t WHERE NOT EXISTS (SELECT 1 FROM scout_files f WHERE f.id = t.file_id)",
    ),
    "files_without_source": (
        "files whose source does not exist",
        ("scout_files", "scout_sources"),
        "SELECT count(*) FROM scout_files f WHERE NOT EXISTS (SELECT 1 FROM scout_sources s WHERE s.id = f.source_id)",
    ),
    "duplicate_paths": (
        "(source, path) pairs cataloged more than once",
        ("scout_files",),
        "SELECT count(*) FROM (SELECT source_id, rel_path FROM scout_files GROUP BY 1, 2 HAVING count(*) > 1) d",
    ),
    "jobs_missing_file": (
        "jobs pointing at files that do not exist",
        ("cf_processing_queue", "scout_files"),
        "SELECT count(*) FROM cf_processing_queue q WHERE NOT EXISTS (SELECT 1 FROM scout_files f WHERE f.id = q.file_id)",
    ),
    "dead_letters_missing_job": (
        "dead letters pointing at jobs that do not exist",
        ("cf_dead_letter", "cf_processing_queue"),
        "SELECT count(*) FROM cf_dead_letter d WHERE NOT EXISTS (SELECT 1 FROM cf_processing_queue q WHERE q.id = d.job_id)",
    ),
    "backtest_results_missing_run": (
        "backtest results pointing at runs that do not exist",
        ("cf_backtest_results", "cf_backtest_runs"),
        "SELECT count(*) FROM cf_backtest_results r WHERE NOT EXISTS (SELECT 1 FROM cf_backtest_runs b WHERE b.id = r.run_id)",
    ),
    "contract_versions_missing_contract": (
        "contract versions of contracts that do not exist",
        ("schema_contract_versions", "schema_contracts"),
        "SELECT count(*) FROM schema_contract_versions v WHERE NOT EXISTS (SELECT 1 FROM schema_contracts c WHERE c.id = v.contract_id)",
    ),
}


def check_database(conn: Connection) -> dict:
    """Schema version, row counts and every problem found (an empty list: all is well)."""
    tables = conn.table_names()
    problems: list[dict] = []
    for name, (meaning, needs, sql) in REFERENCE_CHECKS.items():
        if set(needs) <= tables:
            count = int(conn.query_value(sql, default=0))
            if count:
                problems.append({"check": name, "count": count, "detail": meaning})
    problems.extend(_engine_problems(conn, tables))
    return {
        "schema_version": current_version(conn),
        "rows": {t: int(conn.query_value(f"SELECT count(*) FROM {t}", default=0)) for t in sorted(tables)},
        "problems": problems,
    }


def _engine_problems(conn: Connection, tables: set[str]) -> list[dict]:
    out = conn.engine_problems(tables)
    for seq, last, start in conn.sequences():
        table = seq[len("seq_"):]
        if table not in tables:
            continue
        top = conn.query_value(f"SELECT max(id) FROM {table}")
        issued = last if last is not None else start - 1
        if top is not None and issued < top:
            out.append({
                "check": "sequence_behind",
                "count": int(top - issued),
                "detail": f"{seq} would hand out id {issued + 1}, but {table} already uses ids up to {top}",
            })
    return out
