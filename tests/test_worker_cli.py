"""`casparian parser register`, `run --enqueue-only`, `worker --once` and `jobs --workers`, on every backend."""

from __future__ import annotations

import json

PARSER = "assets/parsers/csv_rows.py"


def test_enqueue_then_a_worker_runs_the_registered_parser(cli, backend, db_url, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(6):
        (data / f"f{i}.csv").write_text(f"a,b\n{i},x\n")
    env = {"CASPARIAN_HOSTNAME": "test-host", "CASPARIAN_OUTPUT": str(tmp_path / "out")}
    g = ["--backend", backend, "--db", db_url]
    assert cli("scan", str(data), "--quiet", *g, env=env).returncode == 0
    res = cli("run", PARSER, "--source", "data", "--enqueue-only", "--json", *g, env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["queued"] == 6
    listed = json.loads(cli("parser", "list", "--json", *g).stdout)["parsers"]
    assert [(p["name"], p["registered_by"]) for p in listed] == [("csv_rows", "test-host")]
    again = json.loads(cli("parser", "register", PARSER, "--json", *g).stdout)
    assert again["new"] is False and again["fingerprint"] == listed[0]["fingerprint"]

    res = cli("worker", "--once", "--json", "--poll-seconds", "0.1", *g, env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["completed"] == 6
    counts = json.loads(cli("jobs", "--json", *g).stdout)["counts"]
    assert counts["COMPLETED"] == 6 and counts["QUEUED"] == 0
    workers = json.loads(cli("jobs", "--workers", "--all", "--json", *g).stdout)["workers"]
    assert [(w["host"], w["status"], w["jobs_done"], w["held"]) for w in workers] == [("test-host", "stopped", 6, 0)]
    assert json.loads(cli("jobs", "--workers", "--json", *g).stdout)["workers"] == []  # none running now
    # the lineage names the host
    import pyarrow.dataset as ds

    rows = ds.dataset(str(tmp_path / "out" / "csv_rows"), format="parquet").to_table()
    assert set(rows.column("_cf_host").to_pylist()) == {"test-host"}


def test_a_worker_that_cannot_write_the_output_root_refuses_to_start(cli, backend, db_url, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    res = cli("worker", "--once", "--output-root", str(blocker / "out"), "--backend", backend, "--db", db_url,
              env={"CASPARIAN_HOSTNAME": "h9"})
    assert res.returncode == 1
    assert res.stderr.startswith("error: Host h9 cannot write the output root ") and str(blocker / "out") in res.stderr
    assert "Traceback" not in res.stderr


def test_a_file_no_host_can_read_fails_with_the_host_and_path_and_is_dead_lettered(cli, backend, db_url, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    for i in range(3):
        (root / f"f{i}.csv").write_text(f"a,b\n{i},x\n")
    g = ["--backend", backend, "--db", db_url]
    assert cli("scan", str(root), "--quiet", *g).returncode == 0
    victim = sorted(root.iterdir())[0]
    victim.unlink()
    env = {"CASPARIAN_HOSTNAME": "reader-host", "CASPARIAN_OUTPUT": str(tmp_path / "out")}
    res = cli("run", PARSER, "--source", "tree", "--enqueue-only", "--max-attempts", "2",
              *g, env=env)
    assert res.returncode == 0, res.stderr
    res = cli("worker", "--once", "--retry-delay", "0", "--poll-seconds", "0.1", *g, env=env)
    assert res.returncode == 0, res.stderr
    dead = json.loads(cli("jobs", "--dead-letter", "--json", *g).stdout)["dead_letter"]
    assert len(dead) == 1 and dead[0]["attempts"] == 2
    assert f"host reader-host cannot read {victim}" in dead[0]["error"]
