"""A page of files is the plain ORDER BY's page, however it is fetched, on every backend.

`catalog.list_files` fetches path-ordered first pages source by source and a
page's tags, statuses and hashes in one statement; these tests hold both to
the straightforward queries they replace.
"""

from __future__ import annotations

import random

import pytest

from casparian_tui.scout import catalog
from casparian_tui.scout.hash_catalog import current_hashes
from casparian_tui.scout.pathcodec import encode_name
from casparian_tui.scout.patterns import compile_many

from scout_rows import add_files, add_source

FOLDERS = ["a", "B", "a/b", "ä", "_x", "%y", "Z9", ""]
NAMES = ["f1.csv", "F1.CSV", "f10.log", "f2.txt", "é.evtx", "z", "it's.csv", encode_name(b"caf\xe9.csv")]
TAGS = ["evtx", "keep", "Mixed"]


def _paths(rng: random.Random, n: int) -> list[str]:
    folders = (rng.choice(FOLDERS) if rng.random() < 0.9 else "" for _ in range(n))
    paths = sorted({f"{d}/{i % 7}{rng.choice(NAMES)}".lstrip("/") for i, d in enumerate(folders)})
    rng.shuffle(paths)  # rows stored out of path order, as a parallel walk stores them
    return paths


@pytest.fixture
def paged(db):
    rng = random.Random(7)

    def fill(conn):
        sources = [add_source(conn, name, f"/data/{name}") for name in ("one", "two", "empty", "four")]
        for sid, n in zip(sources, (300, 120, 0, 60)):
            paths = _paths(rng, n)
            if paths:
                deleted = [123 if rng.random() < 0.1 else None for _ in paths]
                add_files(conn, sid, paths, sizes=[rng.randrange(5) for _ in paths], deleted=deleted)
        ids = [r[0] for r in conn.query_all("SELECT id FROM scout_files ORDER BY id")]
        for fid in rng.sample(ids, 150):
            for tag in rng.sample(TAGS, rng.randrange(1, 3)):
                conn.execute("INSERT INTO scout_file_tags VALUES (?, ?, 'manual', NULL, 0)", (fid, tag))
        for fid in rng.sample(ids, 120):
            for _ in range(rng.randrange(1, 4)):
                conn.execute(
                    "INSERT INTO cf_processing_queue (file_id, parser_name, parser_version, parser_fingerprint,"
                    " status, created_at, updated_at) VALUES (?, ?, '1', 'fp', ?, 0, 0)",
                    (fid, rng.choice("pq"), rng.choice(["FAILED", "COMPLETED", "QUEUED", "RUNNING", "CANCELLED"])),
                )
        for fid, size, mtime in rng.sample(conn.query_all("SELECT id, size, mtime FROM scout_files"), 200):
            for algo in rng.sample(["sha256", "sha1", "md5"], rng.randrange(1, 3)):
                stale = rng.random() < 0.2  # a hash of an older version is never shown
                conn.execute(
                    "INSERT INTO scout_file_hashes VALUES (?, ?, ?, ?, ?, 0)",
                    (fid, algo, f"{algo}-{fid}", size + stale, mtime),
                )
        return sources, ids

    db.sources, db.ids = db.write("fill", fill)
    return db


def _random_filter(rng: random.Random, db) -> catalog.FileFilter:
    flt = catalog.FileFilter()
    if rng.random() < 0.3:
        flt.source_id = rng.choice(db.sources)
    if rng.random() < 0.2:
        flt.extensions = rng.sample(["csv", "log", "txt", "evtx"], rng.randrange(1, 3))
    if rng.random() < 0.2:
        flt.globs = compile_many([rng.choice(["a/**", "**/*.csv", "*", "!B/*", "%y/*"])])
    pick = rng.random()
    if pick < 0.15:
        flt.tag = rng.choice(TAGS)
    elif pick < 0.25:
        flt.untagged = True
    if rng.random() < 0.15:
        flt.statuses = rng.sample(catalog.FILE_STATUSES, rng.randrange(1, 3))
    if rng.random() < 0.1:
        flt.under = (rng.choice(db.sources), rng.choice(["a", "", "ä"]))
    if rng.random() < 0.1:
        flt.file_ids = rng.sample(db.ids, 40)
    if rng.random() < 0.05:
        flt.include_deleted = True
    return flt


