import ast
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_help_lists_command_groups_and_examples(cli):
    out = cli("--help")
    assert out.returncode == 0
    assert "db" in out.stdout and "examples:" in out.stdout and "exit codes:" in out.stdout


def test_version(cli):
    out = cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("casparian ")


def test_usage_error_exits_2(cli):
    out = cli("db", "nosuchthing")
    assert out.returncode == 2


@pytest.mark.parametrize("backend", ["duckdb", "sqlite"])
def test_db_info_json_creates_and_migrates(cli, backend, tmp_path):
    from casparian_tui.db.schema import LATEST_VERSION

    out = cli("--backend", backend, "db", "info", "--json", env={"CASPARIAN_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert set(info) == {"backend", "path", "size_bytes", "schema_version", "read_only", "lease", "sharing"}
    assert info["backend"] == backend
    assert info["schema_version"] == LATEST_VERSION
    assert info["read_only"] is False
    assert info["lease"] is None
    assert info["size_bytes"] > 0
    assert Path(info["path"]).parent == tmp_path


def test_global_options_work_after_the_command(cli, tmp_path):
    db = tmp_path / "after.sqlite"
    out = cli("db", "info", "--json", "--db", str(db), "--backend", "sqlite")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["path"] == str(db)


def test_environment_selects_backend_and_read_only(cli, tmp_path):
    env = {"CASPARIAN_HOME": str(tmp_path), "CASPARIAN_BACKEND": "sqlite"}
    assert cli("db", "info", env=env).returncode == 0
    out = cli("db", "info", "--json", env={**env, "CASPARIAN_READONLY": "1"})
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["backend"] == "sqlite" and info["read_only"] is True


def test_read_only_on_missing_database_is_one_clear_line(cli, tmp_path):
    out = cli("--read-only", "--db", str(tmp_path / "none.duckdb"), "db", "info")
    assert out.returncode == 1
    assert out.stderr.startswith("error: No database at")
    assert "Traceback" not in out.stderr


def test_not_a_database_is_reported_without_traceback(cli, tmp_path):
    bad = tmp_path / "notes.duckdb"
    bad.write_text("hello\n" * 100)
    out = cli("--db", str(bad), "db", "info")
    assert out.returncode == 1
    assert "Not a DuckDB database" in out.stderr and "Traceback" not in out.stderr
    assert bad.read_text() == "hello\n" * 100
    debug = cli("--db", str(bad), "db", "info", "--debug")
    assert "Traceback" in debug.stderr


def test_nothing_outside_tui_imports_textual():
    offenders = []
    for path in (REPO / "casparian_tui").rglob("*.py"):
        if "tui" in path.relative_to(REPO / "casparian_tui").parts[:1]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "textual" or n.startswith("textual.") for n in names):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
