"""`casparian bench --quick` produces a row for every benchmark (timings are not judged here)."""

import json

from casparian_tui.bench.suite import BENCHMARKS


def test_quick_bench_produces_every_row(cli, tmp_path):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    out = cli("bench", "--quick", "--json", str(out_json), "--markdown", str(out_md),
              env={"CASPARIAN_HOME": str(tmp_path / "home")}, timeout=1200)  # a guard, not a bound
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out_json.read_text())
    assert {r["name"] for r in rows} == set(BENCHMARKS)
    for r in rows:
        assert {"name", "backend", "unit", "target", "median", "min", "max", "passed"} <= set(r)
        assert r["median"] is not None and r["min"] <= r["median"] <= r["max"]
        assert r["passed"] is None, r  # tiny inputs are never judged against full-size targets
    backends = {(r["name"], r["backend"]) for r in rows}
    for name in ("upsert", "analytical", "preview", "claims", "scan"):
        assert (name, "duckdb") in backends and (name, "sqlite") in backends  # side by side
    assert "benchmark" in out.stdout and "target" in out.stdout  # the table
    md_rows = [line for line in out_md.read_text().splitlines() if line.startswith("| ") and "---" not in line]
    assert len(md_rows) == len(rows) + 1  # header + one row per figure
    assert {line.split(":")[0].lstrip("| ") for line in md_rows[1:]} == set(BENCHMARKS)


def test_unknown_benchmark_is_a_usage_error(cli):
    out = cli("bench", "nosuch")
    assert out.returncode == 2
    assert "Unknown benchmark" in out.stderr and "upsert" in out.stderr


def test_quick_bench_measures_postgres_beside_the_files(cli, tmp_path, pg_cluster):
    out_json = tmp_path / "bench.json"
    out = cli("bench", "upsert", "claims", "startup", "--backend", "all", "--quick", "--json", str(out_json),
              env={"CASPARIAN_HOME": str(tmp_path / "home"), "CASPARIAN_BENCH_PG_DSN": pg_cluster.dsn("postgres")},
              timeout=1200)  # a guard, not a bound
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out_json.read_text())
    backends = {(r["name"], r["backend"]) for r in rows}
    for name in ("upsert", "claims"):
        assert {(name, "duckdb"), (name, "sqlite"), (name, "postgres")} <= backends
    claims = next(r for r in rows if (r["name"], r["backend"]) == ("claims", "postgres"))
    assert "4 worker processes" in claims["what"] and "pgqueuer" in claims["note"] and "River" in claims["note"]
    assert not any(r["backend"] == "postgres" for r in rows if r["name"] == "startup")  # file-only benchmarks
    # the bench dropped the databases it made on the given server
    import psycopg

    with psycopg.connect(pg_cluster.dsn("postgres")) as con:
        left = con.execute("SELECT datname FROM pg_database WHERE datname LIKE 'cf_bench%'").fetchall()
    assert left == []
