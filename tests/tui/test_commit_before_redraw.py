"""A key's save commits before the key's redraw, and a commit that is slow does not hold it.

Moving the cursor and drawing the form after a key (and Textual's layout and paint after that)
hold the interpreter lock that the writer thread's transaction needs; traced in tmux on a busy
machine, a key's commit finished behind its redraw. The screen now waits, at most
writer.COMMIT_FIRST_S, for the commit before it redraws. Here the transaction is made slow on
purpose (a pause in the store call, with the interpreter lock released, as an fsync has it), so
the order is the same on every machine.
"""

from __future__ import annotations

import threading
import time

from chartcode.tui import writer
from chartcode.tui.widgets.coding_form import CodingForm, choice_keys
from tests.tui.conftest import make_app, run, settle
from tests.tui.test_coding_screen import store_codes

SLOW_TRANSACTION_S = 0.2


def _first_choice(screen):
    i = next(i for i, s in enumerate(screen.view.slots) if s.field.has_choices and screen.applies(i))
    slot = screen.view.slots[i]
    key, code = next(iter(choice_keys(slot.field).items()))
    return i, slot, key, code


def test_the_form_is_redrawn_after_the_keys_code_has_committed(demo_db, monkeypatch):
    monkeypatch.setattr(writer, "COMMIT_FIRST_S", 30.0, raising=False)  # as long as the slow transaction takes, here

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.pause()
            i, slot, key, code = _first_choice(screen)
            screen.move_cursor(i)
            await settle(pilot)
            store_set = screen.session.set

            def slow_set(*args, **kwargs):
                time.sleep(SLOW_TRANSACTION_S)
                return store_set(*args, **kwargs)

            screen.session.set = slow_set
            form = screen.query_one(CodingForm)
            draw = form.show
            seen = []  # at each redraw of the form: had the last queued save committed?

            def show(*args, **kwargs):
                job = screen.writer.last_job
                seen.append(job is not None and job.kind == "code" and job.committed is not None)
                return draw(*args, **kwargs)

            form.show = show
            await pilot.press(key)
            await settle(pilot)
            assert seen and seen[0], "the form was redrawn before the key's code committed"
            assert screen.cursor != i  # and the key moved on, as before
            return slot

    slot = run(go())
    assert store_codes(demo_db)[(slot.note_id, slot.field.name)] is not None


def test_a_commit_that_waits_does_not_hold_the_redraw_and_is_saved_after(demo_db, monkeypatch):
    """Another program's write lock (here: the transaction waits for an event) holds the commit:
    the key still moves on; the code is saved once the wait ends, in order, nothing dropped."""
    monkeypatch.setattr(writer, "COMMIT_FIRST_S", 0.05, raising=False)
    release = threading.Event()

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.pause()
            i, slot, key, code = _first_choice(screen)
            screen.move_cursor(i)
            await settle(pilot)
            store_set = screen.session.set

            def held_set(*args, **kwargs):
                release.wait(60)
                return store_set(*args, **kwargs)

            screen.session.set = held_set
            await pilot.press(key)
            await pilot.pause()
            moved = screen.cursor != i
            waiting = screen.writer.pending()
            release.set()
            await settle(pilot)
            return slot, code, moved, waiting

    try:
        slot, code, moved, waiting = run(go())
    finally:
        release.set()
    assert moved and waiting == 1
    assert store_codes(demo_db)[(slot.note_id, slot.field.name)] == code
