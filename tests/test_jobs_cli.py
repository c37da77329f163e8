"""`casparian jobs` / `casparian job ...` in real subprocesses, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

from sentinel_rows import make_files, make_parser


def _run_with_one_failure(cli, backend, tmp_path):
    paths = make_files(tmp_path / "in", 0, ["ok.txt", "bad.txt"])
    parser = make_parser(tmp_path, "if name == 'bad.txt': raise ValueError('cannot read ' + name)")
    res = cli("run", str(parser), *paths, "--backend", backend, "--workers", "1", "--max-attempts", "1", "--json")
    assert res.returncode == 1, res.stderr
    return parser


def test_jobs_listing_show_requeue_and_purge(cli, backend, tmp_path):
    parser = _run_with_one_failure(cli, backend, tmp_path)
    res = cli("jobs", "--json", "--backend", backend)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert list(out) == ["counts", "jobs"]
    assert out["counts"]["COMPLETED"] == 1 and out["counts"]["FAILED"] == 1 and out["counts"]["DEAD_LETTER"] == 1
    failed = [j for j in out["jobs"] if j["status"] == "FAILED"]
    assert len(failed) == 1 and failed[0]["error"] == "ValueError: cannot read bad.txt"
    jid = failed[0]["id"]

    only = json.loads(cli("jobs", "--status", "completed", "--json", "--backend", backend).stdout)
    assert [j["status"] for j in only["jobs"]] == ["COMPLETED"]
    dead = json.loads(cli("jobs", "--dead-letter", "--json", "--backend", backend).stdout)
    assert [d["job_id"] for d in dead["dead_letter"]] == [jid]
    text = cli("jobs", "--dead-letter", "--backend", backend)
    assert text.returncode == 0 and "bad.txt" in text.stdout

    show = cli("job", "show", str(jid), "--backend", backend)
    assert show.returncode == 0 and "Traceback" in show.stdout and "dead_lettered" in show.stdout
    detail = json.loads(cli("job", "show", str(jid), "--json", "--backend", backend).stdout)
    assert detail["status"] == "FAILED" and "ValueError" in detail["traceback"]
    assert [e["event"] for e in detail["events"]][:2] == ["queued", "claimed"]
    missing = cli("job", "show", "987654", "--backend", backend)
    assert missing.returncode == 1 and "No job with id 987654" in missing.stderr

    # read-only: refused, exit 4
    ro = cli("job", "requeue", str(jid), "--backend", backend, "--read-only")
    assert ro.returncode == 4 and "requeue a dead-lettered job" in ro.stderr
    req = cli("job", "requeue", str(jid), "--backend", backend)
    assert req.returncode == 0 and f"requeued 1 job: {jid}" in req.stdout
    again = cli("job", "requeue", str(jid), "--backend", backend)
    assert again.returncode == 1 and "not in the dead letter" in again.stderr

    # the requeued job runs with the next run of its parser (and fails again)
    paths = [str(tmp_path / "in" / "bad.txt")]
    cli("run", str(parser), *paths, "--backend", backend, "--workers", "1", "--max-attempts", "1")
    assert json.loads(cli("jobs", "--json", "--backend", backend).stdout)["counts"]["DEAD_LETTER"] == 1
    no_tty = cli("job", "purge", "--dead-letter", "--backend", backend)
    assert no_tty.returncode == 2 and "--yes" in no_tty.stderr
    purged = json.loads(cli("job", "purge", "--dead-letter", "--yes", "--json", "--backend", backend).stdout)
    assert purged["count"] == 1
    assert json.loads(cli("jobs", "--json", "--backend", backend).stdout)["counts"]["DEAD_LETTER"] == 0


def test_retry_and_cancel_commands(cli, backend, tmp_path):
    _run_with_one_failure(cli, backend, tmp_path)
    res = cli("job", "retry", "--all-failed", "--json", "--backend", backend)
    assert res.returncode == 0 and json.loads(res.stdout)["count"] == 1
    usage = cli("job", "retry", "--backend", backend)
    assert usage.returncode == 2
    res = cli("job", "cancel", "--all-queued", "--backend", backend)
    assert res.returncode == 0 and res.stdout.startswith("cancelled 1 job")
    counts = json.loads(cli("jobs", "--json", "--backend", backend).stdout)["counts"]
    assert (counts["CANCELLED"], counts["QUEUED"]) == (1, 0)
    jid = json.loads(cli("jobs", "--status", "CANCELLED", "--json", "--backend", backend).stdout)["jobs"][0]["id"]
    done = cli("job", "cancel", str(jid), "--backend", backend)
    assert done.returncode == 1 and "only QUEUED or RUNNING" in done.stderr
    assert cli("job", "retry", str(jid), "--backend", backend).returncode == 0
