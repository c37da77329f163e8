"""The gauntlet: a generated tree of hostile and awkward names and entries,
pushed through the scanner and every CLI command that shows or uses files.

Nothing crashes, nothing is dropped without being reported, every cataloged
name round-trips to the real bytes, and no control character from a file
name reaches a terminal.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import re
import socket
import stat
import subprocess
import sys
import unicodedata

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.scout import walker as walker_mod
from casparian_tui.scout.pathcodec import to_bytes
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source
from conftest import FILE_BACKENDS, REPO

PAYLOAD = b"x'); DROP TABLE scout_files; --.txt"
ODD_NAMES = [
    b"sp ace.txt", b"quote'single.txt", b'quote"double.txt', b"new\nline.log", b"tab\there.csv",
    b"100%.txt", b"under_score.txt", b"star*.txt", b"ques?.txt", b"br[ack]et.txt", b"back\\slash.txt",
    b"-leading-dash.txt", b"--help", PAYLOAD,
    unicodedata.normalize("NFC", "caf\u00e9.txt").encode(), unicodedata.normalize("NFD", "caf\u00e9.txt").encode(),
    b"latin1-\xe9\xff.bin", b"esc\x1b[31mred\x1b[0m.txt", b"bell\x07.txt", b"cr\rreturn.txt",
    b"del\x7f.txt", "rlo\u202egpj.exe".encode(), b"c1-\xc2\x9b31m.txt", b"L" * 251 + b".txt", b"empty.dat",
]
# What must never reach a terminal from a file name: C0 controls (but the
# table's own newlines), DEL, C1 controls and the bidi overrides.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(params=FILE_BACKENDS)
def backend(request) -> str:
    """Files only for now: the gauntlet ends with db migrate/export, which copies files."""
    return request.param


def drop_root_powers() -> None:
    """In a child before exec: as root, leave the bounding set without the
    capabilities that bypass file permissions, so chmod 000 means what it says."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def make_gauntlet(root) -> set[bytes]:
    """Build the tree under `root`; return the relative byte paths a scan must catalog."""
    root = os.fsencode(str(root))
    sub = os.path.join(root, b"d")
    os.makedirs(sub)
    files = set()
    for n in ODD_NAMES:
        with open(os.path.join(sub, n), "wb") as fh:
            fh.write(b"" if n == b"empty.dat" else n)
        files.add(b"d/" + n)
    # ~2,500 bytes of path, 60 folders deep (PATH_MAX is 4,096)
    deep = b"/".join(b"deep%02d-" % i + b"x" * 34 for i in range(60))
    os.makedirs(os.path.join(root, deep))
    with open(os.path.join(root, deep, b"bottom.txt"), "wb") as fh:
        fh.write(b"deep")
    files.add(deep + b"/bottom.txt")
    os.mkfifo(os.path.join(root, b"fifo"))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(root, b"sock"))
    sock.close()
    os.symlink(root, os.path.join(sub, b"loop"))  # a loop through the root
    os.symlink(b"b", os.path.join(root, b"a"))  # a two-link cycle
    os.symlink(b"a", os.path.join(root, b"b"))
    locked = os.path.join(root, b"locked")
    os.makedirs(locked)
    with open(os.path.join(locked, b"secret.txt"), "wb") as fh:
        fh.write(b"s")
    os.chmod(locked, 0)
    return files


@pytest.fixture
def gauntlet(tmp_path):
    root = tmp_path / "gauntlet"
    files = make_gauntlet(root)
    yield root, files
    os.chmod(root / "locked", 0o755)  # so pytest can clean up


def _emulate_permissions(root) -> bool:
    """True when this process reads the chmod 000 folder anyway (root): in-process
    scans then emulate the refusal; CLI runs drop root's override instead."""
    return os.access(root / "locked", os.R_OK)


def _refuse_mode_000(monkeypatch):
    monkeypatch.setenv("CASPARIAN_WALKER", "python")  # the refusal is emulated in the scandir walker
    real = walker_mod._listing

    def listing(path):
        if stat.S_IMODE(os.stat(path).st_mode) == 0:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(walker_mod, "_listing", listing)


def _catalog(db, source_id) -> dict[bytes, tuple]:
    rows = db.query_all(
        "SELECT rel_path, size, deleted_at FROM scout_files WHERE source_id = ?", [source_id])
    return {to_bytes(r[0]): (r[1], r[2]) for r in rows}


