"""The hash bench's inputs are the same every time, and its measurements run on tiny sizes."""

from __future__ import annotations

import hashlib

from casparian_tui.bench import hash_probe


def _digest_tree(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_corpus_and_hash_list_are_deterministic(tmp_path):
    a = hash_probe.hash_corpus(tmp_path / "a", 3)
    b = hash_probe.hash_corpus(tmp_path / "b", 3)
    assert _digest_tree(a) == _digest_tree(b)
    assert hash_probe.corpus_bytes(a) == 3 << 20
    lines = hash_probe.hash_list(tmp_path, 100).read_text().split()
    assert len(set(lines)) == 100 and all(len(h) == 64 for h in lines)


def test_measurements_run_on_tiny_inputs(tmp_path):
    root = hash_probe.hash_corpus(tmp_path / "cache", 2)
    (tmp_path / "scratch").mkdir()
    t = hash_probe.throughput(tmp_path / "scratch", "duckdb", root, 1)
    assert t["casparian_mb_s"][0] > 0 and t["sha256sum_mb_s"][0] > 0
    r = hash_probe.rescan_overhead(tmp_path / "scratch", "sqlite", root, 1)
    assert len(r["overhead_pct"]) == 1
    assert hash_probe.import_s(tmp_path / "scratch", "duckdb", hash_probe.hash_list(tmp_path, 50)) > 0
