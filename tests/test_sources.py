"""Sources service on both backends."""

from __future__ import annotations

import os

import pytest

from casparian_tui.errors import CasparianError, UsageError
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source, find_source, list_sources, remove_source, source_details
from casparian_tui.scout.testtree import make_tree


def test_add_list_show_remove(db, tmp_path):
    root = tmp_path / "case1"
    make_tree(root, 50, seed=1, depth=1, files_per_dir=10)
    src = add_source(db, root)
    assert src.name == "case1" and src.root_path == str(root)
    assert [s.name for s in list_sources(db)] == ["case1"]
    Scanner(db, src).run()
    db.execute("t", "INSERT INTO scout_file_tags (file_id, tag, tag_source, created_at)"
               " SELECT id, 'x', 'manual', 0 FROM scout_files")
    info = source_details(db, "case1")
    assert info["files"] == 50 and info["by_status"] == {"pending": 50}
    assert info["last_scan"]["status"] == "completed" and info["last_scan"]["new_files"] == 50
    out = remove_source(db, "case1")
    assert out["files_removed"] == 50 and out["tags_removed"] == 50
    for table in ("scout_files", "scout_file_tags", "scout_folders", "scout_scan_runs", "scout_sources"):
        assert db.query_value(f"SELECT count(*) FROM {table}") == 0, table
    assert (root / "d0").exists()  # files on disk untouched


def test_names_are_unique_and_roots_are_not_registered_twice(db, tmp_path):
    a = tmp_path / "x" / "data"
    b = tmp_path / "y" / "data"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    assert add_source(db, a).name == "data"
    assert add_source(db, b).name == "data-2"
    with pytest.raises(CasparianError, match="already the source 'data'"):
        add_source(db, str(a) + "/")
    # A symlink to a registered folder is the same folder.
    os.symlink(a, tmp_path / "alias")
    with pytest.raises(CasparianError, match="already the source"):
        add_source(db, tmp_path / "alias")
    assert add_source(db, a, exist_ok=True).name == "data"
    with pytest.raises(CasparianError, match="already exists"):
        add_source(db, tmp_path, name="data")
    with pytest.raises(UsageError):
        add_source(db, tmp_path, name="  ")


def test_bad_paths_give_clear_errors(db, tmp_path):
    with pytest.raises(CasparianError, match="No such folder"):
        add_source(db, tmp_path / "missing")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(CasparianError, match="Not a folder"):
        add_source(db, f)
    with pytest.raises(CasparianError, match="No source named"):
        find_source(db, "nope")
    with pytest.raises(CasparianError, match="No source named"):
        remove_source(db, "nope")


def test_non_utf8_root_round_trips(db, tmp_path):
    raw = os.fsencode(str(tmp_path)) + b"/r\xe9sum\xe9"
    os.mkdir(raw)
    with open(raw + b"/a.txt", "wb") as fh:
        fh.write(b"x")
    src = add_source(db, os.fsdecode(raw))
    assert os.fsencode(src.root_path) == raw
    assert "\\xe9" in src.root_display and src.name == "r\\xe9sum\\xe9"
    res = Scanner(db, src).run()
    assert res.new == 1 and "\\xe9" in res.root


def test_nested_sources_are_one_catalog(db, tmp_path):
    parent = tmp_path / "case"
    make_tree(parent / "host1", 40, seed=1, depth=1, files_per_dir=10)
    make_tree(parent / "host2", 20, seed=2, depth=1, files_per_dir=10)
    inner = add_source(db, parent / "host1")
    Scanner(db, inner).run()
    db.write("tag", lambda c: c.execute(
        "INSERT INTO scout_file_tags (file_id, tag, tag_source, created_at) SELECT id, 'keep', 'manual', 0 FROM scout_files"
    ))
    ids_before = {r[0] for r in db.query_all("SELECT id FROM scout_files")}
    with pytest.raises(CasparianError, match="inside the source 'host1'"):
        add_source(db, parent / "host1" / "d0")
    merged: list[dict] = []
    outer = add_source(db, parent, merged=merged)
    assert [(m["source"], m["files"]) for m in merged] == [("host1", 40)]
    assert [s.name for s in list_sources(db)] == ["case"]
    result = Scanner(db, outer).run()
    assert (result.new, result.unchanged, result.deleted, result.renamed) == (20, 40, 0, 0)
    rows = db.query_all("SELECT id, rel_path, parent_path FROM scout_files")
    assert len(rows) == 60 and len({r[1] for r in rows}) == 60
    kept = {r[0] for r in rows if r[1].startswith("host1/")}
    assert kept == ids_before  # same ids: tags, jobs and outputs stay attached
    assert all(r[2].startswith("host1") for r in rows if r[0] in kept)
    assert db.query_value("SELECT count(*) FROM scout_file_tags WHERE tag = 'keep'") == 40
    assert source_details(db, "case")["files"] == 60


