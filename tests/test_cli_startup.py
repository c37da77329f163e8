"""Start-up is a feature: a command imports only what it uses.

Each test runs the real `python -m casparian_tui ...` in a subprocess, lists
the modules it loaded, and fails on the heavy or unneeded ones.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

HEAVY = ("duckdb", "pyarrow", "numpy", "textual")
SERVICES = tuple(
    f"casparian_tui.{pkg}" for pkg in ("db", "scout", "sentinel", "contracts", "outputs", "bench", "tui")
)


# Runs `python -m casparian_tui ARGS` as the real command does, and on the way
# out (after SystemExit too) writes the names in sys.modules to a file.
WRAPPER = """
import atexit, os, runpy, sys
out = os.environ["CASPARIAN_TEST_MODULES_OUT"]
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv = ["casparian_tui", *sys.argv[1:]]
runpy.run_module("casparian_tui", run_name="__main__", alter_sys=True)
"""


def imported(tmp_path, *args: str) -> set[str]:
    """Module names loaded by one real CLI call (it must exit 0)."""
    out = tmp_path / f"modules-{len(list(tmp_path.glob('modules-*')))}.txt"
    env = dict(os.environ, CASPARIAN_TEST_MODULES_OUT=str(out))
    res = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True, env=env,
                         timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stderr[-2000:]
    names = set(out.read_text().split("\n"))
    assert "casparian_tui.cli.main" in names, "the module list was not written"
    return names


def offenders(names: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == r or n.startswith(r + ".") for r in roots))


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_no_heavy_library_and_no_service(tmp_path, flag):
    names = imported(tmp_path, flag)
    assert offenders(names, HEAVY + SERVICES + ("rich",)) == []


def test_a_command_help_imports_only_its_own_command_module(tmp_path):
    names = imported(tmp_path, "files", "--help")
    cli_modules = sorted(n for n in names if n.startswith("casparian_tui.cli.") and n.endswith("_cmd"))
    assert cli_modules == ["casparian_tui.cli.files_cmd"]
    assert offenders(names, ("pyarrow", "numpy", "textual", "casparian_tui.sentinel", "casparian_tui.tui")) == []


def test_files_json_reads_without_pyarrow_textual_or_other_services(tmp_path):
    imported(tmp_path, "db", "info", "--json")  # creates the database first, so the read below is only a read
    names = imported(tmp_path, "files", "--limit", "5", "--json")
    assert "duckdb" in names  # it does read the catalog
    assert offenders(names, ("pyarrow", "numpy", "textual", "rich", "casparian_tui.sentinel",
                             "casparian_tui.contracts", "casparian_tui.outputs", "casparian_tui.bench",
                             "casparian_tui.tui")) == []
    # nor the other engine, nor what only a holder (serving) or a --glob needs
    assert offenders(names, ("sqlite3", "casparian_tui.db.sqlite_backend", "casparian_tui.db.read_server",
                             "casparian_tui.db.glob_sql", "casparian_tui.scout.patterns")) == []
