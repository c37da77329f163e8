"""Discover's frequency table: how the files a filter selects spread over a column (every backend)."""

from __future__ import annotations

import pytest

from casparian_tui.errors import UsageError
from casparian_tui.scout.catalog import FileFilter
from casparian_tui.scout.file_frequency import UNTAGGED, file_frequency
from casparian_tui.scout.pathcodec import encode_name

from scout_rows import add_files, add_source

PATHS = ["a/1.csv", "a/2.csv", "a/3.log", "b/4.csv", "5.txt", encode_name(b"caf\xe9/6.csv")]


@pytest.fixture
def files(db):
    def fill(conn):
        sid = add_source(conn, "src", "/data/src")
        add_files(conn, sid, PATHS, sizes=[10, 10, 10, 20, 30, 10])
        ids = dict(conn.query_all("SELECT rel_path, id FROM scout_files"))
        for path, tag in (("a/1.csv", "csv"), ("a/2.csv", "csv"), ("b/4.csv", "csv"), ("a/1.csv", "keep")):
            conn.execute("INSERT INTO scout_file_tags (file_id, tag, tag_source, created_at) VALUES (?, ?, 'manual', 0)",
                         (ids[path], tag))
        return sid

    db.write("fill", fill)
    return db


def freq(db, column, flt=None, **kw):
    return db.read(lambda c: file_frequency(c, flt or FileFilter(), column, **kw))


def test_counts_by_extension_folder_size_and_status(files):
    ext = freq(files, "ext")
    assert (ext.column, ext.total, ext.distinct) == ("extension", 6, 3)
    assert [(v, n) for v, n, _ in ext.rows] == [("csv", 4), ("log", 1), ("txt", 1)]
    assert ext.rows[0][2] == pytest.approx(100 * 4 / 6)
    folders = freq(files, "path")
    assert folders.column == "folder"
    assert folders.rows[0][:2] == ("a", 3)
    assert {v: n for v, n, _ in folders.rows[1:]} == {"(top folder)": 1, "b": 1, "caf\\xe9": 1}
    assert [(v, n) for v, n, _ in freq(files, "size").rows] == [(10, 4), (20, 1), (30, 1)]
    assert [(v, n) for v, n, _ in freq(files, "status").rows] == [("pending", 6)]


def test_tags_count_files_per_tag_and_the_untagged(files):
    tags = freq(files, "tags")
    assert {v: n for v, n, _ in tags.rows} == {"csv": 3, UNTAGGED: 3, "keep": 1}  # ties: the collation orders them
    assert [n for _, n, _ in tags.rows] == [3, 3, 1]
    assert tags.total == 6 and tags.distinct == 3


def test_follows_the_filter_and_the_limit(files):
    only_csv = FileFilter(extensions=["csv"])
    by_folder = freq(files, "path", only_csv).rows
    assert by_folder[0][:2] == ("a", 2) and {v: n for v, n, _ in by_folder[1:]} == {"b": 1, "caf\\xe9": 1}
    top = freq(files, "path", only_csv, limit=1)
    assert top.rows == [("a", 2, pytest.approx(50.0))] and top.distinct == 3 and top.total == 4
    nothing = freq(files, "ext", FileFilter(extensions=["nosuch"]))
    assert (nothing.rows, nothing.total, nothing.distinct) == ([], 0, 0)


def test_an_unknown_column_is_a_usage_error(files):
    with pytest.raises(UsageError):
        freq(files, "mtime")