ONE_ROW_PARSER = """NAME = 'one_row'
VERSION = '1'
import os
def parse(path):
    return [{'name': os.path.basename(path)}]
"""


def test_a_parent_of_a_scanned_folder_parses_each_file_once(cli, backend, tmp_path, db_url):
    import json

    parent = tmp_path / "case"
    make_tree(parent / "host1", 12, seed=1, depth=1, files_per_dir=6)
    make_tree(parent / "host2", 6, seed=2, depth=1, files_per_dir=6)
    parser = tmp_path / "one_row.py"
    parser.write_text(ONE_ROW_PARSER)
    g = ["--backend", backend, "--db", db_url]
    assert cli("scan", str(parent / "host1"), "--quiet", *g).returncode == 0
    assert cli("rule", "add", "*", "--tag", "all", *g).returncode == 0
    proc = cli("scan", str(parent), "--quiet", *g)
    assert proc.returncode == 0, proc.stderr
    assert "merged into case" in proc.stderr
    proc = cli("run", str(parser), "--tag", "all", "--json", *g)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["completed"] == 18  # not 30: host1's 12 files once, not twice


def test_a_file_run_by_path_and_later_scanned_is_one_file_parsed_once(cli, backend, tmp_path, db_url):
    """`run PARSER FILE` catalogs a file no source holds under the implicit
    adhoc source; a scan that covers it later takes that row over (same id,
    so its job and outputs stay) instead of cataloging the file twice."""
    import json

    parser = tmp_path / "one_row.py"
    parser.write_text(ONE_ROW_PARSER)
    case = tmp_path / "case"
    (case / "sub").mkdir(parents=True)
    for name in ("a.txt", "sub/b.txt", "sub/gone.txt"):
        (case / name).write_text(name)
    g = ["--backend", backend, "--db", db_url]

    def run(*args):
        proc = cli("run", str(parser), *args, "--json", "--workers", "1", *g)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def catalog():
        proc = cli("files", "--json", *g)
        assert proc.returncode == 0, proc.stderr
        return sorted(f["path"] for f in json.loads(proc.stdout))

    # before any source: the files go to adhoc, then the folder is scanned
    assert run(str(case / "a.txt"), str(case / "sub" / "b.txt"), str(case / "sub" / "gone.txt"))["completed"] == 3
    (case / "sub" / "gone.txt").unlink()
    assert cli("rule", "add", "*.txt", "--tag", "t", *g).returncode == 0
    scanned = cli("scan", str(case), "--json", *g)
    assert scanned.returncode == 0, scanned.stderr
    assert json.loads(scanned.stdout)["deleted"] == 1  # the adopted row of a file that is gone
    assert catalog() == [str(case / "a.txt"), str(case / "sub" / "b.txt")]
    assert run("--tag", "t")["jobs"] == 0  # tagged by the rule, and already parsed
    # a source first: a new file run by path before the next scan
    (case / "sub" / "c.txt").write_text("c")
    assert run(str(case / "sub" / "c.txt"))["completed"] == 1
    assert cli("scan", "case", "--quiet", *g).returncode == 0
    assert catalog() == [str(case / "a.txt"), str(case / "sub" / "b.txt"), str(case / "sub" / "c.txt")]
    assert run("--tag", "t")["jobs"] == 0
    folders = cli("query", "SELECT path, file_count FROM scout_folders ORDER BY path", "--json", *g)
    assert [r["file_count"] for r in json.loads(folders.stdout)["rows"]] == [3, 2]


def test_the_adhoc_source_of_run_files_takes_no_part_in_nesting(db, tmp_path):
    db.write("adhoc", lambda c: c.execute(
        "INSERT INTO scout_sources (name, root, created_at, updated_at) VALUES ('adhoc', '/', 0, 0)"
    ))
    root = tmp_path / "case"
    make_tree(root, 10, seed=1, depth=1, files_per_dir=10)
    merged: list[dict] = []
    src = add_source(db, root, merged=merged)
    assert src.name == "case" and merged == []
    assert {s.name for s in list_sources(db)} == {"adhoc", "case"}
