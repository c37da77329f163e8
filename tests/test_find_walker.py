"""The find walker: the same batches as the scandir walker, and the same safety.

Real refusals (chmod 000 with root's override dropped) reach it through the
CLI in test_gauntlet.py; here a stand-in `find` on PATH (the real one, then
one more stderr line or a kill) makes the rarer failures happen for real.
"""

from __future__ import annotations

import os
import queue
import shutil
import stat
import threading

import pyarrow as pa
import pytest

from casparian_tui.errors import CasparianError
from casparian_tui.scout import find_walker
from casparian_tui.scout.find_walker import FindWalker, make_walker
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source
from casparian_tui.scout.testtree import make_tree
from casparian_tui.scout.walker import WalkDone, Walker
from test_gauntlet import make_gauntlet
from waiting import wait_for

REAL_FIND = find_walker.gnu_find()
pytestmark = pytest.mark.skipif(REAL_FIND is None, reason="no GNU find on this machine: the scandir walker is used")


@pytest.fixture(autouse=True)
def _fresh_find_lookup():
    find_walker.gnu_find.cache_clear()
    yield
    find_walker.gnu_find.cache_clear()


def _walk(walker_cls, root, batch_rows):
    out, cancel = queue.Queue(maxsize=3), threading.Event()
    w = walker_cls(str(root), out, cancel, batch_rows=batch_rows)
    w.start()
    batches = []
    while True:
        item = out.get(timeout=60)
        if isinstance(item, WalkDone):
            break
        if isinstance(item, BaseException):
            raise item
        assert 0 < item.num_rows <= (batch_rows if walker_cls is FindWalker else 2048)
        batches.append(item)
    w.join(timeout=10)
    rows = pa.concat_tables(batches).sort_by("rel_path")
    st = w.stats
    return rows, (st.dirs, st.files, st.symlinks, st.special, st.errors, w.complete)


def test_both_walkers_give_the_same_rows_and_counts(tmp_path):
    root = tmp_path / "g"
    make_gauntlet(root)
    os.chmod(root / "locked", 0o755)  # as root both would read it; refusals are tested through the CLI
    odd = root / "d"
    (odd / "space and\nnewline.tar.gz").write_bytes(b"12345")
    os.utime(odd / "space and\nnewline.tar.gz", ns=(0, -1_500_000_001))  # before 1970, sub-µs
    os.utime(odd / "-leading-dash.txt", ns=(0, 1_700_000_000_123_456_789))
    (root / "empty-folder").mkdir()
    make_tree(root / "many", 300, seed=3, depth=2, files_per_dir=40)
    scandir_rows, scandir_counts = _walk(Walker, root, batch_rows=7)
    find_rows, find_counts = _walk(FindWalker, root, batch_rows=7)
    assert find_rows.num_rows > 300
    assert find_rows.equals(scandir_rows)
    assert find_counts == scandir_counts
    assert find_counts[-1] is True


