from pathlib import Path

import pytest

from casparian_tui.config import Settings
from casparian_tui.errors import UsageError


def test_defaults_live_in_home(tmp_path):
    s = Settings.resolve(env={"CASPARIAN_HOME": str(tmp_path)})
    assert s.backend == "duckdb"
    assert s.db_path == tmp_path / "casparian_flow.duckdb"
    assert s.read_only is False


def test_sqlite_default_file_name(tmp_path):
    s = Settings.resolve(env={"CASPARIAN_HOME": str(tmp_path), "CASPARIAN_BACKEND": "sqlite"})
    assert s.db_path == tmp_path / "casparian_flow.sqlite"


def test_options_beat_environment_beats_defaults(tmp_path):
    env = {
        "CASPARIAN_HOME": str(tmp_path),
        "CASPARIAN_DB": str(tmp_path / "env.sqlite"),
        "CASPARIAN_BACKEND": "sqlite",
        "CASPARIAN_READONLY": "1",
    }
    from_env = Settings.resolve(env=env)
    assert (from_env.backend, from_env.db_path, from_env.read_only) == ("sqlite", tmp_path / "env.sqlite", True)
    opt = Settings.resolve(db=tmp_path / "opt.duckdb", backend="duckdb", read_only=False, env=env)
    assert (opt.backend, opt.db_path, opt.read_only) == ("duckdb", tmp_path / "opt.duckdb", False)


def test_backend_inferred_from_sqlite_suffix(tmp_path):
    assert Settings.resolve(db=tmp_path / "x.sqlite", env={}).backend == "sqlite"
    assert Settings.resolve(db=tmp_path / "x.duckdb", env={}).backend == "duckdb"


def test_unknown_backend_is_a_usage_error():
    with pytest.raises(UsageError):
        Settings.resolve(backend="oracle", env={})


def test_relative_db_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings.resolve(db="rel.duckdb", env={}).db_path == Path(tmp_path, "rel.duckdb")


def test_a_postgres_url_implies_the_backend_and_is_shown_without_credentials():
    s = Settings.resolve(db="postgresql://cf:secret@dbhost:6543/casparian", env={})
    assert s.backend == "postgres" and s.location == "dbhost:6543/casparian" and "secret" not in s.location
    assert Settings.resolve(db="postgres://dbhost/x", env={}).backend == "postgres"


def test_an_unreachable_server_is_one_line_without_the_password(cli):
    res = cli("--db", "postgresql://cf:secret@127.0.0.1:1/casparian", "db", "info")
    assert res.returncode == 1 and res.stderr.startswith("error: Cannot connect to PostgreSQL at 127.0.0.1:1/casparian")
    assert "secret" not in res.stderr + res.stdout and "Traceback" not in res.stderr
