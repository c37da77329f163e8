"""Column layout for the terminal's width, and paths elided in the middle (no app needed)."""

from hypothesis import given, strategies as st
from rich.cells import cell_len

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