def _stand_in_find(tmp_path, monkeypatch, after: str) -> None:
    """Put a `find` on PATH that runs the real one, then runs `after` (sh)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "find"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then exec {REAL_FIND} --version; fi\n'
        f'{REAL_FIND} "$@"\n'
        f"{after}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    find_walker.gnu_find.cache_clear()
    assert find_walker.gnu_find() == str(script)


def _scanned_tree(db, tmp_path):
    root = tmp_path / "tree"
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
        for i in range(3):
            (root / folder / f"{i}.txt").write_text(str(i))
    src = add_source(db, root)
    assert Scanner(db, src).run().new == 6
    return root, src


def _live(db, src) -> set[str]:
    rows = db.query_all("SELECT rel_path FROM scout_files WHERE source_id = ? AND deleted_at IS NULL", [src.id])
    return {r[0] for r in rows}


def test_batches_of_every_find_go_out_full(tmp_path, monkeypatch):
    """Each batch costs the database a commit: the finds' remainders are pooled,
    so every batch but the last is full (no flush by time here)."""
    monkeypatch.setattr(find_walker, "FLUSH_INTERVAL_S", 1e9)
    root = tmp_path / "t"
    make_tree(root, 3000, seed=5, depth=2, files_per_dir=37)
    out, cancel = queue.Queue(), threading.Event()
    w = FindWalker(str(root), out, cancel, batch_rows=500, jobs=3)
    w.start()
    sizes = []
    while not isinstance(item := out.get(timeout=60), WalkDone):
        assert not isinstance(item, BaseException), item
        sizes.append(item.num_rows)
    assert sum(sizes) == 3000
    assert sizes == [500] * 6, sizes


def test_an_unreadable_folder_find_reports_protects_only_its_files(db, tmp_path, monkeypatch):
    root, src = _scanned_tree(db, tmp_path)
    os.remove(root / "a" / "0.txt")
    os.remove(root / "b" / "0.txt")
    # find names the folder as it does in the C locale: quoted, C escapes.
    _stand_in_find(tmp_path, monkeypatch, "echo \"find: './b': Input/output error\" >&2; exit 1")
    res = Scanner(db, src).run()
    assert res.status == "completed"
    assert res.errors == [{"path": "b", "error": "Input/output error"}]
    assert res.deleted == 1  # a/0.txt; b/0.txt was not looked at
    assert _live(db, src) == {"a/1.txt", "a/2.txt", "b/0.txt", "b/1.txt", "b/2.txt"}


def test_a_find_error_that_names_no_folder_protects_the_whole_source(db, tmp_path, monkeypatch):
    root, src = _scanned_tree(db, tmp_path)
    os.remove(root / "a" / "0.txt")
    _stand_in_find(tmp_path, monkeypatch, "echo 'find: something unexpected' >&2; exit 1")
    res = Scanner(db, src).run()
    assert res.status == "completed" and res.deleted == 0
    assert res.errors == [{"path": ".", "error": "find: something unexpected"}]
    assert "a/0.txt" in _live(db, src)


def test_find_killed_mid_walk_fails_the_scan_and_deletes_nothing(db, tmp_path, monkeypatch):
    root, src = _scanned_tree(db, tmp_path)
    os.remove(root / "a" / "0.txt")
    _stand_in_find(tmp_path, monkeypatch, "kill -9 $$")
    with pytest.raises(CasparianError, match="find stopped"):
        Scanner(db, src).run()
    assert "a/0.txt" in _live(db, src)
    assert db.query_value("SELECT status FROM scout_scan_runs WHERE source_id = ? ORDER BY id DESC LIMIT 1",
                          [src.id]) == "failed"


def test_a_cancelled_find_walker_ends_even_when_nobody_reads(tmp_path):
    root = tmp_path / "tree"
    make_tree(root, 500, seed=6, depth=1, files_per_dir=20)
    out, cancel = queue.Queue(maxsize=1), threading.Event()
    w = FindWalker(str(root), out, cancel, batch_rows=10)
    w.start()
    assert wait_for(out.full, timeout=30)
    cancel.set()
    w.join(timeout=30)
    assert not w.is_alive() and not w.complete


def test_the_walker_is_chosen_by_excludes_and_the_environment(tmp_path, monkeypatch):
    out, cancel = queue.Queue(), threading.Event()
    monkeypatch.delenv("CASPARIAN_WALKER", raising=False)
    assert type(make_walker(str(tmp_path), out, cancel)) is FindWalker
    # Excludes prune folders while walking: the scandir walker does that.
    assert type(make_walker(str(tmp_path), out, cancel, exclude=lambda rel, is_dir: False)) is Walker
    monkeypatch.setenv("CASPARIAN_WALKER", "python")
    assert type(make_walker(str(tmp_path), out, cancel)) is Walker
    monkeypatch.setenv("CASPARIAN_WALKER", "find")
    monkeypatch.setenv("PATH", str(tmp_path))  # no find at all
    find_walker.gnu_find.cache_clear()
    with pytest.raises(CasparianError, match="no GNU find"):
        make_walker(str(tmp_path), out, cancel)
    monkeypatch.delenv("CASPARIAN_WALKER")
    assert type(make_walker(str(tmp_path), out, cancel)) is Walker  # falls back quietly
    assert shutil.which("find") is None
