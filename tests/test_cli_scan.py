"""`casparian source ...` and `casparian scan ...` through the real CLI."""

from __future__ import annotations

import json
import os

from casparian_tui.scout.testtree import make_tree

SCAN_KEYS = ["source", "root", "scan_id", "files_found", "new", "changed", "unchanged", "renamed", "deleted", "errors", "skipped",
             "duration_s"]


def _args(backend, db_url):
    return ["--backend", backend, "--db", db_url]


def test_scan_path_registers_and_prints_json(cli, backend, tmp_path, db_url):
    root = tmp_path / "evidence"
    make_tree(root, 120, seed=1, depth=1, files_per_dir=40)
    g = _args(backend, db_url)
    r = cli("scan", str(root), "--json", *g)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out) == SCAN_KEYS
    assert out["source"] == "evidence" and out["root"] == str(root)
    assert (out["files_found"], out["new"], out["errors"]) == (120, 120, [])
    os.remove(next(root.rglob("f0*")))
    r = cli("scan", "evidence", "--json", *g)
    out = json.loads(r.stdout)
    assert (out["unchanged"], out["deleted"], out["new"]) == (119, 1, 0)
    # The summary for people, and --quiet.
    r = cli("scan", "evidence", *g)
    assert r.returncode == 0 and "Scan complete: evidence" in r.stdout and "unchanged    119" in r.stdout
    r = cli("scan", "evidence", "--quiet", *g)
    assert r.returncode == 0 and r.stdout == ""


def test_source_commands(cli, backend, tmp_path, db_url):
    root = tmp_path / "data"
    make_tree(root, 30, seed=2, depth=1, files_per_dir=10)
    g = _args(backend, db_url)
    r = cli("source", "add", str(root), "--name", "case42", *g)
    assert r.returncode == 0 and "Added source case42" in r.stdout, r.stderr
    assert cli("scan", "case42", "--quiet", *g).returncode == 0
    listed = json.loads(cli("source", "list", "--json", *g).stdout)
    assert [(s["name"], s["file_count"]) for s in listed] == [("case42", 30)]
    shown = json.loads(cli("source", "show", "case42", "--json", *g).stdout)
    assert shown["files"] == 30 and shown["last_scan"]["status"] == "completed"
    r = cli("source", "show", "case42", *g)
    assert "last scan found  30 files" in r.stdout
    r = cli("source", "remove", "case42", "--yes", *g)
    assert r.returncode == 0 and "30 catalog rows" in r.stdout
    assert json.loads(cli("source", "list", "--json", *g).stdout) == []


def test_bad_input_exit_codes(cli, backend, tmp_path, db_url):
    g = _args(backend, db_url)
    r = cli("scan", str(tmp_path / "missing"), *g)
    assert r.returncode == 1 and "error: No such folder" in r.stderr and "Traceback" not in r.stderr
    f = tmp_path / "file.txt"
    f.write_text("x")
    r = cli("scan", str(f), *g)
    assert r.returncode == 1 and "error: Not a folder" in r.stderr
    r = cli("scan", "no-such-source", *g)
    assert r.returncode == 1 and "No source or folder" in r.stderr
    r = cli("source", "show", "nope", *g)
    assert r.returncode == 1 and "No source named" in r.stderr
    excl = tmp_path / "excl"  # a sibling of the next folder: sources never nest
    excl.mkdir()
    r = cli("scan", str(excl), "--exclude", "[oops", *g)
    assert r.returncode == 2 and "error:" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("scan", str(empty), "--json", *g)
    assert r.returncode == 0 and json.loads(r.stdout)["files_found"] == 0


def test_read_only_scan_is_refused(cli, backend, tmp_path, db_url):
    root = tmp_path / "ro"
    make_tree(root, 5, seed=3, depth=0)
    g = _args(backend, db_url)
    assert cli("scan", str(root), "--quiet", *g).returncode == 0
    r = cli("scan", "ro", "--read-only", *g)
    assert r.returncode == 4 and "read-only" in r.stderr


def test_odd_names_are_shown_safely(cli, backend, tmp_path, db_url):
    root = tmp_path / "odd"
    root.mkdir()
    with open(os.fsencode(str(root)) + b"/bad\xff\x1b[31mred\nline.txt", "wb") as fh:
        fh.write(b"x")
    g = _args(backend, db_url)
    r = cli("scan", str(root), "--json", *g)
    assert r.returncode == 0 and json.loads(r.stdout)["new"] == 1
    r = cli("scan", "odd", *g)
    assert "\x1b" not in r.stdout


def test_ctrl_c_cancels_a_cli_scan_cleanly(backend, tmp_path, db_url):
    """SIGINT while `casparian scan` runs: exit 130 with a summary (or 0 if it
    won the race), never a traceback, and a consistent catalog either way."""
    import signal
    import subprocess
    import sys

    from waiting import wait_for

    root = tmp_path / "big"
    make_tree(root, 30000, seed=8, depth=2, files_per_dir=300)
    g = _args(backend, db_url)
    db_file = g[-1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "casparian_tui", "scan", str(root), *g],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    if backend == "postgres":  # no lease on a server: the scan's own session shows it has started
        import psycopg

        def started() -> bool:
            with psycopg.connect(db_url, autocommit=True) as con:
                return con.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = %s",
                                   (f"casparian {proc.pid}",)).fetchone() is not None
    else:  # the lease record names the scan as soon as it starts walking
        record = db_file + ".lock.json"

        def started() -> bool:
            return os.path.exists(record) and "scanning" in open(record).read()

    assert wait_for(lambda: started() or proc.poll() is not None, timeout=60, interval=0.002), "the scan never started"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 130), (proc.returncode, out, err)
    if proc.returncode == 130:
        assert "Scan cancelled" in out or "Interrupted" in err
    # Whatever happened, the next scan completes and sees every file once.
    # (by path: the signal may have come before the source was even added)
    r = subprocess.run([sys.executable, "-m", "casparian_tui", "scan", str(root), "--json", *g],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.stderr, out, err)
    res = json.loads(r.stdout)
    assert res["files_found"] == 30000 and res["new"] + res["unchanged"] + res["changed"] == 30000
    assert res["deleted"] == 0
