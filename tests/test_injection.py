"""Hostile strings and hostile files: quote-and-semicolon payloads in every
user-supplied string (services and CLI), and damaged, foreign, newer, unwritable
or full storage. The catalog survives intact and nothing is overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.scout import catalog, preview, rules, tags
from casparian_tui.scout.catalog import FileFilter
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source, get_source
from casparian_tui.scout.testtree import make_tree
from casparian_tui.sentinel import jobs
from conftest import REPO
from test_gauntlet import drop_root_powers

PAYLOADS = [
    "x'); DROP TABLE scout_files; --",
    'y"); DELETE FROM scout_sources; --',
    "z'; UPDATE scout_files SET size = 0; SELECT '",
    "w%' OR '1'='1",
]
TABLES = ("scout_sources", "scout_files", "scout_tagging_rules", "scout_file_tags", "cf_processing_queue")


def _snapshot(db) -> dict:
    names = set(db.read(lambda c: c.table_names()))
    counts = {t: db.query_value(f"SELECT count(*) FROM {t}") for t in TABLES}
    sizes = db.query_value("SELECT sum(size) FROM scout_files")
    return {"tables": names, "counts": counts, "sizes": sizes}


@pytest.fixture
def seeded(db, tmp_path):
    root = tmp_path / "tree"
    make_tree(root, 60, seed=4, depth=1, files_per_dir=20)
    Scanner(db, add_source(db, root)).run()
    return db


def test_payloads_through_every_service_are_only_values(seeded, tmp_path):
    db = seeded
    before = _snapshot(db)
    added_rules = 0
    for i, p in enumerate(PAYLOADS):
        folder = tmp_path / f"src{i}"
        folder.mkdir()
        src = add_source(db, folder, name=p)  # a source name
        assert db.read(lambda c: get_source(c, p)).id == src.id
        assert db.read(lambda c: catalog.resolve_source(c, p))["id"] == src.id
        glob = f"*{p}*"  # a pattern made of payload (quotes, %, ;) matches nothing
        assert db.read(lambda c: preview.preview(c, glob)).count == 0
        flt = FileFilter.build(tag=p, statuses=["failed"], extensions=[p], patterns=[glob])
        assert db.read(lambda c: catalog.count_files(c, flt)) == 0
        assert db.read(lambda c: catalog.list_files(c, FileFilter.build(tag=p))) == []
        db.write("rule", lambda c: rules.add_rule(c, glob, p, name=p))  # pattern, tag and rule name
        added_rules += 1
        assert db.read(lambda c: rules.find_rule(c, p)).tag == p.strip()
        tagged = db.write("tag", lambda c: tags.add_manual_tag(c, FileFilter.build(patterns=["*.csv"]), p))
        assert tagged > 0
        assert db.read(lambda c: catalog.count_files(c, FileFilter.build(tag=p))) == tagged
        db.write("untag", lambda c: tags.untag(c, FileFilter.build(patterns=["*.csv"]), p))
        # job steering filtered by a parser name
        assert db.read(lambda c: jobs.counts(c, parser=p)) is not None
        assert db.read(lambda c: jobs.list_jobs(c, parser=p)) == []
        assert db.write("cancel", lambda c: jobs.cancel_all(c, parser=p, include_running=True)).job_ids == []
        assert db.write("retry", lambda c: jobs.retry_all_failed(c, parser=p)).job_ids == []
        assert db.write("purge", lambda c: jobs.purge_dead_letter(c, parser=p)).job_ids == []
    after = _snapshot(db)
    assert after["tables"] == before["tables"]
    assert after["sizes"] == before["sizes"]
    assert after["counts"]["scout_files"] == before["counts"]["scout_files"]
    assert after["counts"]["scout_sources"] == before["counts"]["scout_sources"] + len(PAYLOADS)
    assert after["counts"]["scout_tagging_rules"] == added_rules
    stored = {r[0] for r in db.query_all("SELECT name FROM scout_sources")}
    assert set(PAYLOADS) <= stored  # kept literally


def test_payloads_through_the_cli(cli, backend, tmp_path, db_url):
    root = tmp_path / "tree"
    make_tree(root, 30, seed=2, depth=1, files_per_dir=10)
    g = ["--backend", backend, "--db", db_url]
    p = PAYLOADS[0]
    assert cli("source", "add", str(root), "--name", p, *g).returncode == 0
    r = cli("scan", p, "--json", *g)
    assert r.returncode == 0 and json.loads(r.stdout)["new"] == 30, r.stderr
    assert cli("rule", "add", f"*{p}*", "--tag", p, "--name", p, *g).returncode == 0
    assert cli("rule", "test", f"*{p}*", "--source", p, *g).returncode == 0
    r = cli("tag", "*", p, "--source", p, "--json", *g)
    assert r.returncode == 0, r.stderr
    r = cli("files", "--tag", p, "--source", p, "--ext", p, "--glob", f"!*{p}", "--status", "pending", "--json", *g)
    assert r.returncode == 0 and json.loads(r.stdout) == [], r.stderr
    r = cli("jobs", "--parser", p, "--status", "queued", "--json", *g)
    assert r.returncode == 0, r.stderr
    r = cli("query", f"SELECT count(*) AS n FROM scout_files WHERE rel_path <> '{p.split(';')[0]}'", "--json", *g)
    assert r.returncode == 1  # the payload closes the statement early: refused, not run
    r = cli("files", "--tag", p, "--json", "--limit", "100", *g)
    assert len(json.loads(r.stdout)) == 30  # every file, tagged with the literal payload
    r = cli("source", "remove", p, "--yes", *g)
    assert r.returncode == 0 and "30 catalog rows" in r.stdout, r.stdout + r.stderr


# ---- damaged and foreign storage ------------------------------------------------

def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _fill(settings) -> None:
    db = Database(settings)
    try:
        db.execute("seed", "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('keep', '/k', 0, 0)")
    finally:
        db.close()


def test_a_corrupt_database_file_is_refused_and_left_untouched(cli, backend, tmp_path):
    if backend == "postgres":
        pytest.skip("a server has no database file to corrupt")
    suffix = "duckdb" if backend == "duckdb" else "sqlite"
    path = tmp_path / f"broken.{suffix}"
    _fill(Settings.resolve(db=path, backend=backend, env={}))
    data = bytearray(path.read_bytes())
    # Keep the header (so it still looks like this engine's file) and wreck the rest.
    keep = 100 if backend == "sqlite" else 8192
    data[keep:] = bytes(b ^ 0x5A for b in data[keep:])
    path.write_bytes(bytes(data))
    digest = _digest(path)
    for args in (["db", "info"], ["files"], ["scan", str(tmp_path)]):
        r = cli(*args, "--backend", backend, "--db", str(path))
        assert r.returncode != 0 and r.stderr.startswith("error: "), (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
    assert _digest(path) == digest


def test_an_unwritable_home_folder_is_a_clear_error():
    """Root writes anywhere, so as root the CLI runs without the capabilities
    that let root ignore permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    base = tempfile.mkdtemp(prefix="cf-home-")  # world-traversable, unlike pytest's tmp_path
    try:
        os.chmod(base, 0o755)
        home = os.path.join(base, "home")
        os.mkdir(home, 0o555)
        os.chmod(home, 0o555)
        env = dict(os.environ, CASPARIAN_HOME=home, HOME=home)
        r = subprocess.run([sys.executable, "-m", "casparian_tui", "scan", str(REPO / "assets")], capture_output=True,
                           text=True, cwd=REPO, env=env, preexec_fn=drop_root_powers, timeout=60)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
        first = r.stderr.splitlines()[0].lower()
        assert str(home).lower() in first and "permission denied" in first, r.stderr
        assert "please report" not in r.stderr, r.stderr
        assert os.listdir(home) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, like a full disk
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from casparian_tui.scout import scanner
scanner.Scanner.__init__.__kwdefaults__["batch_rows"] = 500  # some batches commit before the disk fills
from casparian_tui.cli.main import main
sys.exit(main())
"""


def test_a_full_disk_fails_the_scan_cleanly_and_keeps_the_catalog(backend, tmp_path):
    """Simulated with RLIMIT_FSIZE in the scanning process: every write that would
    grow a file past the limit fails with EFBIG, as on a full file system."""
    if backend == "postgres":
        pytest.skip("the server writes its own files, not the scanning process")
    suffix = "duckdb" if backend == "duckdb" else "sqlite"
    path = tmp_path / f"full.{suffix}"
    small = tmp_path / "small"
    make_tree(small, 50, seed=1, depth=0)
    g = ["--backend", backend, "--db", str(path)]
    first = subprocess.run([sys.executable, "-m", "casparian_tui", "scan", str(small), "--quiet", *g],
                           capture_output=True, text=True, cwd=REPO, timeout=60)
    assert first.returncode == 0, first.stderr
    rule = subprocess.run([sys.executable, "-m", "casparian_tui", "rule", "add", "*", "--tag", "any", *g],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert rule.returncode == 0, rule.stderr
    big = tmp_path / "big"
    make_tree(big, 30_000, seed=2, depth=2, files_per_dir=200)
    limit = os.path.getsize(path) + 1024 * 1024  # room for a few batches before the disk is full
    r = subprocess.run([sys.executable, "-c", FULL_DISK, str(limit), "scan", str(big), "--json", *g],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    # The database still opens and the earlier catalog is whole.
    db = Database(Settings.resolve(db=path, backend=backend, env={}))
    try:
        counts = dict(db.query_all(
            "SELECT s.name, count(f.id) FROM scout_sources s LEFT JOIN scout_files f ON f.source_id = s.id "
            "AND f.deleted_at IS NULL GROUP BY s.name"))
        untagged = db.query_value(
            "SELECT count(*) FROM scout_files f WHERE f.deleted_at IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM scout_file_tags t WHERE t.file_id = f.id AND t.tag = 'any')")
    finally:
        db.close()
    assert counts["small"] == 50
    assert counts.get("big", 0) in range(0, 30_001)
    assert untagged == 0, (counts, untagged)  # the batches the failed scan committed carry their tags