def test_scanner_catalogs_every_name_exactly_and_reports_what_it_skips(db, gauntlet, monkeypatch):
    root, expected = gauntlet
    if _emulate_permissions(root):
        _refuse_mode_000(monkeypatch)
    src = add_source(db, root)
    res = Scanner(db, src, batch_rows=7).run()  # small batches: names split across them
    assert res.status == "completed"
    assert res.errors == [{"path": "locked", "error": "Permission denied"}]
    assert (res.symlinks, res.special) == (3, 2)
    assert res.files_found == res.new == len(expected)
    cat = _catalog(db, src.id)
    assert set(cat) == expected  # NFC and NFD are two files; every byte path round-trips
    rootb = os.fsencode(str(root))
    for rel, (size, deleted_at) in cat.items():
        assert size == os.lstat(os.path.join(rootb, rel)).st_size and deleted_at is None
    # Idempotent: the same tree again changes nothing.
    again = Scanner(db, src).run()
    assert (again.new, again.changed, again.deleted, again.unchanged) == (0, 0, 0, len(expected))
    # A file that grows after being seen is caught as changed by the next scan.
    with open(os.path.join(rootb, b"d/empty.dat"), "ab") as fh:
        fh.write(b"grown")
    grown = Scanner(db, src).run()
    assert (grown.changed, grown.new, grown.deleted) == (1, 0, 0)
    assert _catalog(db, src.id)[b"d/empty.dat"][0] == 5


def _cli(root, g, *args):
    r = subprocess.run([sys.executable, "-m", "casparian_tui", *args, *g], capture_output=True, cwd=REPO,
                       timeout=120, preexec_fn=drop_root_powers)
    stdout, stderr = r.stdout.decode("utf-8"), r.stderr.decode("utf-8")  # strict: the CLI writes UTF-8 only
    assert "Traceback" not in stderr, stderr
    return r.returncode, stdout, stderr


def exact(value) -> bytes:
    """The bytes of a `--json` path: a string, or {"bytes": base64} for a name that is not UTF-8."""
    if isinstance(value, dict):
        return base64.b64decode(value["bytes"])
    return value.encode("utf-8")


def _safe(text: str, what: str) -> None:
    bad = UNSAFE.search(text)
    assert bad is None, f"{what}: raw {bad.group()!r} reached the terminal near {text[max(bad.start()-40, 0):bad.end()+10]!r}"


