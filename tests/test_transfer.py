"""casparian db migrate / db export: verified copies between SQLite and DuckDB."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from conftest import FILE_BACKENDS, REPO
from transfer_catalog import AWKWARD, build_catalog, dump, known_tables, open_file
from waiting import wait_for

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.db import transfer as tr
from casparian_tui.db.lease import WriterLease
from casparian_tui.db.migrate import migrate
from casparian_tui.db.schema import LATEST_VERSION, MIGRATIONS
from casparian_tui.db.sqlite_backend import SQLiteConnection
from casparian_tui.errors import SchemaTooNew
from casparian_tui.scout import rules
from casparian_tui.scout.pathcodec import decode_name
from casparian_tui.sentinel import queue as q

OTHER = {"duckdb": "sqlite", "sqlite": "duckdb"}
SUFFIX = {"duckdb": "duckdb", "sqlite": "sqlite"}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _strays(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "transfer-tmp" in p.name)


def _catalog(backend: str, tmp_path: Path) -> Path:
    path = tmp_path / f"source.{SUFFIX[backend]}"
    db = Database(Settings.resolve(db=path, backend=backend, env={}, command="pytest").with_(idle_grace_s=0.05))
    try:
        build_catalog(db, tmp_path)
    finally:
        db.close()
    return path


@pytest.mark.parametrize("backend", FILE_BACKENDS)
def test_round_trip_keeps_every_row_and_ids_continue(backend, tmp_path):
    source = _catalog(backend, tmp_path)
    before = _digest(source)
    original = dump(backend, source)
    # the catalog has something in every table, and every job state
    assert {t for t, rows in original.items() if rows} == known_tables()
    statuses = {r[0] for r in open_file(backend, source).query_all("SELECT DISTINCT status FROM cf_processing_queue")}
    assert statuses == {"QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"}

    other = OTHER[backend]
    middle = tmp_path / f"middle.{SUFFIX[other]}"
    back = tmp_path / f"back.{SUFFIX[backend]}"
    seen = []
    report = tr.transfer(source, backend, middle, other, on_progress=lambda t, n, total: seen.append((t, n, total)))
    tr.transfer(middle, other, back, backend)

    assert _digest(source) == before  # the source was never written
    assert dump(other, middle) == original
    assert dump(backend, back) == original
    assert report.verified and {t.table for t in report.tables} == known_tables()
    files = next(t for t in report.tables if t.table == "scout_files")
    assert files.rows_source == files.rows_target == len(original["scout_files"])
    assert files.checksum_source == files.checksum_target
    assert sum(n for t, n, _ in seen if t == "scout_files") == files.rows_source
    assert _strays(tmp_path) == []

    # the awkward names survive byte for byte
    conn = open_file(other, middle)
    stored = {os.fsencode(decode_name(r[0])) for r in conn.query_all("SELECT name FROM scout_files")}
    conn.close()
    assert set(AWKWARD) <= stored

    # new rows in the copy get ids after the highest copied one
    top = max(r[0] for r in original["scout_tagging_rules"])
    db = Database(Settings.resolve(db=middle, backend=other, env={}, command="pytest"))
    try:
        rule = db.write("add a rule", lambda c: rules.add_rule(c, "*.new", "new"))
        new_jobs = db.write("enqueue", lambda c: q.enqueue(c, pa.table({
            "file_id": pa.array([1], pa.int64()), "parser_name": ["p"], "parser_version": ["2"],
            "parser_fingerprint": ["f2"]})))
    finally:
        db.close()
    assert rule.id == top + 1
    assert new_jobs == [max(r[0] for r in original["cf_processing_queue"]) + 1]


def test_verification_failure_names_the_table_and_leaves_nothing(tmp_path, monkeypatch):
    source = _catalog("sqlite", tmp_path)
    original_copy = tr._copy

    def lossy_copy(src, dst, *args):
        sums = original_copy(src, dst, *args)
        dst.execute("DELETE FROM scout_tagging_rules WHERE id = (SELECT max(id) FROM scout_tagging_rules)")
        return sums

    monkeypatch.setattr(tr, "_copy", lossy_copy)
    target = tmp_path / "t.duckdb"
    with pytest.raises(tr.TransferMismatch, match="scout_tagging_rules") as err:
        tr.transfer(source, "sqlite", target, "duckdb")
    assert "scout_files" not in err.value.message
    assert not target.exists() and _strays(tmp_path) == []


def test_refuses_a_newer_source_schema(tmp_path):
    source = tmp_path / "new.sqlite"
    conn = SQLiteConnection(source, read_only=False)
    migrate(conn)
    conn.execute("INSERT INTO cf_schema_version (version, description, applied_at) VALUES (99, 'future', 0)")
    conn.close()
    before = _digest(source)
    with pytest.raises(SchemaTooNew):
        tr.transfer(source, "sqlite", tmp_path / "t.duckdb", "duckdb")
    assert not (tmp_path / "t.duckdb").exists() and _digest(source) == before


def test_older_source_schema_is_brought_up_to_date_in_the_copy(tmp_path):
    source = tmp_path / "old.sqlite"
    conn = SQLiteConnection(source, read_only=False)
    migrate(conn, target=2)
    conn.execute("INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('s', '/s', 1, 2)")
    conn.execute("INSERT INTO cf_job_events (job_id, event_at, event, detail) VALUES (7, 5, 'queued', NULL)")
    conn.close()
    report = tr.transfer(source, "sqlite", tmp_path / "t.duckdb", "duckdb")
    assert report.source_schema_version == 2 and report.target_schema_version == LATEST_VERSION
    copy = dump("duckdb", tmp_path / "t.duckdb")
    assert [r[0] for r in copy["cf_schema_version"]] == [m.version for m in MIGRATIONS]
    assert copy["scout_sources"] == [(1, "s", "/s", 1, 1, 2, None, 0, 0, None)]
    assert copy["cf_job_events"] == [(1, 7, 5, "queued", None)]
    assert copy["schema_contracts"] == []


def test_cli_refuses_to_overwrite_unless_forced(tmp_path, cli):
    source = _catalog("sqlite", tmp_path)
    target = tmp_path / "t.duckdb"
    target.write_bytes(b"precious")
    res = cli("db", "migrate", "--from", str(source), "--to", str(target))
    assert res.returncode == 1 and "target exists" in res.stderr and "--force" in res.stderr
    assert target.read_bytes() == b"precious"
    res = cli("db", "migrate", "--from", str(source), "--to", str(target), "--force", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["verified"] and out["duration_s"] > 0
    assert {t["table"] for t in out["tables"]} == known_tables()
    assert all(t["checksum_source"] == t["checksum_target"] for t in out["tables"])
    assert dump("duckdb", target) == dump("sqlite", source)


def test_source_lease_is_held_by_the_copy(tmp_path, cli):
    """A writer holding the source's lease keeps the copy out (exit 3), naming it."""
    source = _catalog("sqlite", tmp_path)
    lease = WriterLease(source, "casparian scan somewhere")
    assert lease.acquire(timeout=0)
    try:
        res = cli("--wait", "0.3", "db", "migrate", "--from", str(source), "--to", str(tmp_path / "t.duckdb"))
    finally:
        lease.release()
    assert res.returncode == 3 and "casparian scan somewhere" in res.stderr
    assert not (tmp_path / "t.duckdb").exists()


