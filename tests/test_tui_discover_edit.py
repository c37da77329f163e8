"""Discover keys that change rules and tags after the fact, and the file sort (Pilot, both backends)."""

import pytest
from textual.widgets import DataTable

from tui_support import SIZE, make_app, pilot_test, settle, tui_settings, wait_until


def cell_texts(table: DataTable, column) -> list[str]:
    return [str(table.get_cell(row_key, column)) for row_key in table.rows]


@pytest.fixture
def demo_app(tmp_path, backend, monkeypatch):
    return make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True)


def notified(app, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def focus_rule(pilot, tag: str) -> tuple[DataTable, int]:
    """Focus the Rules panel with its cursor on the first rule giving TAG; returns (table, rule id)."""
    table = pilot.app.screen.query_one("#rules-table", DataTable)
    table.focus()
    await pilot.pause()
    row = next(i for i, key in enumerate(table.rows) if str(table.get_row(key)[1]) == tag)
    table.move_cursor(row=row)
    await pilot.pause()
    return table, int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)


def rule_tags(app, rule_id: int) -> int:
    return app.db.query_value("SELECT count(*) FROM scout_file_tags WHERE rule_id = ?", (rule_id,))


@pilot_test
async def test_d_deletes_the_rule_under_the_cursor_after_asking(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table, rule_id = await focus_rule(pilot, "csv")
        assert table.show_cursor  # the panel shows where d and e act
        assert rule_tags(app, rule_id) > 0
        rules_before = table.row_count
        await pilot.press("d")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmDialog")
        await pilot.press("escape")  # cancel: nothing goes
        await settle(pilot)
        assert app.db.query_value("SELECT count(*) FROM scout_tagging_rules WHERE id = ?", (rule_id,)) == 1
        await pilot.press("d")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmDialog")
        await pilot.press("y")  # No has the focus: Enter would keep the rule
        await wait_until(pilot, lambda: app.db.query_value(
            "SELECT count(*) FROM scout_tagging_rules WHERE id = ?", (rule_id,)) == 0)
        await settle(pilot)
        assert rule_tags(app, rule_id) == 0
        assert app.screen.query_one("#rules-table", DataTable).row_count == rules_before - 1
        assert notified(app, "deleted")


@pilot_test
async def test_e_disables_then_enables_a_rule(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table, rule_id = await focus_rule(pilot, "csv")
        tagged = rule_tags(app, rule_id)
        assert tagged > 0
        await pilot.press("e")
        await wait_until(pilot, lambda: not app.db.query_value(
            "SELECT enabled FROM scout_tagging_rules WHERE id = ?", (rule_id,)))
        await settle(pilot)
        assert rule_tags(app, rule_id) == 0
        assert str(table.get_row(str(rule_id))[2]) == "off"
        files = app.screen.query_one("#files", DataTable)
        assert not any("csv" in t.split(", ") for t in cell_texts(files, "tags"))
        await pilot.press("e")
        await wait_until(pilot, lambda: rule_tags(app, rule_id) == tagged)
        await settle(pilot)
        assert str(table.get_row(str(rule_id))[2]) != "off"


@pilot_test
async def test_rule_keys_need_the_rules_panel(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        n_rules = app.db.query_value("SELECT count(*) FROM scout_tagging_rules")
        await pilot.press("d", "e")  # the file table has focus
        await settle(pilot)
        assert app.screen.__class__.__name__ == "DiscoverScreen"
        assert notified(app, "Tab to the Rules panel")
        assert app.db.query_value("SELECT count(*) FROM scout_tagging_rules WHERE enabled") == n_rules


@pilot_test
async def test_u_removes_a_tag_from_the_selected_files(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"csv", "enter")  # only csv files: each carries the csv tag
        await settle(pilot)
        await pilot.press("space", "space")
        chosen = set(app.screen.selected)
        assert len(chosen) == 2
        await pilot.press("u")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "UntagDialog")
        await pilot.press(*"nosuch", "enter")  # a tag they do not carry: an inline error
        await pilot.pause()
        assert app.screen.__class__.__name__ == "UntagDialog"
        app.screen.query_one("#tag").value = "csv"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.db.query_value(
            "SELECT count(*) FROM scout_file_untags WHERE tag = 'csv'") == 2)
        untagged = {r[0] for r in app.db.query_all("SELECT file_id FROM scout_file_untags WHERE tag = 'csv'")}
        assert untagged == chosen
        carried = {r[0] for r in app.db.query_all("SELECT file_id FROM scout_file_tags WHERE tag = 'csv'")}
        assert not carried & chosen
        await wait_until(pilot, lambda: notified(app, "Removed csv from 2 file(s)"))  # notified after the commit


@pilot_test
async def test_u_needs_a_selection(demo_app):
    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "DiscoverScreen"
        assert notified(app, "Select files with space first")


@pilot_test
async def test_o_cycles_the_sort_and_O_reverses_it(demo_app):
    from casparian_tui.scout import catalog

    app = demo_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        files = app.screen.query_one("#files", DataTable)

        def shown_ids() -> list[int]:
            return [int(k.value) for k in files.rows]

        def expected(sort, descending) -> list[int]:
            rows = app.db.read(lambda c: catalog.list_files(c, catalog.FileFilter.build(), sort=sort,
                                                            descending=descending, limit=100))
            return [r["id"] for r in rows]

        assert shown_ids() == expected("path", False)
        for sort, descending in (("size", True), ("mtime", True), ("path", False)):
            await pilot.press("o")
            await wait_until(pilot, lambda: shown_ids() == expected(sort, descending))
        await pilot.press("o", "O")  # size, smallest first
        await wait_until(pilot, lambda: shown_ids() == expected("size", False))
        assert "sorted by size ↑" in str(app.screen.query_one("#table-info").render())


@pilot_test
async def test_read_only_refuses_rule_and_untag_keys(tmp_path, backend, monkeypatch):
    app = make_app(tui_settings(tmp_path, backend, monkeypatch), demo=True, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await focus_rule(pilot, "csv")
        await pilot.press("d", "e")
        await pilot.press("tab")  # to the file table
        await pilot.press("space", "u")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "DiscoverScreen"
        for action in ("delete a rule", "enable or disable a rule", "untag files"):
            assert notified(app, f"Read-only: cannot {action}"), action
        assert app.db.query_value("SELECT count(*) FROM scout_tagging_rules WHERE NOT enabled") == 0
        await pilot.press("o")  # sorting writes nothing: allowed
        await wait_until(pilot, lambda: "sorted by size" in str(app.screen.query_one("#table-info").render()))


@pilot_test
async def test_enter_opens_the_file_detail_and_esc_closes_it(demo_app):
    from tui_support import seed_jobs

    app = demo_app
    job_ids = seed_jobs(app.db)
    file_id, rows_out = app.db.query_one(
        "SELECT file_id, rows_out FROM cf_processing_queue WHERE id = ?", (job_ids["completed"],))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")  # only csv files: the job's file is on the first page
        await pilot.pause()
        await pilot.press(*"csv", "enter")
        await settle(pilot)
        files = app.screen.query_one("#files", DataTable)
        row = next(i for i, key in enumerate(files.rows) if int(key.value) == file_id)
        files.move_cursor(row=row)
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "FileDetailScreen")
        shown = str(app.screen.query_one("#file-detail-text").render())
        rel = app.db.query_value("SELECT rel_path FROM scout_files WHERE id = ?", (file_id,))
        assert rel in shown
        assert "csv  rule" in shown and "**/*.csv" in shown  # the tag and the rule that gave it
        assert f"#{job_ids['completed']} csv_rows" in shown and f"{rows_out:,} rows" in shown
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "DiscoverScreen")
