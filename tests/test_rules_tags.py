"""Rules CRUD, apply_rules semantics, manual tags — on both backends."""

from __future__ import annotations

import pytest

from casparian_tui.errors import UsageError
from casparian_tui.scout import catalog, rules, tags

from scout_rows import add_files, add_source, ids_by_path

PATHS = ["a/x.log", "a/y.evtx", "b/z.log", "c.txt", "a/old.log"]


@pytest.fixture
def cat(db):
    def fill(conn):
        sid = add_source(conn)
        add_files(conn, sid, PATHS, deleted=[None, None, None, None, 5])
        return sid

    db.sid = db.write("fill", fill)
    return db


def tags_of(db) -> dict[str, list[tuple[str, str]]]:
    rows = db.query_all(
        "SELECT f.rel_path, t.tag, t.tag_source FROM scout_file_tags t JOIN scout_files f ON f.id = t.file_id ORDER BY 1, 2"
    )
    out: dict = {}
    for p, tag, src in rows:
        out.setdefault(p, []).append((tag, src))
    return out


def test_rule_crud(cat):
    r1 = cat.write("t", lambda c: rules.add_rule(c, "*.log", "log", name="logs"))
    r2 = cat.write("t", lambda c: rules.add_rule(c, "a/**", "a", priority=5))
    assert [r.id for r in cat.read(rules.list_rules)] == [r2.id, r1.id]  # priority first
    assert cat.read(lambda c: rules.find_rule(c, "logs")).id == r1.id
    assert cat.read(lambda c: rules.find_rule(c, str(r2.id))).id == r2.id
    with pytest.raises(UsageError):
        cat.write("t", lambda c: rules.add_rule(c, "*.log", "log"))  # duplicate
    with pytest.raises(UsageError):
        cat.write("t", lambda c: rules.add_rule(c, "x[", "bad"))  # invalid pattern
    with pytest.raises(UsageError):
        cat.write("t", lambda c: rules.add_rule(c, "*.x", "x", name="logs"))  # duplicate name
    cat.write("t", lambda c: rules.remove_rule(c, "logs"))
    with pytest.raises(rules.RuleNotFound):
        cat.read(lambda c: rules.find_rule(c, "logs"))


def test_tags_add_up_and_priority_only_credits_the_rule(cat):
    def setup(conn):
        rules.add_rule(conn, "*.log", "log")
        rules.add_rule(conn, "a/**", "in-a")
        rules.add_rule(conn, "a/*.evtx", "evtx", priority=3)
        rules.add_rule(conn, "**/*.evtx", "evtx")  # same tag again: one row, credited to the priority-3 rule
        return rules.apply_rules(conn)

    assert cat.write("t", setup) == 3
    got = tags_of(cat)
    assert got["a/x.log"] == [("in-a", "rule"), ("log", "rule")]
    assert got["a/y.evtx"] == [("evtx", "rule"), ("in-a", "rule")]
    assert got["b/z.log"] == [("log", "rule")]
    assert "c.txt" not in got and "a/old.log" not in got  # unmatched; deleted left alone
    credited = cat.query_all(
        "SELECT r.priority FROM scout_file_tags t JOIN scout_tagging_rules r ON r.id = t.rule_id WHERE t.tag = 'evtx'"
    )
    assert credited == [(3,)]


def test_disabled_rules_and_reapply_is_idempotent(cat):
    cat.write("t", lambda c: rules.add_rule(c, "*.log", "log"))
    cat.write("t", lambda c: rules.add_rule(c, "*", "any", priority=9, enabled=False))
    assert cat.write("t", rules.apply_rules) == 2
    first = tags_of(cat)
    assert cat.write("t", rules.apply_rules) == 2
    assert tags_of(cat) == first and first["a/x.log"] == [("log", "rule")]


def test_apply_rules_scopes(cat):
    cat.write("t", lambda c: rules.add_rule(c, "*", "all"))
    ids = cat.read(ids_by_path)
    assert cat.write("t", lambda c: rules.apply_rules(c, file_ids=[ids["c.txt"]])) == 1
    assert list(tags_of(cat)) == ["c.txt"]
    assert cat.write("t", lambda c: rules.apply_rules(c, source_id=cat.sid + 99)) == 0
    cat.execute("t", "UPDATE scout_files SET last_scan_id = 7 WHERE rel_path = 'b/z.log'")
    assert cat.write("t", lambda c: rules.apply_rules(c, scan_id=7)) == 1
    assert sorted(tags_of(cat)) == ["b/z.log", "c.txt"]


def test_manual_tags_add_and_untag_removes_one(cat):
    cat.write("t", lambda c: rules.add_rule(c, "*.log", "log"))
    cat.write("t", rules.apply_rules)
    n = cat.write("t", lambda c: tags.add_manual_tag(c, catalog.FileFilter.build(patterns=["a/*"]), "case42"))
    assert n == 2
    got = tags_of(cat)
    assert got["a/x.log"] == [("case42", "manual"), ("log", "rule")]  # the rule tag stays
    cat.write("t", rules.apply_rules)
    assert tags_of(cat)["a/x.log"] == [("case42", "manual"), ("log", "rule")]
    removed = cat.write("t", lambda c: tags.untag(c, catalog.FileFilter.build(patterns=["a/x.log"]), "log"))
    assert removed == 1
    cat.write("t", rules.apply_rules)  # the untag is remembered
    got = tags_of(cat)
    assert got["a/x.log"] == [("case42", "manual")] and got["b/z.log"] == [("log", "rule")]
    cat.write("t", lambda c: tags.reset_manual(c, catalog.FileFilter.build(patterns=["a/x.log"])))
    assert tags_of(cat)["a/x.log"] == [("log", "rule")]


def test_selection_by_real_path(cat, tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.log").write_text("x")

    def setup(conn):
        conn.execute("UPDATE scout_sources SET root = ? WHERE id = ?", (str(root), cat.sid))
        return tags.add_manual_tag(conn, tags.selection_filter(conn, str(root / "a")), "folder")

    assert cat.write("t", setup) == 2  # live files below a/ (a/old.log is deleted), not only those on disk
    assert cat.write("t", lambda c: tags.add_manual_tag(c, tags.selection_filter(c, str(root / "a" / "x.log")), "one")) == 1


def test_remove_rule_drops_its_tags(cat):
    r = cat.write("t", lambda c: rules.add_rule(c, "*.log", "log"))
    cat.write("t", rules.apply_rules)
    cat.write("t", lambda c: rules.remove_rule(c, r.id))
    assert tags_of(cat) == {}
