"""Any OSError writing beside the database is one clear error: the path, the reason, the hint.

A read-only filesystem cannot be mounted here, so the OS's answer (EROFS, or
a full disk) is put where the lock file, the home folder or the lease record
is written.
"""

from __future__ import annotations

import errno
import pathlib

import filelock
import pytest

from casparian_tui.cli.main import main
from casparian_tui.db import lease


def _erofs(*_args, **_kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


def _run(capsys, *args) -> tuple[int, str]:
    rc = main(list(args))
    return rc, capsys.readouterr().err


def _assert_one_clear_line(rc: int, err: str, folder, reason: str) -> None:
    lines = err.splitlines()
    assert rc == 1, err
    assert lines[0] == f"error: Cannot write in {folder}: {reason}.", err
    assert lines[1].startswith("hint: ") and "--read-only" in lines[1], err
    assert len(lines) == 2 and "report" not in err and "Traceback" not in err, err


def test_a_read_only_filesystem_under_the_lock_file(tmp_path, capsys, monkeypatch):
    db = tmp_path / "ro" / "c.duckdb"
    assert main(["--db", str(db), "files"]) == 0  # the database exists; now the folder goes read-only
    capsys.readouterr()
    monkeypatch.setattr(filelock.FileLock, "acquire", _erofs)
    rc, err = _run(capsys, "--db", str(db), "source", "add", str(tmp_path), "--name", "t")
    _assert_one_clear_line(rc, err, db.parent, "read-only file system")
    # reading still works, with or without --read-only
    assert main(["--db", str(db), "--read-only", "files"]) == 0
    assert main(["--db", str(db), "files"]) == 0


def test_a_read_only_filesystem_where_the_home_folder_would_be_made(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CASPARIAN_HOME", str(home))
    monkeypatch.setattr(pathlib.Path, "mkdir", _erofs)
    rc, err = _run(capsys, "source", "add", str(tmp_path), "--name", "t")
    _assert_one_clear_line(rc, err, home, "read-only file system")


@pytest.mark.parametrize("code,reason", [(errno.EROFS, "read-only file system"),
                                         (errno.ENOSPC, "no space left on device")])
def test_the_lease_record_cannot_be_written(tmp_path, capsys, monkeypatch, code, reason):
    db = tmp_path / "c.duckdb"

    def fail(self):
        raise OSError(code, reason.capitalize())

    monkeypatch.setattr(lease.WriterLease, "_write_record", fail)
    rc, err = _run(capsys, "--db", str(db), "source", "add", str(tmp_path), "--name", "t")
    _assert_one_clear_line(rc, err, tmp_path, reason)
    assert not lease.WriterLease(db, "x").held