def test_kill_9_during_a_migration_leaves_no_target(tmp_path, cli):
    source = _catalog("sqlite", tmp_path)
    target = tmp_path / "t.duckdb"
    env = dict(os.environ, CASPARIAN_TRANSFER_TEST_DELAY="0.5")
    proc = subprocess.Popen(
        [sys.executable, "-m", "casparian_tui", "db", "migrate", "--from", str(source), "--to", str(target)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        # mid-way: the temporary file exists and the scout tables are being copied
        wait_for(lambda: _strays(tmp_path), timeout=30)
        wait_for(lambda: WriterLease(source, "probe").acquire(timeout=0) is False, timeout=5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert not target.exists()
    assert _strays(tmp_path)  # the dead run's temporary file, never visible as the target
    res = cli("db", "migrate", "--from", str(source), "--to", str(target), "--json")
    assert res.returncode == 0, res.stderr
    assert target.exists() and _strays(tmp_path) == []


def test_migrated_database_works_with_every_command(tmp_path, cli):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        (data / f"f{i}.csv").write_text(f"id,name\n{i},n{i}\n")
    sqlite_db = str(tmp_path / "old.sqlite")
    assert cli("--db", sqlite_db, "scan", str(data)).returncode == 0
    assert cli("--db", sqlite_db, "rule", "add", "*.csv", "--tag", "csv").returncode == 0
    target = str(tmp_path / "new.duckdb")
    res = cli("db", "migrate", "--from", sqlite_db, "--to", target)
    assert res.returncode == 0 and "every table verified" in res.stdout, res.stderr

    (data / "f9.csv").write_text("id,name\n9,n9\n")
    res = cli("--db", target, "scan", "data", "--json")  # rescan by source name
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["new"] == 1
    assert cli("--db", target, "rule", "add", "f9*", "--tag", "nine").returncode == 0
    res = cli("--db", target, "files", "--tag", "csv", "--json")
    assert res.returncode == 0 and len(json.loads(res.stdout)) == 5, res.stdout
    res = cli("--db", target, "run", str(REPO / "assets/parsers/csv_rows.py"), "--tag", "csv", "--json")
    assert res.returncode == 0, res.stderr
    res = cli("--db", target, "jobs", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["counts"].get("COMPLETED") == 5, res.stdout
    res = cli("--db", target, "db", "check", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["ok"]

    # and back again: export the DuckDB database to SQLite
    back = str(tmp_path / "back.sqlite")
    res = cli("--db", target, "db", "export", "--to", back, "--json")
    assert res.returncode == 0, res.stderr
    assert dump("sqlite", Path(back)) == dump("duckdb", Path(target))
    res = cli("--db", back, "files", "--json")
    assert res.returncode == 0 and len(json.loads(res.stdout)) == 5


def _server_dump(dsn: str) -> dict[str, list[tuple]]:
    from casparian_tui.db.postgres_backend import PostgresConnection
    from transfer_catalog import _key

    conn = PostgresConnection(dsn, read_only=True)
    try:
        out = {}
        for table in sorted(conn.table_names()):
            rows = conn.query_all(f"SELECT * FROM {table}")
            out[table] = sorted((tuple(int(v) if isinstance(v, bool) else v for v in r) for r in rows), key=_key)
        return out
    finally:
        conn.close()


def test_sqlite_to_postgres_to_duckdb_through_the_cli(cli, pg_cluster, tmp_path):
    source = _catalog("sqlite", tmp_path)
    original = dump("sqlite", source)
    target = pg_cluster.empty_database()
    res = cli("db", "migrate", "--from", str(source), "--to", target, "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["verified"] and report["target_backend"] == "postgres"
    assert "@" not in report["target"] and report["target"].endswith(target.split("?")[0].rsplit("/", 1)[1])
    assert _server_dump(target) == original

    again = cli("db", "migrate", "--from", str(source), "--to", target)
    assert again.returncode == 1 and "already holds Casparian tables" in again.stderr
    back = tmp_path / "back.duckdb"
    res = cli("--db", target, "db", "export", "--to", str(back), "--json")
    assert res.returncode == 0, res.stderr
    assert dump("duckdb", back) == original
    res = cli("--db", target, "db", "check", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["ok"]

    # new rows on the server get ids after the highest copied one
    db = Database(Settings.resolve(db=target, env={}, command="pytest"))
    try:
        rule = db.write("add a rule", lambda c: rules.add_rule(c, "*.new", "new"))
    finally:
        db.close()
    assert rule.id == max(r[0] for r in original["scout_tagging_rules"]) + 1


def test_a_failed_copy_to_postgres_leaves_the_target_as_it_was(pg_cluster, tmp_path, monkeypatch):
    source = _catalog("duckdb", tmp_path)
    target = pg_cluster.empty_database()

    def lossy_copy(src, dst, *args):
        sums = original_copy(src, dst, *args)
        dst.execute("DELETE FROM scout_tagging_rules WHERE id = (SELECT max(id) FROM scout_tagging_rules)")
        return sums

    original_copy = tr._copy
    monkeypatch.setattr(tr, "_copy", lossy_copy)
    with pytest.raises(tr.TransferMismatch, match="scout_tagging_rules"):
        tr.transfer(source, "duckdb", target, "postgres")
    assert _server_dump(target) == {}  # the transaction never committed: no tables at all
