"""While another program holds the write lock, the coding screen keeps every change queued, in
order, says it is waiting, and saves them all once the lock is free: nothing typed is lost.

Before: the writer gave up after about a minute and the typed code was thrown away.
"""

from __future__ import annotations

from chartcode.store import Store
from chartcode.tui.widgets.coding_form import key_for
from chartcode.tui.widgets.header import ProgressHeader
from tests.lockholder import write_lock_held
from tests.tui.conftest import make_app, run, settle
from tests.tui.test_coding_screen import FIRST_TODO, store_codes, text_of


def intern_history(db):
    with Store.open(db) as s:
        return [(h["field"], h["new_value"]) for h in s.history(coder="intern", record_id=FIRST_TODO)]


def test_changes_made_while_the_database_is_locked_are_kept_in_order_and_saved(demo_db):
    before = intern_history(demo_db)

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            first, second = screen.view.slots[0].field, screen.view.slots[1].field
            header = screen.query_one(ProgressHeader)
            with write_lock_held(demo_db) as holder:
                await pilot.press(key_for(first, 2), key_for(second, 1))
                await pilot.pause(2.5)
                shown = text_of(header)
                assert "waiting for the database (" in shown and "kept in order" in shown
                assert screen.view.values[screen.view.slots[0].key] == 2  # shown as typed
                assert store_codes(demo_db) == {}  # nothing committed yet, nothing dropped either
                await pilot.press(key_for(screen.current_slot.field, 0))  # more typing while waiting
                holder.release()
                await settle(pilot)
            assert "✓ saved" in text_of(header)
            return first.name, second.name, screen.view.slots[2].field.name

    names = run(go())
    codes = store_codes(demo_db)
    note = f"{FIRST_TODO}-N01"
    assert codes[(note, names[0])] == 2 and codes[(note, names[1])] == 1 and codes[(note, names[2])] == 0
    after = intern_history(demo_db)
    assert after[len(before) :][-3:] == [(names[0], 2), (names[1], 1), (names[2], 0)]  # in the order typed
