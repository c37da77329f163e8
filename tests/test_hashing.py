"""Content hashes, duplicates, hash sets and scan changes: the services, on every backend."""

from __future__ import annotations

import hashlib
import os

import pyarrow as pa
import pytest

from casparian_tui.scout import hash_catalog, hashsets, scan_changes
from casparian_tui.scout.catalog import FileFilter, list_files
from casparian_tui.scout.hashing import hash_file, hash_source
from casparian_tui.scout.pathcodec import to_bytes
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source
from test_gauntlet import ODD_NAMES

BIG = 5 * (1 << 20) + 12345  # several read buffers and a ragged tail


def _write(path, data: bytes, mtime_s: int | None = None) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))


def _digests(db, algo="sha256") -> dict[bytes, str]:
    """rel path (bytes) -> current hash, as the catalog says."""
    rows = db.query_all(
        "SELECT f.rel_path, h.hash FROM scout_files f JOIN scout_file_hashes h"
        " ON h.file_id = f.id AND h.size = f.size AND h.mtime = f.mtime"
        " WHERE h.algo = ? AND f.deleted_at IS NULL",
        [algo],
    )
    return {to_bytes(rel): h for rel, h in rows}


def _truth(root, algo="sha256") -> dict[bytes, str]:
    rootb = os.fsencode(str(root))
    out = {}
    for dirpath, _d, names in os.walk(rootb):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, rootb)] = hashlib.new(algo, fh.read()).hexdigest()
    return out


def _scan(db, src):
    return Scanner(db, src).run()


@pytest.mark.parametrize("algo", ["sha256", "sha1", "md5"])
def test_hashes_match_hashlib_for_odd_names_empty_and_large(db, tmp_path, algo):
    root = tmp_path / "t"
    root.mkdir()
    rootb = os.fsencode(str(root))
    for i, name in enumerate(ODD_NAMES):
        _write(os.path.join(rootb, name), name * (i % 3))
    _write(root / "big.bin", os.urandom(BIG))
    _write(root / "zero", b"")
    src = add_source(db, root)
    _scan(db, src)
    r = hash_source(db, src, algo, workers=3, batch_files=7)
    assert r.errors == [] and r.hashed == r.candidates == len(ODD_NAMES) + 2
    assert _digests(db, algo) == _truth(root, algo)
    assert hash_file(str(root / "zero"), algo)[0] == hashlib.new(algo, b"").hexdigest()
    # a second run finds nothing to do
    assert hash_source(db, src, algo).candidates == 0


