"""`casparian files`, `rule ...` and `tag` through the real CLI, on both backends."""

from __future__ import annotations

import json

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database

from scout_rows import add_files, add_source


@pytest.fixture
def env(backend, tmp_path, db_url):
    """A catalog made directly in the database the CLI subprocess will open."""
    dbfile = db_url
    root = tmp_path / "root"
    (root / "logs").mkdir(parents=True)
    (root / "logs" / "a.log").write_text("a")
    settings = Settings.resolve(db=dbfile, backend=backend, env={})
    with Database(settings) as db:
        def fill(conn):
            sid = add_source(conn, "root", str(root))
            add_files(conn, sid, ["logs/a.log", "logs/b.evtx", "100%_x.csv", "it's.csv", "x\nnl.txt"])

        db.write("fill", fill)
    return {"CASPARIAN_DB": str(dbfile), "CASPARIAN_BACKEND": backend, "ROOT": str(root)}


def run_json(cli, env, *args):
    proc = cli(*args, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_files_json_shape_and_filters(cli, env):
    rows = run_json(cli, env, "files")
    assert len(rows) == 5
    assert set(rows[0]) == {"id", "source", "path", "rel_path", "size", "mtime", "extension", "status", "tags",
                            "hash", "hash_algo"}
    assert {r["path"] for r in rows} >= {env["ROOT"] + "/logs/a.log"}
    assert "x\nnl.txt" in {r["rel_path"] for r in rows}  # the exact name (JSON escapes the newline)
    assert [r["rel_path"] for r in run_json(cli, env, "files", "--glob", "*%*")] == ["100%_x.csv"]
    assert [r["rel_path"] for r in run_json(cli, env, "files", "--ext", "csv", "--limit", "1", "--offset", "1")] == ["it's.csv"]
    sizes = [r["size"] for r in run_json(cli, env, "files", "--sort", "size", "--desc")]
    assert sizes == sorted(sizes, reverse=True)


def test_rules_flow(cli, env):
    added = run_json(cli, env, "rule", "add", "**/*.evtx", "--tag", "evtx", "--name", "ev", "--priority", "2")
    assert added["tag"] == "evtx" and added["files_matched"] == 1
    listed = run_json(cli, env, "rule", "list")
    assert [(r["name"], r["pattern"], r["files"]) for r in listed] == [("ev", "**/*.evtx", 1)]
    assert [r["rel_path"] for r in run_json(cli, env, "files", "--tag", "evtx")] == ["logs/b.evtx"]
    pv = run_json(cli, env, "rule", "test", "*.csv")
    assert set(pv) == {"pattern", "count", "sample", "by_extension", "by_folder"}
    assert pv["count"] == 2 and pv["by_extension"] == {"csv": 2}
    proc = cli("rule", "remove", "ev", env=env)
    assert proc.returncode == 0 and "Removed rule" in proc.stdout
    gone = cli("files", "--tag", "evtx", env=env)  # nothing carries or gives the tag any more
    assert gone.returncode == 1 and "No file has the tag 'evtx'" in gone.stderr


def test_tag_by_pattern_path_remove_and_reapply(cli, env):
    cli("rule", "add", "*.log", "--tag", "log", env=env)
    assert run_json(cli, env, "tag", "*.csv", "table")["files_tagged"] == 2
    assert run_json(cli, env, "tag", env["ROOT"] + "/logs", "mine")["files_tagged"] == 2
    assert run_json(cli, env, "files", "--glob", "logs/a.log")[0]["tags"] == ["log", "mine"]  # tags add up
    assert run_json(cli, env, "untag", env["ROOT"] + "/logs", "log")["files_untagged"] == 1
    assert run_json(cli, env, "files", "--glob", "logs/a.log")[0]["tags"] == ["mine"]
    assert run_json(cli, env, "tag")["files_tagged_by_rules"] == 0  # the untag holds
    assert run_json(cli, env, "tag", "--remove", env["ROOT"] + "/logs", "mine")["files_untagged"] == 2
    assert run_json(cli, env, "untag", "--reset", env["ROOT"] + "/logs")["manual_entries_removed"] == 3
    assert run_json(cli, env, "files", "--glob", "logs/a.log")[0]["tags"] == ["log"]  # rules decide again


@pytest.mark.parametrize(
    "args,code,text",
    [
        (("rule", "test", "a[b"), 2, "never closed"),
        (("files", "--glob", "x\\"), 2, "lone"),
        (("rule", "remove", "nope"), 1, "No rule"),
        (("files", "--source", "nope"), 1, "No source"),
        (("tag", "*.csv"), 2, "Missing TAG"),
        (("tag", "/definitely/not/a/source", "x"), 1, "No cataloged file matches"),
        (("untag", "*.csv", "nosuch"), 1, "No file has the tag"),
        (("untag", "*.csv"), 2, "Missing TAG"),
        (("files", "--tag", "nosuch"), 1, "No file has the tag 'nosuch'"),
        (("files", "--status", "bogus"), 2, "Unknown status 'bogus'"),
        (("run", "assets/parsers/log_lines.py", "--tag", "nosuch"), 1, "No file has the tag 'nosuch'"),
        (("backtest", "assets/parsers/log_lines.py", "--tag", "nosuch"), 1, "No file has the tag 'nosuch'"),
    ],
)
def test_bad_input_is_one_clear_line(cli, env, args, code, text):
    proc = cli(*args, env=env)
    assert proc.returncode == code, proc.stderr
    assert text in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_read_only_refuses_rule_add(cli, env):
    proc = cli("rule", "add", "*.x", "--tag", "x", "--read-only", env=env)
    assert proc.returncode == 4 and "add a tagging rule" in proc.stderr
    assert cli("files", "--read-only", env=env).returncode == 0


@pytest.mark.parametrize("name", ["csi\u009b31m", "rlo\u202egpj", "esc\x1b[31m", "nl\nx"])
def test_rule_names_refuse_control_characters(cli, env, name):
    r = cli("rule", "add", "*.log", "--tag", "logs", "--name", name, env=env)
    assert r.returncode == 2 and "control characters" in r.stderr, r.stderr
    assert json.loads(cli("rule", "list", "--json", env=env).stdout) == []


def test_json_escapes_every_character_that_is_not_printable(cli, env):
    """Names stored before validation existed still reach scripts exactly, and terminals escaped."""
    hostile = "csi\u009b31m rlo\u202egpj zw\u200b nl\n tab\t nel\x85 ls\u2028 bom\ufeff"
    settings = Settings.resolve(db=env["CASPARIAN_DB"], backend=env["CASPARIAN_BACKEND"], env={})
    with Database(settings) as db:
        db.execute("seed", "INSERT INTO scout_tagging_rules (name, pattern, tag, priority, enabled, created_at) "
                   "VALUES (?, '*.log', 'logs', 0, TRUE, 0)", [hostile])
    r = cli("rule", "list", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert all(ch.isprintable() or ch in "\n " for ch in r.stdout), repr(r.stdout)
    assert "\\u009b" in r.stdout and "\\u202e" in r.stdout
    assert [rule["name"] for rule in json.loads(r.stdout)] == [hostile]
    files = cli("files", "--json", env=env)
    assert all(ch.isprintable() or ch in "\n " for ch in files.stdout)
    assert "x\nnl.txt" in [f["rel_path"] for f in json.loads(files.stdout)]
