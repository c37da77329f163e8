"""Column layout for the terminal's width, and paths elided in the middle; then the same in the app."""

from hypothesis import given, strategies as st
from rich.cells import cell_len

from tui_support import pilot_test

from casparian_tui.scout.pathcodec import display_name, encode_name
from casparian_tui.tui.columns import Col, ColumnLayout, elide_middle, fit
from casparian_tui.tui.screens.file_table import FILE_COLUMNS, file_room


def test_a_path_that_fits_is_unchanged():
    assert elide_middle("logs/app.log", 12) == "logs/app.log"
    assert elide_middle("logs/app.log", 40) == "logs/app.log"


def test_the_middle_gives_way_and_the_file_name_stays():
    path = "var/lib/some/deeply/nested/folder/report-2026-01.csv"
    out = elide_middle(path, 30)
    assert out.endswith("/report-2026-01.csv") and out.startswith("var/") and "…" in out
    assert cell_len(out) <= 30


def test_a_name_too_long_keeps_its_start_and_its_extension():
    out = elide_middle("a/b/" + "x" * 40 + ".parquet", 20)
    assert cell_len(out) <= 20 and out.startswith("x") and out.endswith(".parquet") and "…" in out


def test_wide_characters_count_two_cells():
    path = "データ/報告書/四半期/売上高の集計.csv"
    for width in range(1, cell_len(path) + 1):
        out = elide_middle(path, width)
        assert cell_len(out) <= width
    out = elide_middle(path, 24)
    assert out.endswith("/売上高の集計.csv") and "…" in out


def test_an_undecodable_byte_is_never_cut_in_half():
    raw = b"caf\xe9/r\xe9sum\xe9s/" + b"\xfe" * 6 + b"\x07.txt"  # latin-1 bytes (not UTF-8), a control char
    shown = display_name(encode_name(raw))
    assert shown == "caf\\xe9/r\\xe9sum\\xe9s/" + "\\xfe" * 6 + "\\x07.txt"
    for width in range(1, len(shown) + 1):
        out = elide_middle(shown, width)
        assert cell_len(out) <= width
        # every backslash still starts a whole \xNN
        i = out.find("\\")
        while i != -1:
            assert out[i:i + 4][:2] == "\\x" and len(out[i:i + 4]) == 4, out
            i = out.find("\\", i + 1)


@given(st.text(min_size=0, max_size=60), st.integers(min_value=0, max_value=70))
def test_never_wider_than_asked(text, width):
    out = elide_middle(text, width)
    assert cell_len(out) <= max(width, 0)
    if cell_len(text) <= width:
        assert out == text


def test_fit_drops_optional_columns_least_useful_first_and_keeps_sizes_whole():
    narrow = fit(FILE_COLUMNS, file_room(80))
    assert [c.key for c, _w in narrow] == ["sel", "path", "tags", "size"]
    widths = dict((c.key, w) for c, w in narrow)
    assert widths["size"] >= len("1023.9 KiB") and widths["path"] >= 20 and widths["tags"] >= 8
    assert sum(w + 2 for w in widths.values()) <= file_room(80)

    wide = dict((c.key, w) for c, w in fit(FILE_COLUMNS, file_room(200)))
    assert set(wide) == {c.key for c in FILE_COLUMNS}
    assert wide["path"] > 70 and wide["size"] == 10
    assert sum(w + 2 for w in wide.values()) == file_room(200)  # the room is used


def test_caps_hand_the_rest_to_the_other_flexible_columns():
    cols = [Col("a", "a", 5, grow=1, cap=8), Col("b", "b", 5, grow=1)]
    assert [w for _c, w in fit(cols, 40, padding=0)] == [8, 32]


def test_cells_elide_only_path_columns():
    layout = ColumnLayout([Col("path", "path", 11, elide=True), Col("tags", "tags", 4)])
    layout.shown = fit(layout.cols, 15, padding=0)
    path, tags = layout.cells({"path": "abc/def/ghi/name.csv", "tags": "a, b, c"})
    assert str(path) == "a…/name.csv" and tags == "a, b, c"


def test_an_optional_column_gives_way_before_paths_get_short():
    at_130 = dict((c.key, w) for c, w in fit(FILE_COLUMNS, file_room(130)))
    assert "ext" not in at_130 and {"status", "mtime", "size"} <= set(at_130)
    assert at_130["path"] >= 36


# ---- in the app: the tables follow the terminal's width ---------------------------------------
@pilot_test
async def test_discover_and_jobs_refit_their_columns_when_the_terminal_is_resized(tmp_path, monkeypatch):
    from textual.widgets import DataTable

    from tui_support import make_app, seed_jobs, settle, tui_settings

    app = make_app(tui_settings(tmp_path, "duckdb", monkeypatch), demo=True)
    seed_jobs(app.db)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        files = app.screen.query_one("#files", DataTable)
        keys = lambda t: [c.key.value for c in t.ordered_columns]  # noqa: E731
        assert keys(files) == [c.key for c in FILE_COLUMNS]
        wide_paths = [str(files.get_cell(k, "path")) for k in files.rows]
        assert all("…" not in p for p in wide_paths)

        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        assert keys(files) == ["sel", "path", "tags", "size"]
        width = dict((c.key.value, c.width) for c in files.ordered_columns)
        narrow_paths = [str(files.get_cell(k, "path")) for k in files.rows]
        assert len(narrow_paths) == len(wide_paths)
        for wide, narrow in zip(wide_paths, narrow_paths):
            assert cell_len(narrow) <= width["path"] and narrow.endswith(wide.rsplit("/", 1)[-1])
        assert any("…" in p for p in narrow_paths)

        await pilot.press("2")  # Jobs, first shown at 80 columns: every file cell ends with its file name
        await settle(pilot)
        jobs = app.screen.query_one("#jobs-table", DataTable)
        names = [str(jobs.get_cell(k, "file")) for k in jobs.rows]
        assert names and all(n.endswith(".csv") for n in names)
        await pilot.resize_terminal(200, 50)
        await settle(pilot)
        assert "tries" in keys(jobs) and all(str(jobs.get_cell(k, "file")).startswith("~/") for k in jobs.rows)
