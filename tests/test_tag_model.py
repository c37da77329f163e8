"""The tag model, on both backends: tags add up (every enabled matching rule
plus manual tags), an untag removes one tag from one file and is remembered,
priorities never hide a tag. Checked against a model under random sequences
of rule and tag operations, through a migration, and through scans that die.
"""

from __future__ import annotations

import pytest

from conftest import FILE_BACKENDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casparian_tui.db import Database
from casparian_tui.db.migrate import migrate
from casparian_tui.db.schema import LATEST_VERSION
from casparian_tui.scout import catalog, rules, scanner, tags
from casparian_tui.scout.sources import add_source as add_real_source
from casparian_tui.scout.testtree import make_tree

from scout_rows import add_files, add_source, ids_by_path
from test_migrations import raw_connection

FILES = ["a/x.log", "a/y.evtx", "b/z.log", "c.txt"]
# Each pattern with the files it matches, written by hand (not by the product's matcher).
PATTERNS = {
    "*.log": {"a/x.log", "b/z.log"},
    "a/**": {"a/x.log", "a/y.evtx"},
    "*": set(FILES),
    "*.evtx": {"a/y.evtx"},
    "nothing/*": set(),
}
TAGS = ["log", "a", "evtx", "keep"]


class Model:
    def __init__(self):
        self.rules: dict[tuple[str, str], dict] = {}  # (pattern, tag) -> {"enabled", "priority"}
        self.manual: set[tuple[str, str]] = set()
        self.untags: set[tuple[str, str]] = set()

    def effective(self, f: str) -> set[str]:
        by_rule = {t for (p, t), r in self.rules.items() if r["enabled"] and f in PATTERNS[p]}
        return {t for (g, t) in self.manual if g == f} | {t for t in by_rule if (f, t) not in self.untags}

    def all(self) -> dict[str, set[str]]:
        return {f: self.effective(f) for f in FILES}


op = st.one_of(
    st.tuples(st.just("rule"), st.sampled_from(list(PATTERNS)), st.sampled_from(TAGS), st.integers(-2, 2)),
    st.tuples(st.just("unrule"), st.sampled_from(list(PATTERNS)), st.sampled_from(TAGS)),
    st.tuples(st.just("toggle"), st.sampled_from(list(PATTERNS)), st.sampled_from(TAGS)),
    st.tuples(st.just("tag"), st.sampled_from(FILES), st.sampled_from(TAGS)),
    st.tuples(st.just("untag"), st.sampled_from(FILES), st.sampled_from(TAGS)),
    st.tuples(st.just("reset"), st.sampled_from(FILES)),
    st.tuples(st.just("rescan"), st.sampled_from(FILES)),
)


def _apply(conn, model: Model, step: tuple) -> None:
    kind = step[0]
    ids = ids_by_path(conn)
    one = lambda f: catalog.FileFilter(file_ids=[ids[f]])  # noqa: E731
    if kind == "rule":
        _, pattern, tag, prio = step
        if (pattern, tag) in model.rules:
            return
        rules.add_rule(conn, pattern, tag, priority=prio)
        rules.apply_rules(conn)
        model.rules[(pattern, tag)] = {"enabled": True, "priority": prio}
    elif kind in ("unrule", "toggle"):
        _, pattern, tag = step
        if (pattern, tag) not in model.rules:
            return
        rid = conn.query_value("SELECT id FROM scout_tagging_rules WHERE pattern = ? AND tag = ?", (pattern, tag))
        if kind == "unrule":
            rules.remove_rule(conn, rid)
            del model.rules[(pattern, tag)]
        else:
            r = model.rules[(pattern, tag)]
            r["enabled"] = not r["enabled"]
            rules.set_enabled(conn, rid, r["enabled"])
        rules.apply_rules(conn)
    elif kind == "tag":
        _, f, tag = step
        tags.add_manual_tag(conn, one(f), tag)
        model.untags.discard((f, tag))
        model.manual.add((f, tag))
    elif kind == "untag":
        _, f, tag = step
        carried = tag in model.effective(f)
        assert tags.untag(conn, one(f), tag) == int(carried)
        if carried:
            model.manual.discard((f, tag))
            model.untags.add((f, tag))
    elif kind == "reset":
        _, f = step
        tags.reset_manual(conn, one(f))
        model.manual = {m for m in model.manual if m[0] != f}
        model.untags = {u for u in model.untags if u[0] != f}
    else:  # a rescan that found the file changed re-applies the rules to it alone
        rules.apply_rules(conn, file_ids=[ids[step[1]]])


def _tags(conn) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {f: set() for f in FILES}
    for path, tag in conn.query_all(
        "SELECT f.rel_path, t.tag FROM scout_file_tags t JOIN scout_files f ON f.id = t.file_id"
    ):
        out[path].add(tag)
    return out


@pytest.fixture
def fresh(db):
    def fill(conn):
        add_files(conn, add_source(conn), FILES)

    db.write("fill", fill)
    return db


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(op, max_size=14))
def test_any_sequence_of_rules_tags_and_untags_gives_the_documented_tags(fresh, steps):
    def run(conn):
        for table in ("scout_file_tags", "scout_file_untags", "scout_tagging_rules"):
            conn.execute(f"DELETE FROM {table}")
        model = Model()
        for i, step in enumerate(steps):
            _apply(conn, model, step)
            assert _tags(conn) == model.all(), (i, step)
        # Whatever happened, re-applying every rule changes nothing.
        rules.apply_rules(conn)
        assert _tags(conn) == model.all()

    fresh.write("model", run)