def _plain_page(conn, flt, sort, descending, limit, offset) -> list[int]:
    where, params = flt.where(conn.dialect)
    d = " DESC" if descending else ""
    order = ", ".join(col + d for col in catalog.SORTS[sort])
    return [r[0] for r in conn.query_all(
        f"SELECT f.id FROM scout_files f WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset]
    )]


def test_pages_equal_the_plain_order_by_for_random_filters_and_offsets(paged):
    rng = random.Random(11)
    cases = [(catalog.FileFilter(), "path", desc, limit, offset)
             for desc in (False, True) for limit, offset in ((5, 0), (50, 0), (5, 280), (100, 250), (3, 2000), (0, 3), (5, 6000))]
    for _ in range(60):
        cases.append((_random_filter(rng, paged), rng.choice(["path"] * 4 + ["size", "mtime"]), rng.random() < 0.4,
                      rng.choice([1, 5, 50, 100, 400]), rng.choice([0, 0, 3, 40, 150, 260, 320, 600, 1200])))

    def check(conn):
        for flt, sort, desc, limit, offset in cases:
            got = [r["id"] for r in catalog.list_files(conn, flt, sort=sort, descending=desc, limit=limit, offset=offset)]
            want = _plain_page(conn, flt, sort, desc, limit, offset)
            assert got == want, (flt, sort, desc, limit, offset)
        return sum(1 for *_, limit, offset in cases if limit + offset)

    assert paged.read(check) > 50


class _Counting:
    """A connection that counts the statements it is asked to run."""

    def __init__(self, conn):
        self._conn, self.statements = conn, []

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def query_all(self, sql, params=()):
        self.statements.append(sql)
        return self._conn.query_all(sql, params)

    def query_dicts(self, sql, params=()):
        self.statements.append(sql)
        return self._conn.query_dicts(sql, params)


def test_a_first_page_with_hashes_takes_three_statements_and_reads_one_source(paged):
    def page(conn):
        counting = _Counting(conn)
        rows = catalog.list_files(counting, catalog.FileFilter(), limit=5, with_hashes=True)
        return rows, counting.statements

    rows, statements = paged.read(page)
    assert len(rows) == 5 and {r["source"] for r in rows} == {"one"}
    assert len(statements) == 3, statements  # the sources, source one's first five, their details
    assert "f.source_id = ?" in statements[1] and "ORDER BY f.rel_path LIMIT" in statements[1]


def test_page_details_equal_the_separate_lookups(paged):
    def both(conn):
        ids = paged.ids
        details = catalog.page_details(conn, ids, with_hashes=True)
        tags, statuses, hashes = catalog.tags_for(conn, ids), catalog.statuses_for(conn, ids), current_hashes(conn, ids)
        derived = dict(conn.query_all(f"SELECT f.id, {catalog.status_sql('f')} FROM scout_files f"))
        return details, tags, statuses, hashes, derived, catalog.page_details(conn, ids[:7])

    details, tags, statuses, hashes, derived, plain = paged.read(both)
    assert set(details) == set(paged.ids)
    for fid, d in details.items():
        algo, digest = hashes.get(fid, (None, None))
        assert d == {"status": statuses.get(fid, "pending"), "tags": tags.get(fid, []), "hash": digest,
                     "hash_algo": algo}, fid
        assert d["status"] == (derived[fid] or "pending"), fid  # the filter's status is the shown one
    assert {d["status"] for d in details.values()} == set(catalog.FILE_STATUSES)
    assert sum(d["hash"] is not None for d in details.values()) > 100
    assert sum(len(d["tags"]) > 1 for d in details.values()) > 10
    assert plain == {fid: {k: details[fid][k] for k in ("status", "tags")} for fid in paged.ids[:7]}
    assert paged.read(lambda c: catalog.page_details(c, [], with_hashes=True)) == {}
