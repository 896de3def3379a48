"""A key redraws the form rows it changed, not every row.

Each coding key saves the focused field and moves the cursor: two rows change (the coded one and
the next), and the coded one changes again when its save is confirmed. The screen repaints the
bounding box of all that changed (the form title, the panel, the rows between), so a paint covers
most of the form: with a widget per row each paint asked every row widget in that box for its
lines (its styles, its cache, its strips: ~80% of a key's UI time on 100k notes). Counted here:
the widgets asked for lines per paint, and the rows drawn anew (Textual's ``Visual.to_strips``)
against the changes of the rows' state.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest
from textual.geometry import Region
from textual.scrollbar import ScrollBar
from textual.visual import Visual
from textual.widget import Widget

from chartcode.tui.widgets.coding_form import CodingForm, FieldRow
from tests.tui.conftest import make_app, run, settle


def _in_form_rows(widget, rows) -> bool:
    """The rows' widget or a row of it (not its scrollbar, redrawn when it moves)."""
    return widget is rows or (rows in widget.ancestors and not isinstance(widget, ScrollBar))


def _count_row_renders(monkeypatch, rows) -> list[object]:
    """Every render of a form row (one widget per row, or the rows' one widget) from now on."""
    rendered: list[object] = []
    to_strips = Visual.to_strips.__func__

    def counted(cls, widget, *args, **kwargs):
        if _in_form_rows(widget, rows):
            rendered.append(widget)
        return to_strips(cls, widget, *args, **kwargs)

    monkeypatch.setattr(Visual, "to_strips", classmethod(counted))
    return rendered


def _count_paints(monkeypatch, screen, rows) -> tuple[list[int], list[object]]:
    """The screen's paints, and every widget of the form rows asked for its lines in them."""
    paints = [0]
    asked: list[object] = []
    paint = screen._compositor_refresh

    def counted_paint(*args, **kwargs):
        paints[0] += 1
        return paint(*args, **kwargs)

    render_lines = Widget.render_lines

    def counted_lines(self, crop):
        if _in_form_rows(self, rows):
            asked.append(self)
        return render_lines(self, crop)

    monkeypatch.setattr(screen, "_compositor_refresh", counted_paint)
    monkeypatch.setattr(Widget, "render_lines", counted_lines)
    return paints, asked


def _count_row_changes(monkeypatch) -> list[int]:
    changes = [0]
    set_state = FieldRow.set_state

    def counted(self, *args, **kwargs):
        changed = set_state(self, *args, **kwargs)
        changes[0] += bool(changed)
        return changed

    monkeypatch.setattr(FieldRow, "set_state", counted)
    return changes


def test_a_coding_key_renders_only_the_rows_it_changed(demo_db, monkeypatch):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await settle(pilot)
            rows = screen.query_one("#form-rows")
            form = screen.query_one(CodingForm)
            assert len(form.rows) >= 10  # a form with many rows on screen
            rendered = _count_row_renders(monkeypatch, rows)
            changes = _count_row_changes(monkeypatch)
            for key in ("3", "1"):  # two choice fields: each saved, the cursor moved on
                before = screen.cursor
                await pilot.press(key)
                await settle(pilot)
                assert screen.cursor != before
            assert changes[0] >= 4  # coded row and next row, twice
            # at most one render per change of a row; the rows that did not change: none
            assert 0 < len(rendered) <= changes[0], (len(rendered), changes[0])

    run(go())


def test_a_paint_of_the_form_asks_one_widget_for_all_its_rows(demo_db, monkeypatch):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await settle(pilot)
            rows = screen.query_one("#form-rows")
            paints, asked = _count_paints(monkeypatch, screen, rows)
            for key in ("3", "1", "tab", "shift+tab"):
                await pilot.press(key)
                await settle(pilot)
            assert paints[0] >= 4
            # one widget (the rows' own) per paint that covers the form, never one per row
            assert 0 < len(asked) <= paints[0], (len(asked), paints[0])
            assert set(asked) == {rows}

    run(go())


def test_moving_the_cursor_renders_the_two_rows_it_leaves_and_enters(demo_db, monkeypatch):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await settle(pilot)
            rows = screen.query_one("#form-rows")
            rendered = _count_row_renders(monkeypatch, rows)
            await pilot.press("tab")
            await pilot.pause()
            await pilot.pause()
            assert 1 <= len(rendered) <= 2, len(rendered)

    run(go())


@pytest.mark.skipif(
    int(version("textual").split(".")[0]) < 8,
    reason="measured on Textual 8: Textual 3.4 (the floor) draws every line of the scrolled widget again",
)
def test_scrolling_the_rows_draws_only_the_rows_it_brings_into_view(demo_db, monkeypatch):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await settle(pilot)
            rows = screen.query_one("#form-rows")
            assert rows.scroll_y == 0 and rows.max_scroll_y > 0  # more rows than fit
            rendered = _count_row_renders(monkeypatch, rows)
            changes = _count_row_changes(monkeypatch)
            screen.move_cursor(len(screen.view.slots) - 1)  # the last row: scrolled to the bottom
            await pilot.pause()
            await pilot.pause()
            scrolled = round(rows.scroll_y)
            assert scrolled > 0
            # the rows the scroll brought in, and the two the cursor changed; the rest are kept
            assert 0 < len(rendered) <= scrolled + changes[0], (len(rendered), scrolled, changes[0])

    run(go())


def test_a_new_theme_redraws_the_rows_in_its_colours(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await settle(pilot)
            focused = screen.query_one(CodingForm).rows[screen.cursor]
            rows = screen.query_one("#form-rows")

            def row_background():
                y = focused.region.y - rows.scrollable_content_region.y
                (line,) = rows.render_lines(Region(0, y, rows.size.width, 1))
                return {s.style.bgcolor for s in line if s.style is not None}

            dark = row_background()
            pilot.app.theme = "textual-light"
            await pilot.pause()
            await pilot.pause()
            assert row_background() != dark

    run(go())


def test_rows_are_cut_to_the_width_after_a_resize(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(160, 40)) as pilot:
            screen = pilot.app.coding_screen
            await settle(pilot)
            form = screen.query_one(CodingForm)
            row = form.rows[0]
            wide = row.region.width
            await pilot.resize_terminal(120, 40)
            await pilot.pause()
            await pilot.pause()
            narrow = row.region.width
            assert narrow < wide
            assert len(str(row.render()).rstrip()) <= narrow
            assert row.region.width == screen.query_one("#form-rows").scrollable_content_region.width

    run(go())


def test_a_click_on_the_rows_leaves_the_coding_keys_with_the_screen(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await settle(pilot)
            rows = screen.query_one("#form-rows")
            first = screen.view.slots[screen.cursor].key
            await pilot.click("#form-rows")
            await pilot.pause()
            assert pilot.app.focused is not rows
            await pilot.press("3")  # codes the focused field, as before the click
            await settle(pilot)
            assert screen.view.values.get(first) == 3

    run(go())