def test_a_manual_tag_keeps_the_rule_tag_and_a_low_priority_rule_still_tags(fresh):
    def run(conn):
        rules.add_rule(conn, "*", "all", priority=10)
        low = rules.add_rule(conn, "*.log", "log", priority=0)
        rules.apply_rules(conn)
        tags.add_manual_tag(conn, catalog.FileFilter.build(patterns=["b/z.log"]), "evidence")
        return rules.count_matches(conn, low), _tags(conn)

    matched, got = fresh.write("t", run)
    assert matched == 2
    assert got["b/z.log"] == {"all", "log", "evidence"}
    assert fresh.read(lambda c: catalog.list_files(c, catalog.FileFilter.build(tag="evidence")))[0]["tags"] == [
        "all", "evidence", "log"
    ]


# PostgreSQL catalogs begin at a schema that already has additive tags: no old one exists.
@pytest.mark.parametrize("backend", FILE_BACKENDS)
def test_migration_moves_an_old_catalog_to_additive_tags(settings):
    conn = raw_connection(settings)
    conn.prepare_new()
    migrate(conn, target=3)
    sid = add_source(conn)
    add_files(conn, sid, FILES)
    ids = ids_by_path(conn)
    conn.execute(
        "INSERT INTO scout_tagging_rules (pattern, tag, priority, enabled, created_at) VALUES "
        "('*.log', 'log', 5, TRUE, 0), ('a/**', 'a', 0, TRUE, 0)"
    )
    # The old model: one winning rule tag per file, none on manually tagged files.
    conn.execute("INSERT INTO scout_file_tags VALUES (?, 'evidence', 'manual', NULL, 0)", (ids["a/x.log"],))
    conn.execute("INSERT INTO scout_file_tags VALUES (?, 'log', 'rule', 1, 0)", (ids["b/z.log"],))
    conn.execute("INSERT INTO scout_file_tags VALUES (?, 'a', 'rule', 2, 0)", (ids["a/y.evtx"],))
    conn.close()

    with Database(settings) as db:
        assert db.read(lambda c: c.query_value("SELECT max(version) FROM cf_schema_version")) == LATEST_VERSION
        got = db.read(_tags)
    assert got == {"a/x.log": {"evidence", "log", "a"}, "a/y.evtx": {"a"}, "b/z.log": {"log"}, "c.txt": set()}


def _untagged_live(conn) -> int:
    return conn.query_value(
        "SELECT count(*) FROM scout_files f WHERE f.deleted_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM scout_file_tags t WHERE t.file_id = f.id AND t.tag = 'any')"
    )


def test_files_committed_by_a_scan_that_failed_are_tagged(db, tmp_path, monkeypatch):
    root = tmp_path / "tree"
    make_tree(root, 300, seed=3, depth=1, files_per_dir=50)
    db.write("rule", lambda c: rules.add_rule(c, "*", "any"))
    src = add_real_source(db, root)
    real = scanner.upsert_files
    calls = []

    def dies_on_the_third_batch(conn, source_id, scan_id, now, batch, *args, **kwargs):
        calls.append(batch.num_rows)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(conn, source_id, scan_id, now, batch, *args, **kwargs)

    monkeypatch.setattr(scanner, "upsert_files", dies_on_the_third_batch)
    with pytest.raises(OSError):
        scanner.Scanner(db, src, batch_rows=50).run()
    committed = db.query_value("SELECT count(*) FROM scout_files")
    assert len(calls) == 3 and committed == sum(calls[:2]) > 0  # the two batches before the failure, whole
    assert db.read(_untagged_live) == 0  # every committed row carries its tag already
    monkeypatch.setattr(scanner, "upsert_files", real)
    assert scanner.Scanner(db, src, batch_rows=50).run().status == "completed"
    assert db.query_value("SELECT count(*) FROM scout_files") == 300
    assert db.read(_untagged_live) == 0


def test_an_untag_survives_a_rescan_of_a_changed_file_and_a_rename(db, tmp_path):
    root = tmp_path / "tree"
    (root / "d").mkdir(parents=True)
    (root / "d" / "one.log").write_text("1")
    (root / "d" / "two.log").write_text("2")
    db.write("rule", lambda c: rules.add_rule(c, "*.log", "log"))
    src = add_real_source(db, root)
    scanner.Scanner(db, src).run()
    db.write("untag", lambda c: tags.untag(c, tags.selection_filter(c, str(root / "d" / "one.log")), "log"))
    (root / "d" / "one.log").write_text("grown")
    (root / "d" / "two.log").rename(root / "d" / "three.log")
    result = scanner.Scanner(db, src).run()
    assert result.renamed == 1
    got = dict(
        db.query_all(
            "SELECT f.rel_path, t.tag FROM scout_files f LEFT JOIN scout_file_tags t ON t.file_id = f.id "
            "WHERE f.deleted_at IS NULL"
        )
    )
    assert got == {"d/one.log": None, "d/three.log": "log"}
