"""Where a holder publishes its read server, and what goes over the socket.

A process that holds a DuckDB file read-write answers other Casparian
processes' reads (`db/read_server.py`; the reading side is
`db/remote_connection.py`). It publishes itself in `<db>.serve/holder.json`:
pid, host, command, the socket's path, a random key and, once settled, the
file's schema version. The folder is 0700 and the file 0600, so only the
owner can learn the key; the socket is 0600 too.
The socket sits in that folder, or — when the path would be too long for a Unix
socket (108 bytes) — in an owner-only folder under the runtime or temp folder.

The transport is the standard library's `multiprocessing.connection`: the
HMAC challenge on both sides proves each knows the key (compared in constant
time). Messages are pickles, but unpickled by a loader that refuses every
class except a few value types, so even a peer with the key cannot make the
other side run code.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import socket
import stat
from pathlib import Path

from casparian_tui.db.lease import pid_alive

# A Unix socket path must fit in sun_path (108 bytes on Linux, with the NUL).
_SUN_PATH_MAX = 100
# How long a reader waits for a published holder to take its call.
CONNECT_TIMEOUT_S = 1.0
_VALUE_TYPES = {
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"), ("datetime", "timedelta"),
    ("datetime", "timezone"), ("decimal", "Decimal"), ("uuid", "UUID"),
}


def serve_dir(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".serve")


def record_file(db_path: Path) -> Path:
    return serve_dir(db_path) / "holder.json"


def owner_only_dir(path: Path) -> Path:
    """Create `path` 0700, or accept it if it exists, is ours, and is owner-only.

    Raises OSError otherwise: another user's folder, or one others can enter,
    must never carry our socket or key.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a folder of ours")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def socket_path(db_path: Path) -> Path:
    beside = serve_dir(db_path) / "s"
    if len(os.fsencode(beside)) <= _SUN_PATH_MAX:
        return beside
    import hashlib
    import tempfile
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = owner_only_dir(Path(base) / f"casparian-{os.getuid()}")
    digest = hashlib.sha256(os.fsencode(db_path)).hexdigest()[:24]
    return folder / f"{digest}.sock"


def write_record(db_path: Path, record: dict) -> None:
    target = record_file(db_path)
    tmp = target.with_name(f"holder.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(record, f)
    os.replace(tmp, target)


def remove_record(db_path: Path, pid: int) -> None:
    """Remove the record if it is still ours (a new holder may have replaced it)."""
    target = record_file(db_path)
    try:
        if json.loads(target.read_text(encoding="utf-8")).get("pid") == pid:
            target.unlink()
    except (OSError, ValueError):
        pass


def read_record(db_path: Path) -> dict | None:
    """The published holder, if one that is alive on this host is there."""
    try:
        record = json.loads(record_file(db_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    if record.get("host") != socket.gethostname() or record["pid"] == os.getpid():
        return None
    if not pid_alive(record["pid"]) or not isinstance(record.get("key"), str):
        return None
    return record


def record_exists(db_path: Path) -> bool:
    return record_file(db_path).exists()


# ---- messages ------------------------------------------------------------------
class _ValuesOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _VALUE_TYPES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused: {module}.{name}")


def dumps(message) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes):
    return _ValuesOnly(io.BytesIO(data)).load()
