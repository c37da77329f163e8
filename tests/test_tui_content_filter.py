"""Discover's content filter (`c`): duplicates, hash-set membership, changed in last scan (Pilot, both backends)."""

from __future__ import annotations

import hashlib
import os

from textual.widgets import DataTable, Static

from casparian_tui.scout import hashsets
from casparian_tui.scout.hashing import hash_source
from casparian_tui.scout.scanner import Scanner
from casparian_tui.scout.sources import add_source
from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


def _write(path, data: bytes, mtime_s: int) -> None:
    path.write_bytes(data)
    os.utime(path, (mtime_s, mtime_s))


def _paths(app) -> set[str]:
    table = _discover(app).query_one("#files", DataTable)
    return {str(table.get_cell(k, "path")) for k in table.rows}


async def _choose(pilot, app, downs: int, set_name: str | None = None, *, closes: bool = True) -> None:
    """Open the dialog, move from the first choice down to the n-th, press it, (type a set name), apply."""
    await pilot.press("c")
    await wait_until(pilot, lambda: app.screen.query("#content-kind"))
    await pilot.press(*(["down"] * downs), "enter")
    if set_name is not None:
        app.screen.query_one("#set-name").value = set_name
    dialog = app.screen
    dialog.query_one("#ok").press()
    if closes:
        await wait_until(pilot, lambda: app.screen is not dialog)


def _discover(app):
    from casparian_tui.tui.screens.discover import DiscoverScreen

    return next(s for s in app.screen_stack if isinstance(s, DiscoverScreen))

@pilot_test
async def test_content_filters_narrow_the_file_table(tmp_path, backend, monkeypatch):
    settings = tui_settings(tmp_path, backend, monkeypatch)
    root = tmp_path / "ev"
    root.mkdir()
    _write(root / "a.txt", b"same", 1_600_000_000)
    _write(root / "b.txt", b"same", 1_600_000_000)
    _write(root / "bad.bin", b"evil", 1_600_000_000)
    _write(root / "c.txt", b"unique", 1_600_000_000)
    app = make_app(settings)
    db = app.db
    src = add_source(db, root)
    Scanner(db, src).run()
    hash_source(db, src, "sha256")
    bad = hashlib.sha256(b"evil").hexdigest()
    import pyarrow as pa

    db.write("import", lambda c: hashsets.import_set(c, "known-bad", pa.array([bad])))
    # a second scan: c.txt changed, d.txt is new, the rest untouched
    _write(root / "c.txt", b"changed!", 1_700_000_000)
    _write(root / "d.txt", b"new", 1_700_000_000)
    Scanner(db, src).run()

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        info = app.screen.query_one("#table-info", Static)
        assert _paths(app) == {"a.txt", "b.txt", "bad.bin", "c.txt", "d.txt"}

        await _choose(pilot, app, 1)  # duplicates
        await wait_until(pilot, lambda: _paths(app) == {"a.txt", "b.txt"})
        assert "duplicates" in str(info.render())

        await _choose(pilot, app, 2, "known-bad")  # in hash set
        await wait_until(pilot, lambda: _paths(app) == {"bad.bin"})
        assert "in hash set known-bad" in str(info.render())

        await _choose(pilot, app, 3, "known-bad")  # not in
        await wait_until(pilot, lambda: _paths(app) == {"a.txt", "b.txt", "c.txt", "d.txt"})

        await _choose(pilot, app, 4)  # changed in last scan
        await wait_until(pilot, lambda: _paths(app) == {"c.txt", "d.txt"})
        assert "changed in last scan" in str(info.render())

        await _choose(pilot, app, 0)  # any content
        await wait_until(pilot, lambda: len(_paths(app)) == 5)
        assert "changed" not in str(info.render())


@pilot_test
async def test_unknown_hash_set_is_an_inline_error(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await _choose(pilot, app, 2, "nope", closes=False)
        await wait_until(pilot, lambda: "No hash set named 'nope'" in str(app.screen.query_one("#dialog-error", Static).render()))
        await pilot.press("escape")
        await settle(pilot)
        assert _discover(app).content.kind == ""
