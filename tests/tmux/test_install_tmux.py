"""A wheel, installed into a fresh venv, has what it needs at run time: the demo and the sample parsers.

Builds the wheel offline from a copy of the checkout (no build isolation: the
installed setuptools and wheel), installs it with --no-deps into a venv that
sees the system's packages (its dependencies), and runs the venv's
`casparian` from outside the checkout, so none of the checkout's files can
stand in for the package's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The venv's `casparian` script."""
    if importlib.util.find_spec("setuptools") is None or importlib.util.find_spec("wheel") is None:
        pytest.skip("building a wheel offline needs setuptools and wheel (pip install '.[test]' brings wheel)")
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache", ".benchmarks", ".venv", "tests",
        "snapshots"))
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    str(src), "-w", str(wheels)], check=True, capture_output=True, text=True, cwd=tmp)
    [wheel] = wheels.glob("casparian_flow-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, cwd=tmp)
    # --ignore-installed: the checkout is installed (editable) in the system's packages too.
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                    "--ignore-installed", str(wheel)], check=True, capture_output=True, text=True, cwd=tmp)
    shutil.rmtree(src)  # nothing of the checkout's copy is left to fall back on
    return venv / "bin" / "casparian"


def run_installed(casparian: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CASPARIAN_DB", "CASPARIAN_BACKEND")}
    env["CASPARIAN_HOME"] = str(home)
    return subprocess.run([str(casparian), *args], capture_output=True, text=True, env=env, cwd=home.parent,
                          timeout=300)


def test_the_installed_package_is_the_one_that_runs(installed, tmp_path):
    venv_python = installed.parent / "python"
    res = subprocess.run([str(venv_python), "-c", "import casparian_tui; print(casparian_tui.__file__)"],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert res.returncode == 0, res.stderr
    where = Path(res.stdout.strip())
    assert where.is_relative_to(installed.parent.parent), where
    assert not where.is_relative_to(REPO)


def test_installed_tui_demo_shows_the_demo_files_and_the_sample_parsers(installed, tui):
    tui.home.parent.mkdir(parents=True, exist_ok=True)
    tui.start("--demo", program=str(installed), cwd=tui.home.parent)
    tui.wait_for("demo ·", timeout=120)  # the demo source in the Sources tree, with its file count
    tui.wait_for("blob_0008.bin", timeout=30)  # and its files in the table (the name survives any elision)
    tui.keys("3")
    screen = tui.wait_for("csv_rows", timeout=30)  # the sample parsers in Parser Bench
    assert "log_lines" in screen and "jsonl_records" in screen


def test_installed_cli_runs_a_sample_parser_over_the_demo(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    res = run_installed(installed, home, "source", "list", "--json")
    assert res.returncode == 0, res.stderr
    sample = Path(installed.parent.parent).glob("lib/python*/site-packages/casparian_tui/assets/parsers/csv_rows.py")
    [parser] = list(sample)
    # The demo, laid out by the installed package's own recipe, through the same code as `tui --demo`.
    lay = subprocess.run([str(installed.parent / "python"), "-c",
                          "from casparian_tui.config import Settings; from casparian_tui.db import Database; "
                          "from casparian_tui.scout.demo import ensure_demo; "
                          "db = Database(Settings.resolve()); print(ensure_demo(db).files_found); db.close()"],
                         capture_output=True, text=True, cwd=tmp_path,
                         env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "CASPARIAN_HOME": str(home)})
    assert lay.returncode == 0, lay.stderr
    assert int(lay.stdout.strip()) > 1000
    res = run_installed(installed, home, "run", str(parser), "--tag", "csv", "--workers", "1", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["completed"] == out["jobs"] >= 800 and out["failed"] == 0
