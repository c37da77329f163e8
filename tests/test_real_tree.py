"""The real-shaped bench tree: exact size, same tree for the same seed, shape from the recipe."""

import os

from casparian_tui.bench import real_tree


def _listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_build_is_exact_and_deterministic(tmp_path):
    recipe = real_tree.load()
    real_tree.build(recipe, tmp_path / "a", 700, seed=3)
    real_tree.build(recipe, tmp_path / "b", 700, seed=3)
    a = _listing(tmp_path / "a")
    assert len(a) == 700 and a == _listing(tmp_path / "b")
    real_tree.build(recipe, tmp_path / "c", 700, seed=4)
    assert _listing(tmp_path / "c") != a


def test_record_measures_what_build_made(tmp_path):
    real_tree.build(real_tree.load(), tmp_path / "t", 500, seed=1)
    shape = real_tree.record(str(tmp_path / "t"))
    assert shape["files"] == 500
    assert shape["folders"] == sum(1 for _ in os.walk(tmp_path / "t"))
    assert sum(c for _, c in shape["extensions"]) == 500
    assert max(int(d) for d in shape["files_per_folder"]) >= 2  # not flat
