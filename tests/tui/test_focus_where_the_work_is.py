"""A record opens at its first empty required field, scrolled into view and focused: after `d`,
when reopened, and when the app is opened again."""

from __future__ import annotations

from chartcode.demo import make_records, truth_codes
from tests.tui.conftest import make_app, run, settle


def _focused_row_in_view(screen) -> bool:
    rows = screen.query_one("#form-rows")
    row = screen.query_one("CodingForm").rows[screen.cursor]
    return rows.content_region.contains_region(row.region) and row.has_class("-focused")


def _first_empty_required(view) -> int:
    return next(i for i, s in enumerate(view.slots) if s.field.required and view.values.get(s.key) is None)


async def _code_all_but(pilot, record_id: str, keep_empty: set[str]) -> None:
    """Code a record's slots from the demo's truth by setting them through the screen's own save,
    leaving ``keep_empty`` fields empty."""
    screen = pilot.app.coding_screen
    rec = next(r for r in make_records() if r.record_id == record_id)
    truth = {(nid or None, f): v for _, nid, f, v, _ in truth_codes(rec)}
    for slot in screen.view.slots:
        if slot.field.name not in keep_empty and slot.key in truth:
            screen._save(slot, truth[slot.key], advance=False)
    await settle(pilot)


def test_after_done_the_next_record_opens_at_its_first_empty_required_field_in_view(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(80, 24)) as pilot:
            screen = pilot.app.coding_screen
            first = screen.view.record_id
            await _code_all_but(pilot, first, set())
            screen.move_cursor(len(screen.view.slots) - 1)  # scrolled to the bottom of this record
            await pilot.pause()
            await pilot.press("d")
            await settle(pilot)
            await pilot.pause()
            assert screen.view.record_id != first
            assert screen.cursor == _first_empty_required(screen.view)
            assert _focused_row_in_view(screen)

    run(go())


def test_reopening_the_app_focuses_the_first_empty_required_field_of_the_record_left(demo_db):
    async def first_visit():
        async with make_app(demo_db).run_test(size=(80, 24)) as pilot:
            screen = pilot.app.coding_screen
            rid = screen.view.record_id
            await _code_all_but(pilot, rid, {"termination"})
            screen.move_cursor(0)  # leave with the cursor on a coded field at the top
            await pilot.pause()
            await pilot.press("ctrl+q")
            return rid

    async def second_visit(rid):
        async with make_app(demo_db).run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.pause()
            screen = pilot.app.coding_screen
            assert screen.view.record_id == rid
            assert screen.current_slot.field.name == "termination"
            assert _focused_row_in_view(screen)

    rid = run(first_visit())
    run(second_visit(rid))


def test_moving_back_to_a_record_focuses_its_first_empty_required_field(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(80, 24)) as pilot:
            screen = pilot.app.coding_screen
            rid = screen.view.record_id
            await _code_all_but(pilot, rid, {"termination"})
            await pilot.press("right_square_bracket")
            await pilot.pause()
            await pilot.press("left_square_bracket")
            await pilot.pause()
            await pilot.pause()
            assert screen.view.record_id == rid
            assert screen.current_slot.field.name == "termination"
            assert _focused_row_in_view(screen)

    run(go())
