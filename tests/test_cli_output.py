"""What the CLI writes to a terminal and what it writes to a pipe or a file (real processes)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from conftest import REPO



def odd(backend: str) -> str:
    ch = "char" if backend == "sqlite" else "chr"
    return f"SELECT 'a' || {ch}(10) || 'b' AS x, {ch}(27) || '[31mred' AS y, NULL AS z, 'q\"c,' AS w"


def _args(backend, db_url):
    return ["--backend", backend, "--db", db_url]


def _on_a_terminal(*args: str) -> str:
    """stdout of the CLI run on a pseudo-terminal (the pty turns LF into CRLF)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "casparian_tui", *args], cwd=REPO, stdout=slave,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other end is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 0, err
    return b"".join(chunks).decode("utf-8")


def test_query_csv_to_a_pipe_is_rfc4180_with_lf(cli, backend, tmp_path, db_url):
    r = subprocess.run([sys.executable, "-m", "casparian_tui", "query", odd(backend), "--csv", *_args(backend, db_url)],
                       cwd=REPO, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b'x,y,z,w\n"a\nb",\x1b[31mred,,"q""c,"\n'  # exact values, quoted where needed


def test_query_csv_on_a_terminal_escapes_control_characters(backend, tmp_path, db_url):
    out = _on_a_terminal("query", odd(backend), "--csv", *_args(backend, db_url))
    assert "\x1b" not in out
    assert out.replace("\r\n", "\n") == 'x,y,z,w\na\\nb,\\x1b[31mred,,"q""c,"\n'


def test_piped_listing_is_not_cut_to_80_columns(cli, backend, tmp_path, db_url):
    root = tmp_path / "tree"
    deep = root / ("long-folder-name-" * 6) / ("another-long-folder-" * 5)
    deep.mkdir(parents=True)
    (deep / "the-file-at-the-end.csv").write_text("x")
    g = _args(backend, db_url)
    assert cli("scan", str(root), "--quiet", *g).returncode == 0
    rel = str((deep / "the-file-at-the-end.csv").relative_to(root))
    assert len(rel) > 200
    r = cli("files", *g)
    assert r.returncode == 0, r.stderr
    assert rel in r.stdout
    r = cli("query", "SELECT rel_path FROM scout_files", *g)
    assert rel in r.stdout