def test_modified_file_gets_new_hash_and_old_one_is_never_current(db, tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    _write(root / "a.txt", b"first", 1_600_000_000)
    _write(root / "b.txt", b"same", 1_600_000_000)
    src = add_source(db, root)
    _scan(db, src)
    hash_source(db, src)
    old = hashlib.sha256(b"first").hexdigest()
    assert _digests(db)[b"a.txt"] == old
    _write(root / "a.txt", b"second!", 1_600_000_100)
    _scan(db, src)
    # changed, not yet hashed again: no current hash, and the old one is not found by hash
    assert b"a.txt" not in _digests(db)
    ids = [r[0] for r in db.query_all("SELECT id FROM scout_files ORDER BY rel_path")]
    assert db.read(lambda c: hash_catalog.current_hashes(c, ids)).get(ids[0]) is None
    assert db.read(lambda c: list_files(c, FileFilter(content_hash=old))) == []
    r = hash_source(db, src)
    assert r.candidates == 1  # only the changed file
    assert _digests(db)[b"a.txt"] == hashlib.sha256(b"second!").hexdigest()
    # an unchanged rescan hashes nothing
    _scan(db, src)
    assert hash_source(db, src).candidates == 0


def test_file_changed_after_scan_is_not_shown_until_rescanned(db, tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    _write(root / "a.txt", b"one", 1_600_000_000)
    src = add_source(db, root)
    _scan(db, src)
    _write(root / "a.txt", b"two-two", 1_600_000_500)  # changed on disk, catalog not told
    r = hash_source(db, src)
    assert r.hashed == 1 and r.changed_since_scan == 1
    assert _digests(db) == {}  # the hash is of content the catalog does not describe yet
    _scan(db, src)
    assert _digests(db) == {b"a.txt": hashlib.sha256(b"two-two").hexdigest()}
    assert hash_source(db, src).candidates == 0


def test_unreadable_files_are_reported_not_fatal(db, tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    _write(root / "ok.txt", b"ok")
    _write(root / "gone.txt", b"x")
    src = add_source(db, root)
    _scan(db, src)
    os.remove(root / "gone.txt")  # vanished between scan and hash
    r = hash_source(db, src)
    assert r.hashed == 1 and [e["path"] for e in r.errors] == ["gone.txt"]
    assert list(_digests(db)) == [b"ok.txt"]


def test_duplicates_are_grouped_exactly(db, tmp_path):
    root = tmp_path / "t"
    (root / "d").mkdir(parents=True)
    big = os.urandom(300_000)
    for name in ("a.bin", "d/b.bin", "d/c.bin"):
        _write(root / name, big)
    _write(root / "x1.txt", b"hello")
    _write(root / "d/x2.txt", b"hello")
    _write(root / "u.txt", b"unique")
    _write(root / "e1", b"")
    _write(root / "e2", b"")
    src = add_source(db, root)
    _scan(db, src)
    hash_source(db, src)
    groups = db.read(lambda c: hash_catalog.duplicate_groups(c))
    got = [(g["size"], g["count"], g["wasted_bytes"], sorted(f["rel_path"] for f in g["files"])) for g in groups]
    assert got == [
        (300_000, 3, 600_000, ["a.bin", "d/b.bin", "d/c.bin"]),
        (5, 2, 5, ["d/x2.txt", "x1.txt"]),
    ]  # empty files are not duplicates by default (min size 1)
    assert groups[0]["hash"] == hashlib.sha256(big).hexdigest()
    assert len(db.read(lambda c: hash_catalog.duplicate_groups(c, min_size=0))) == 3
    dup_files = db.read(lambda c: list_files(c, FileFilter(duplicates=True)))
    assert sorted(r["rel_path"] for r in dup_files) == ["a.bin", "d/b.bin", "d/c.bin", "d/x2.txt", "e1", "e2", "x1.txt"]
    assert len(db.read(lambda c: hash_catalog.duplicate_groups(c, min_size=6))) == 1
    # a changed copy leaves its group
    _write(root / "d/c.bin", big + b"!")
    _scan(db, src)
    groups = db.read(lambda c: hash_catalog.duplicate_groups(c))
    assert [g["count"] for g in groups] == [2, 2]


def test_hashset_import_filter_and_rule_tags(db, tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    _write(root / "bad.exe", b"malware")
    _write(root / "bad-copy.dat", b"malware")
    _write(root / "good.txt", b"fine")
    _write(root / "later.bin", b"malware-2")
    src = add_source(db, root)
    _scan(db, src)
    hash_source(db, src)
    listfile = tmp_path / "bad.txt"
    listfile.write_text(
        "# known bad\n"
        + hashlib.sha256(b"malware").hexdigest().upper() + "\n"
        + hashlib.md5(b"malware-2").hexdigest() + "\n"
        + "not-a-hash\n\n"
    )
    hashes, skipped = hashsets.read_hash_file(str(listfile))
    assert len(hashes) == 2 and skipped >= 2
    s = db.write("import", lambda c: hashsets.import_set(c, "bad", hashes, "bad.txt"))
    assert s["hash_count"] == 2 and s["algos"] == "md5,sha256"
    in_set = db.read(lambda c: list_files(c, FileFilter(in_hashsets=["bad"])))
    assert sorted(r["rel_path"] for r in in_set) == ["bad-copy.dat", "bad.exe"]
    out_set = db.read(lambda c: list_files(c, FileFilter(not_in_hashsets=["bad"])))
    assert sorted(r["rel_path"] for r in out_set) == ["good.txt", "later.bin"]
    db.write("rule", lambda c: hashsets.add_rule(c, "bad", "known-bad"))

    def tagged():
        return sorted(r["rel_path"] for r in db.read(lambda c: list_files(c, FileFilter(tag="known-bad"))))

    assert tagged() == ["bad-copy.dat", "bad.exe"]
    hash_source(db, src, "md5")  # later.bin's md5 is in the set
    assert tagged() == ["bad-copy.dat", "bad.exe", "later.bin"]
    _write(root / "bad.exe", b"cleaned up")  # its old hash no longer counts
    _scan(db, src)
    assert tagged() == ["bad-copy.dat", "later.bin"]
    db.write("remove", lambda c: hashsets.remove_set(c, "bad"))
    assert tagged() == []


def test_hashset_csv_with_hash_column(db, tmp_path):
    f = tmp_path / "nsrl.csv"
    sha1 = hashlib.sha1(b"x").hexdigest().upper()
    f.write_text(f'"SHA-1","MD5","FileName"\n"{sha1}","{"0" * 32}","x.dll"\n"{sha1}","{"1" * 32}","y.dll"\n')
    hashes, skipped = hashsets.read_hash_file(str(f))
    assert hashes.to_pylist() == [sha1.lower()] and skipped == 0
    hashes, _ = hashsets.read_hash_file(str(f), "md5")
    assert sorted(hashes.to_pylist()) == ["0" * 32, "1" * 32]


def test_scan_changes_lists_new_changed_renamed_deleted(db, tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    for n in ("keep", "change", "move", "gone", "back"):
        _write(root / n, n.encode(), 1_600_000_000)
    src = add_source(db, root)
    first = _scan(db, src)
    os.remove(root / "back")
    second = _scan(db, src)
    assert second.deleted == 1
    _write(root / "change", b"changed!", 1_600_000_100)
    os.rename(root / "move", root / "moved")
    os.remove(root / "gone")
    _write(root / "back", b"back", 1_600_000_000)
    _write(root / "fresh", b"fresh")
    third = _scan(db, src)
    assert (third.new, third.changed, third.renamed, third.deleted) == (2, 1, 1, 1)

    def changes(scan_id):
        rows = db.read(lambda c: scan_changes.changes_of(c, scan_id))
        return sorted((r["change"], r["rel_path"], r["old_rel_path"]) for r in rows)

    assert changes(third.scan_id) == [
        ("changed", "change", None),
        ("deleted", "gone", None),
        ("new", "back", None),
        ("new", "fresh", None),
        ("renamed", "moved", "move"),
    ]
    assert changes(second.scan_id) == [("deleted", "back", None)]
    in_scan = db.read(lambda c: list_files(c, FileFilter(changed_in_scan=third.scan_id)))
    assert sorted(r["rel_path"] for r in in_scan) == ["back", "change", "fresh", "moved"]
    assert len(changes(first.scan_id)) == 5 and {c[0] for c in changes(first.scan_id)} == {"new"}
    runs = db.read(lambda c: scan_changes.scans_for(c))
    assert [r["id"] for r in runs] == [third.scan_id]


def test_touched_file_is_rehashed_then_reported_touched_not_changed(db, tmp_path):
    root = tmp_path / "t"
    root.mkdir()
    _write(root / "touched.txt", b"same bytes", 1_600_000_000)
    _write(root / "edited.txt", b"old bytes!", 1_600_000_000)  # same size after the edit
    _write(root / "never.txt", b"not hashed", 1_600_000_000)
    src = add_source(db, root)
    _scan(db, src)
    first = {to_bytes(r[0]): r[1] for r in db.query_all("SELECT rel_path, id FROM scout_files")}
    r = hash_source(db, src, "sha256")
    assert r.hashed == 3
    # never.txt loses its hash: it has no older hash to compare with
    db.write("forget", lambda c: c.execute("DELETE FROM scout_file_hashes WHERE file_id = ?", [first[b"never.txt"]]))
    old = _digests(db)

    _write(root / "touched.txt", b"same bytes", 1_700_000_000)
    _write(root / "edited.txt", b"new bytes!", 1_700_000_000)
    _write(root / "never.txt", b"not hashed", 1_700_000_000)
    scan = _scan(db, src)
    assert scan.changed == 3
    # The scan reads no content: all three are 'changed', and no hash is current for them.
    rows = db.read(lambda c: scan_changes.changes_of(c, scan.scan_id))
    assert {x["rel_path"]: x["change"] for x in rows} == {"touched.txt": "changed", "edited.txt": "changed", "never.txt": "changed"}
    assert _digests(db) == {}

    r = hash_source(db, src, "sha256")
    assert r.hashed == 3  # the touched file too: its hash is verified again, not carried over
    rows = db.read(lambda c: scan_changes.changes_of(c, scan.scan_id))
    assert {x["rel_path"]: x["change"] for x in rows} == {"touched.txt": "touched", "edited.txt": "changed", "never.txt": "changed"}
    assert _digests(db)[b"touched.txt"] == old[b"touched.txt"]
    assert _digests(db)[b"edited.txt"] == hashlib.sha256(b"new bytes!").hexdigest()
    run = db.read(lambda c: scan_changes.scans_for(c, scan_id=scan.scan_id))[0]
    assert (run["changed_files"], run["touched_files"]) == (3, 1)
    # "changed in last scan" means content: the touched file is not in it
    flt = FileFilter(changed_in_scan=scan.scan_id)
    assert {f["rel_path"] for f in db.read(lambda c: list_files(c, flt))} == {"edited.txt", "never.txt"}

    # hashing again changes nothing; an earlier scan's rows are left as they were
    hash_source(db, src, "sha256")
    rows = db.read(lambda c: scan_changes.changes_of(c, scan.scan_id))
    assert sorted(x["change"] for x in rows) == ["changed", "changed", "touched"]


@pytest.mark.parametrize("width", [32, 40, 64])
def test_hash_file_fast_and_general_paths_agree(tmp_path, width):
    """Clean files take the numpy path; CRLF, blanks, a bad line, or two hashes
    sharing their first 16 digits take the general one; the answer is the same."""
    import random

    import pyarrow.compute as pc

    rng = random.Random(width)
    hashes = [f"{rng.getrandbits(width * 4):0{width}x}" for _ in range(3000)]
    hashes += hashes[:50]  # duplicates
    twin = hashes[0][:16] + ("0" if hashes[0][16] != "0" else "1") + hashes[0][17:]  # same key, other hash
    expect = sorted(set(h.lower() for h in hashes))

    def check(name, lines, skipped=0, expected=expect):
        f = tmp_path / name
        f.write_bytes(lines.encode())
        got, skip = hashsets.read_hash_file(str(f))
        assert got.to_pylist() == expected and skip == skipped
        assert pc.all(pc.equal(got, pc.ascii_lower(got))).as_py()

    mixed = [h.upper() if i % 3 == 0 else h for i, h in enumerate(hashes)]
    check("clean.txt", "\n".join(mixed) + "\n")
    check("no-final-newline.txt", "\n".join(mixed))
    check("crlf.txt", "\r\n".join(mixed) + "\r\n")
    check("spaces.txt", "\n".join(" " + h for h in mixed) + "\n")
    check("bad.txt", "\n".join(mixed + ["z" * width]) + "\n", skipped=1)
    check("twin.txt", "\n".join(mixed + [twin]) + "\n", expected=sorted(set(expect) | {twin}))