def test_every_command_handles_the_gauntlet(backend, gauntlet, tmp_path):
    root, expected = gauntlet
    g = ["--backend", backend, "--db", str(tmp_path / f"g.{backend}")]
    code, out, err = _cli(root, g, "scan", str(root), "--json")
    assert code == 0, err
    scan = json.loads(out)
    assert (scan["files_found"], scan["new"]) == (len(expected), len(expected))
    assert scan["errors"] == [{"path": "locked", "error": "Permission denied"}]
    assert scan["skipped"] == {"symlinks": 3, "special": 2, "excluded": 0}
    code, out, err = _cli(root, g, "scan", "gauntlet")  # the human summary names the skipped folder
    assert code == 0 and "cannot read locked: Permission denied" in out and "3 symlinks, 2 special" in out
    _safe(out + err, "scan")

    # files --json: every file once, exact bytes recoverable from rel_path's stored form via the catalog,
    # and control characters only ever escaped.
    code, out, err = _cli(root, g, "files", "--json", "--limit", "1000")
    assert code == 0, err
    _safe(out, "files --json")
    listed = json.loads(out)
    assert len(listed) == len({f["id"] for f in listed}) == len(expected)
    # Lossless: every name is the exact bytes on disk (a string, or {"bytes": base64} when not UTF-8).
    assert {exact(f["rel_path"]) for f in listed} == expected
    rootb = os.fsencode(str(root))
    assert all(exact(f["path"]) == rootb + b"/" + exact(f["rel_path"]) for f in listed)
    assert "d/esc\x1b[31mred\x1b[0m.txt" in [f["rel_path"] for f in listed]
    assert {"bytes": base64.b64encode(b"d/latin1-\xe9\xff.bin").decode()} in [f["rel_path"] for f in listed]
    shown = {json.dumps(f["rel_path"]) for f in listed}
    code, out, err = _cli(root, g, "files", "--limit", "1000")
    assert code == 0, err
    _safe(out + err, "files table")

    # Patterns: a preview and a rule over the odd names; the payload is only ever a name.
    code, out, err = _cli(root, g, "rule", "test", "d/*")
    assert code == 0 and f"{len(ODD_NAMES)} files match" in out, out + err
    _safe(out + err, "rule test")
    code, out, err = _cli(root, g, "rule", "test", "*'); DROP*", "--json")
    assert code == 0 and json.loads(out)["count"] == 1, out + err
    code, out, err = _cli(root, g, "rule", "test", "d/*", "--json")
    assert code == 0, err
    _safe(out, "rule test --json")
    sample = {exact(p) for p in json.loads(out)["sample"]}
    assert len(sample) == len(json.loads(out)["sample"]) > 0
    assert sample <= {p for p in expected if p.startswith(b"d/")}
    code, out, err = _cli(root, g, "rule", "add", "d/*[%_]*", "--tag", "wild")
    assert code == 0 and "It matches 3 files" in out, out + err  # 100%, under_score, scout_files
    code, out, err = _cli(root, g, "tag", "*\\[ack]*", "bracket")
    assert code == 0 and "Tagged 1 files" in out, out + err
    code, out, err = _cli(root, g, "files", "--tag", "bracket", "--json")
    assert [f["rel_path"] for f in json.loads(out)] == ["d/br[ack]et.txt"]
    code, out, err = _cli(root, g, "rule", "list")
    _safe(out + err, "rule list")

    # run: a tiny parser over every cataloged file, odd names included.
    parser = tmp_path / "sizes.py"
    parser.write_text("NAME = 'sizes'\nVERSION = '1'\nimport os\n"
                      "def parse(path):\n    return [{'size': os.path.getsize(path)}]\n")
    code, out, err = _cli(root, g, "run", str(parser), "--source", "gauntlet", "--workers", "2", "--json")
    assert code == 0, out + err
    ran = json.loads(out)
    assert (ran["jobs"], ran["completed"], ran["failed"], ran["rows"]) == (len(expected),) * 2 + (0, len(expected))
    code, out, err = _cli(root, g, "jobs")
    assert code == 0
    _safe(out + err, "jobs table")
    code, out, err = _cli(root, g, "jobs", "--json", "--limit", "1000")
    assert code == 0, err
    _safe(out, "jobs --json")
    assert {exact(j["file"]) for j in json.loads(out)["jobs"]} == {rootb + b"/" + p for p in expected}

    # migrate (SQLite -> DuckDB) or export (DuckDB -> SQLite): every odd name arrives exactly.
    other = "sqlite" if backend == "duckdb" else "duckdb"
    target = tmp_path / f"copy.{other}"
    move = (["db", "export", "--to", str(target)] if backend == "duckdb"
            else ["db", "migrate", "--from", g[-1], "--to", str(target)])
    code, out, err = _cli(root, g, *move)
    assert code == 0, out + err
    _safe(out + err, "db migrate/export")
    code, out, err = _cli(root, ["--backend", other, "--db", str(target)], "files", "--json", "--limit", "1000")
    assert code == 0, err
    assert {json.dumps(f["rel_path"]) for f in json.loads(out)} == shown
    copy = Database(Settings.resolve(db=target, backend=other, env={}))
    try:
        assert {to_bytes(r[0]) for r in copy.query_all("SELECT rel_path FROM scout_files")} == expected
    finally:
        copy.close()


def test_scan_errors_name_the_exact_folder_in_json(backend, tmp_path):
    rootb = os.fsencode(str(tmp_path)) + b"/tree-\xff\x1b"
    root = os.fsdecode(rootb)
    names = [b"locked-\xff\x1b", b"lo\nck\xe2\x80\xae"]
    for name in names:
        os.makedirs(os.path.join(rootb, name))
        os.chmod(os.path.join(rootb, name), 0)
    try:
        code, out, err = _cli(root, ["--backend", backend, "--db", str(tmp_path / "e.db")], "scan", str(root), "--json")
    finally:
        for name in names:
            os.chmod(os.path.join(rootb, name), 0o755)
    assert code == 0, err
    _safe(out, "scan --json")
    errors = json.loads(out)["errors"]
    assert sorted(exact(e["path"]) for e in errors) == sorted(names)
    assert {"bytes": base64.b64encode(names[0]).decode()} in [e["path"] for e in errors]
    assert exact(json.loads(out)["root"]) == rootb
    code, out, err = _cli(root, ["--backend", backend, "--db", str(tmp_path / "e.db")], "source", "list", "--json")
    assert code == 0, err
    _safe(out, "source list --json")
    assert [exact(s["root"]) for s in json.loads(out)] == [rootb]
