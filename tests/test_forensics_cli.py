"""`hash`, `scan --hash`, `dupes`, `hashset`, `rule add --hashset`, `changes` and
`files --hash/--in-hashset` through the real CLI; kill -9 during hashing."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from casparian_tui.config import Settings
from casparian_tui.db import Database
from casparian_tui.scout.pathcodec import to_bytes
from conftest import FILE_BACKENDS, REPO

SEED = int(os.environ.get("CF_CRASH_SEED", time.time_ns() % 1_000_000))


@pytest.fixture(params=FILE_BACKENDS)
def backend(request) -> str:
    return request.param


def _g(backend, db_url):
    return ["--backend", backend, "--db", db_url]


def _ok(r):
    assert r.returncode == 0, r.stderr
    return r


def test_scan_hash_dupes_files_and_changes(cli, backend, db_url, tmp_path):
    g = _g(backend, db_url)
    root = tmp_path / "ev"
    root.mkdir()
    (root / "a.txt").write_bytes(b"same")
    (root / "b.txt").write_bytes(b"same")
    (root / "c.txt").write_bytes(b"other")
    _ok(cli("source", "add", str(root), "--hash", "md5", *g))
    out = json.loads(_ok(cli("scan", "ev", "--json", *g)).stdout)
    assert out["scan_id"] >= 1 and out["hash"]["algo"] == "md5" and out["hash"]["hashed"] == 3
    files = json.loads(_ok(cli("files", "--json", *g)).stdout)
    assert {f["rel_path"]: (f["hash_algo"], f["hash"]) for f in files} == {
        "a.txt": ("md5", hashlib.md5(b"same").hexdigest()),
        "b.txt": ("md5", hashlib.md5(b"same").hexdigest()),
        "c.txt": ("md5", hashlib.md5(b"other").hexdigest()),
    }
    found = json.loads(_ok(cli("files", "--hash", hashlib.md5(b"other").hexdigest().upper(), "--json", *g)).stdout)
    assert [f["rel_path"] for f in found] == ["c.txt"]
    dupes = json.loads(_ok(cli("dupes", "--json", *g)).stdout)
    assert [(d["count"], [f["rel_path"] for f in d["files"]]) for d in dupes] == [(2, ["a.txt", "b.txt"])]
    # rescan unchanged: nothing hashed; then a change shows in `changes` and loses its old hash
    again = json.loads(_ok(cli("scan", "ev", "--json", *g)).stdout)
    assert again["hash"]["candidates"] == 0
    (root / "c.txt").write_bytes(b"other, longer")
    (root / "d.txt").write_bytes(b"new")
    third = json.loads(_ok(cli("scan", "ev", "--json", *g)).stdout)
    changes = json.loads(_ok(cli("changes", str(third["scan_id"]), "--json", *g)).stdout)
    assert [(f["change"], f["rel_path"]) for f in changes[0]["files"]] == [("changed", "c.txt"), ("new", "d.txt")]
    latest = json.loads(_ok(cli("changes", "--json", *g)).stdout)
    assert [c["scan_id"] for c in latest] == [third["scan_id"]]
    since = json.loads(_ok(cli("changes", "--since", "1h", "--json", *g)).stdout)
    assert len(since) == 3
    sha = json.loads(_ok(cli("hash", "ev", "--algo", "sha256", "--json", *g)).stdout)
    assert sha["hashed"] == 4
    files = {f["rel_path"]: f for f in json.loads(_ok(cli("files", "--json", *g)).stdout)}
    assert files["c.txt"]["hash"] == hashlib.sha256(b"other, longer").hexdigest()  # sha256 preferred
    r = cli("changes", "999", *g)
    assert r.returncode == 1 and "No scan with id 999" in r.stderr
    # a touched file (same bytes, new mtime): the scan says changed, its hashing says touched
    os.utime(root / "a.txt", (1_700_000_000, 1_700_000_000))
    fourth = json.loads(_ok(cli("scan", "ev", "--json", *g)).stdout)
    assert fourth["changed"] == 1 and fourth["hash"]["hashed"] == 1 and fourth["hash"]["touched"] == 1
    changes = json.loads(_ok(cli("changes", "--json", *g)).stdout)
    assert [(f["change"], f["rel_path"]) for f in changes[0]["files"]] == [("touched", "a.txt")]
    assert changes[0]["touched_files"] == 1
    assert "1 only touched: same hash" in _ok(cli("changes", *g)).stdout


def test_hashset_import_rule_and_filters(cli, backend, db_url, tmp_path):
    g = _g(backend, db_url)
    root = tmp_path / "ev"
    root.mkdir()
    (root / "evil.exe").write_bytes(b"evil")
    (root / "ok.txt").write_bytes(b"ok")
    _ok(cli("scan", str(root), "--hash", *g))
    sets = tmp_path / "bad.csv"
    sets.write_text(f"name,sha256\nevil,{hashlib.sha256(b'evil').hexdigest()}\nx,zz\n")
    imp = json.loads(_ok(cli("hashset", "import", "bad", str(sets), "--json", *g)).stdout)
    assert imp["hash_count"] == 1 and imp["skipped_lines"] == 1
    r = cli("hashset", "import", "bad", str(sets), *g)
    assert r.returncode == 2 and "--replace" in r.stderr
    _ok(cli("rule", "add", "--hashset", "bad", "--tag", "known-bad", *g))
    tagged = json.loads(_ok(cli("files", "--tag", "known-bad", "--json", *g)).stdout)
    assert [f["rel_path"] for f in tagged] == ["evil.exe"]
    notin = json.loads(_ok(cli("files", "--not-in-hashset", "bad", "--json", *g)).stdout)
    assert [f["rel_path"] for f in notin] == ["ok.txt"]
    listed = json.loads(_ok(cli("hashset", "list", "--json", *g)).stdout)
    assert [(s["name"], s["files"]) for s in listed] == [("bad", 1)]
    r = cli("files", "--in-hashset", "nope", *g)
    assert r.returncode == 1 and "No hash set named" in r.stderr
    _ok(cli("hashset", "remove", "bad", *g))
    gone = cli("files", "--tag", "known-bad", "--json", *g)  # the set's rule and tags went with it
    assert gone.returncode == 1 and "No file has the tag 'known-bad'" in gone.stderr


def test_rule_list_and_remove_hashset_rules(cli, backend, db_url, tmp_path):
    g = _g(backend, db_url)
    root = tmp_path / "ev"
    root.mkdir()
    (root / "evil.exe").write_bytes(b"evil")
    (root / "ok.txt").write_bytes(b"ok")
    _ok(cli("scan", str(root), "--hash", *g))
    sets = tmp_path / "bad.txt"
    sets.write_text(hashlib.sha256(b"evil").hexdigest() + "\n")
    _ok(cli("hashset", "import", "bad", str(sets), *g))
    _ok(cli("rule", "add", "*.txt", "--tag", "text", *g))  # glob rule 1: ids of the two kinds overlap
    first = json.loads(_ok(cli("rule", "add", "--hashset", "bad", "--tag", "known-bad", "--json", *g)).stdout)
    second = json.loads(_ok(cli("rule", "add", "--hashset", "bad", "--tag", "malware", "--json", *g)).stdout)
    listed = json.loads(_ok(cli("rule", "list", "--json", *g)).stdout)
    assert [(r.get("kind"), r["tag"], r["files"]) for r in listed] == [
        (None, "text", 1), ("hashset", "known-bad", 1), ("hashset", "malware", 1)]
    text = _ok(cli("rule", "list", *g)).stdout
    assert f"h{first['id']}" in text and "known-bad" in text and "malware" in text

    r = cli("rule", "remove", "--hashset", "bad", *g)
    assert r.returncode == 2 and "has 2 rules" in r.stderr
    r = cli("rule", "remove", "--hashset", "nope", "--tag", "x", *g)
    assert r.returncode == 1 and "No hash set named" in r.stderr
    r = cli("rule", "remove", "h999", *g)
    assert r.returncode == 2 and "No hash-set rule h999" in r.stderr

    out = json.loads(_ok(cli("rule", "remove", "--hashset", "bad", "--tag", "known-bad", "--json", *g)).stdout)
    assert (out["id"], out["kind"], out["tag"]) == (first["id"], "hashset", "known-bad")
    gone = cli("files", "--tag", "known-bad", *g)
    assert gone.returncode == 1 and "No file has the tag 'known-bad'" in gone.stderr
    assert "Removed hash-set rule" in _ok(cli("rule", "remove", f"h{second['id']}", *g)).stdout
    assert cli("files", "--tag", "malware", *g).returncode == 1
    listed = json.loads(_ok(cli("rule", "list", "--json", *g)).stdout)
    assert [(r.get("kind"), r["tag"]) for r in listed] == [(None, "text")]  # the glob rule is untouched
    assert [f["rel_path"] for f in json.loads(_ok(cli("files", "--tag", "text", "--json", *g)).stdout)] == ["ok.txt"]


def _digests(db) -> dict[bytes, str]:
    rows = db.query_all(
        "SELECT f.rel_path, h.hash FROM scout_files f JOIN scout_file_hashes h"
        " ON h.file_id = f.id AND h.size = f.size AND h.mtime = f.mtime WHERE h.algo = 'sha256'"
    )
    return {to_bytes(rel): h for rel, h in rows}


def test_kill_9_during_hashing_leaves_only_right_hashes(cli, backend, db_url, tmp_path):
    rng = random.Random(SEED)
    root = tmp_path / "ev"
    root.mkdir()
    truth = {}
    for i in range(1500):
        data = rng.randbytes(rng.choice([0, 10, 5000, 100_000]))
        name = f"f{i:03d}.bin".encode()
        (root / name.decode()).write_bytes(data)
        truth[name] = hashlib.sha256(data).hexdigest()
    g = _g(backend, db_url)
    _ok(cli("scan", str(root), *g))
    settings = Settings.resolve(db=db_url, backend=backend, wait_s=10, command="pytest", env={})
    # Kill -9 right after the run says a random number of hashes committed
    # (a line on stdout per committed batch), twice: what it said is stored
    # must be there, and every stored hash must be right.
    for rounds in (1, 2):
        target = rng.randint(5, len(truth) // 2)
        proc = subprocess.Popen(
            [sys.executable, "-m", "casparian_tui", "hash", "ev", "--workers", "2", "--batch-files", "5",
             "--commit-lines", *g],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )
        said = _wait_for_commits(proc, target)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, f"seed {SEED}: the run ended by itself before the kill"
        db = Database(settings)
        try:
            got = _digests(db)
            wrong = {k: v for k, v in got.items() if truth[k] != v}
            assert not wrong, f"seed {SEED} round {rounds}: wrong hashes {wrong}"
            assert said <= len(got) < len(truth), f"seed {SEED} round {rounds}: {len(got)} stored, {said} said"
            db.write("forget hashes", lambda c: c.execute("DELETE FROM scout_file_hashes"))
        finally:
            db.close()
    _ok(cli("hash", "ev", *g))  # the next run fills in the rest
    db = Database(settings)
    try:
        assert _digests(db) == truth, f"seed {SEED}"
    finally:
        db.close()


def _wait_for_commits(proc, target: int, guard_s: float = 120) -> int:
    """Read 'committed N' lines until N >= target; fail loudly when the run ends or never gets there."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + guard_s
    while time.monotonic() < deadline:
        if not sel.select(timeout=1.0):
            continue
        line = proc.stdout.readline().decode()
        if not line:
            raise AssertionError(f"seed {SEED}: the run ended before {target} hashes were committed: "
                                 f"{proc.stderr.read().decode()[-500:]}")
        if line.startswith("committed ") and int(line.split()[1]) >= target:
            return int(line.split()[1])
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"seed {SEED}: no {target} hashes committed in {guard_s} s")
