"""Catalog queries and the pattern preview, on both backends."""

from __future__ import annotations

import pytest

from casparian_tui.errors import UsageError
from casparian_tui.scout import catalog, preview, rules
from casparian_tui.scout.pathcodec import encode_name

from scout_rows import add_files, add_source

PATHS = ["b/2.csv", "a/1.log", "a/x/3.CSV", "c.txt", "100%_done.csv", "gone.csv"]


@pytest.fixture
def filled(db):
    def fill(conn):
        s1 = add_source(conn, "one", "/data/one")
        s2 = add_source(conn, "two", "/data/two/")
        add_files(
            conn, s1, PATHS, sizes=[50, 10, 30, 20, 40, 99], statuses=["pending", "done", "pending", "pending", "done", "pending"],
            deleted=[None, None, None, None, None, 123],
        )
        add_files(conn, s2, ["z.csv", encode_name(b"caf\xe9.csv")])
        for path in ("a/1.log", "100%_done.csv"):  # a completed job: these two are processed
            add_job(conn, path, "p", "COMPLETED")
        return s1, s2

    db.sources = db.write("fill", fill)
    return db


def add_job(conn, rel_path: str, parser: str, status: str) -> None:
    fid = conn.query_value("SELECT id FROM scout_files WHERE rel_path = ?", (rel_path,))
    conn.execute(
        "INSERT INTO cf_processing_queue (file_id, parser_name, parser_version, parser_fingerprint, status,"
        " created_at, updated_at) VALUES (?, ?, '1', 'fp', ?, 0, 0)",
        (fid, parser, status),
    )


def test_status_is_derived_from_the_latest_job_per_parser(filled):
    def jobs(conn):
        add_job(conn, "b/2.csv", "p", "FAILED")
        add_job(conn, "b/2.csv", "p", "COMPLETED")  # a later success of the same parser clears the failure
        add_job(conn, "c.txt", "p", "COMPLETED")
        add_job(conn, "c.txt", "q", "FAILED")  # another parser failed on it: failed
        add_job(conn, "z.csv", "p", "RUNNING")
        add_job(conn, "a/x/3.CSV", "p", "CANCELLED")

    filled.write("jobs", jobs)
    got = {r["rel_path"]: r["status"] for r in q(filled)}
    assert got == {
        "100%_done.csv": "processed", "a/1.log": "processed", "a/x/3.CSV": "pending", "b/2.csv": "processed",
        "c.txt": "failed", "caf\\xe9.csv": "pending", "z.csv": "queued",
    }
    for status in catalog.FILE_STATUSES:
        assert sorted(r["rel_path"] for r in q(filled, statuses=[status])) == sorted(
            p for p, st in got.items() if st == status
        ), status
    with pytest.raises(UsageError, match="Unknown status 'bogus'"):
        q(filled, statuses=["bogus"])


def q(db, **kw):
    sort = kw.pop("sort", "path")
    limit = kw.pop("limit", 50)
    offset = kw.pop("offset", 0)
    desc = kw.pop("descending", False)
    flt = kw.pop("flt", None) or catalog.FileFilter.build(**kw)
    return db.read(lambda c: catalog.list_files(c, flt, sort=sort, limit=limit, offset=offset, descending=desc))


def test_default_listing_excludes_deleted_and_sorts_by_path(filled):
    rows = q(filled)
    assert [r["rel_path"] for r in rows] == ["100%_done.csv", "a/1.log", "a/x/3.CSV", "b/2.csv", "c.txt", "caf\\xe9.csv", "z.csv"]
    assert set(rows[0]) == {"id", "source", "path", "rel_path", "size", "mtime", "extension", "status", "tags"}
    assert rows[0]["path"] == "/data/one/100%_done.csv"
    assert rows[-1]["path"] == "/data/two/z.csv"  # no double slash


def test_filters_combine(filled):
    assert [r["rel_path"] for r in q(filled, extensions=[".CSV"], statuses=["pending"])] == ["a/x/3.CSV", "b/2.csv", "caf\\xe9.csv", "z.csv"]
    assert [r["rel_path"] for r in q(filled, patterns=["a/**"])] == ["a/1.log", "a/x/3.CSV"]
    assert [r["rel_path"] for r in q(filled, patterns=["*.csv", "!b/*"], source_id=filled.sources[0])] == ["100%_done.csv", "a/x/3.CSV"]
    assert [r["rel_path"] for r in q(filled, patterns=["*%*"])] == ["100%_done.csv"]  # '%' is literal


def test_sort_and_paging(filled):
    sizes = [r["size"] for r in q(filled, sort="size", descending=True)]
    assert sizes == sorted(sizes, reverse=True)
    page1 = q(filled, limit=3)
    page2 = q(filled, limit=3, offset=3)
    assert len(page1) == 3 and not {r["id"] for r in page1} & {r["id"] for r in page2}
    assert filled.read(lambda c: catalog.count_files(c, catalog.FileFilter())) == 7
    with pytest.raises(UsageError):
        q(filled, sort="color")


def test_tag_and_untagged_filters(filled):
    def tag(conn):
        rules.add_rule(conn, "*.log", "logs")
        rules.apply_rules(conn)

    filled.write("t", tag)
    assert [r["rel_path"] for r in q(filled, tag="logs")] == ["a/1.log"]
    assert q(filled, tag="logs")[0]["tags"] == ["logs"]
    assert "a/1.log" not in [r["rel_path"] for r in q(filled, untagged=True)]
    with pytest.raises(UsageError):
        catalog.FileFilter.build(tag="x", untagged=True)


def test_resolve_source_and_locate_path(filled, tmp_path):
    assert filled.read(lambda c: catalog.resolve_source(c, "two"))["id"] == filled.sources[1]
    with pytest.raises(catalog.SourceNotFound):
        filled.read(lambda c: catalog.resolve_source(c, "nope"))
    assert filled.read(lambda c: catalog.locate_path(c, "/data/one/a/x")) == (filled.sources[0], "a/x")
    with pytest.raises(UsageError):
        filled.read(lambda c: catalog.locate_path(c, str(tmp_path)))


def test_preview_counts_sample_and_histograms(filled):
    pv = filled.read(lambda c: preview.preview(c, "*.csv"))
    assert pv.count == 5  # deleted gone.csv excluded; 3.CSV matches case-insensitively
    assert pv.sample == sorted(pv.sample) and len(pv.sample) == 5
    assert pv.by_extension == {"csv": 5}
    assert pv.by_folder == {".": 3, "a/x": 1, "b": 1}
    assert set(pv.to_json()) == {"pattern", "count", "sample", "by_extension", "by_folder"}


def test_preview_sample_is_capped_and_source_filter_works(db):
    def fill(conn):
        sid = add_source(conn)
        add_files(conn, sid, [f"d{i % 3}/f{i:03}.log" for i in range(45)])
        other = add_source(conn, "other", "/o")
        add_files(conn, other, ["x.log"])
        return sid

    sid = db.write("fill", fill)
    pv = db.read(lambda c: preview.preview(c, "*.log", source_id=sid))
    assert pv.count == 45 and len(pv.sample) == 20 and pv.sample[0] == "d0/f000.log"
    assert pv.by_folder == {"d0": 15, "d1": 15, "d2": 15}
    with pytest.raises(UsageError):
        db.read(lambda c: preview.preview(c, "[oops"))
