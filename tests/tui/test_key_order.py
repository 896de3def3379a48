"""Keys typed faster than the screen reacts go, in order, to the field focused when each was typed.

At 60 ms between keys on a busy machine, a digit typed right after a count field that saves
itself (``61`` when the maximum is 110) used to reach the count field's entry before the screen
had moved on, so the next field never got it. Here the keys arrive back to back, before the app
has handled any of them: the worst case of that race, every time.
"""

from __future__ import annotations

from textual import events
from textual.geometry import Size

from chartcode.tui.widgets.coding_form import key_for
from tests.tui.conftest import make_app, run, settle
from tests.tui.test_coding_screen import store_codes

AGE = 8  # VET-019's slots: 8 is age (count, 18-110), 9 sex, 10 race_ethnicity (choices)


def burst(app, keys: str) -> None:
    """Queue every key at once, as a terminal does when the app falls behind the typist."""
    for ch in keys:
        app.post_message(events.Key(ch, ch))


def test_a_digit_after_a_count_that_saves_itself_codes_the_next_field(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            screen.move_cursor(AGE)
            await pilot.pause()
            sex = screen.view.slots[AGE + 1].field
            race = screen.view.slots[AGE + 2].field
            burst(pilot.app, "61" + key_for(sex, 2) + key_for(race, 1))
            await settle(pilot)
            await pilot.pause()
            await settle(pilot)
            assert screen.cursor == AGE + 3
            return sex, race

    sex, race = run(go())
    codes = store_codes(demo_db)
    assert codes[(None, "age")] == 61
    assert codes[(None, "sex")] == 2
    assert codes[(None, "race_ethnicity")] == 1


def test_digits_typed_in_a_burst_stay_in_the_count_field_until_it_is_complete(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            screen.move_cursor(AGE)
            await pilot.pause()
            burst(pilot.app, "110")  # 1 and 11 could still grow (110 fits): only 110 saves itself
            await settle(pilot)
            await pilot.pause()
            await settle(pilot)
            assert screen.cursor == AGE + 1

    run(go())
    codes = store_codes(demo_db)
    assert codes[(None, "age")] == 110
    assert (None, "sex") not in codes


class _Pump:
    """What settle() looks at on a message pump: its queue and its call_next callbacks."""

    def __init__(self, *queued):
        try:  # the queue this Textual's message pumps use: its own Queue, asyncio's before that
            from textual._queue import Queue
        except ImportError:  # Textual 3.4, our floor
            from asyncio import Queue

        self._message_queue = Queue()
        for message in queued:
            self._message_queue.put_nowait(message)
        self._next_callbacks = []


def _layout():
    """A Layout message: it names its widget in newer Textual, not in 3.4 (our floor)."""
    from textual import messages

    try:
        return messages.Layout(None)
    except TypeError:
        return messages.Layout()


def test_a_key_does_not_wait_for_the_redraws_the_previous_key_queued():
    # A layout pass posts Resize/Show/Hide to the widgets it moved and they post Update/Layout:
    # waiting for those made each key wait for two or three layout + paint passes of the previous
    # one (100-300 ms each on a busy machine) before it was even routed.
    from textual import messages

    from chartcode.tui.key_order import _idle

    assert _idle(_Pump())
    assert _idle(_Pump(events.Resize(Size(10, 1), Size(10, 1)), messages.Update(None), _layout()))
    assert _idle(_Pump(events.Show(), events.Hide(), messages.Prompt()))


def test_a_key_still_waits_for_what_can_move_the_focus_or_code():
    from textual import messages
    from textual.message import Message

    from chartcode.tui.key_order import _idle

    assert not _idle(_Pump(events.Key("1", "1")))
    assert not _idle(_Pump(messages.Update(None), events.Callback(callback=lambda: None)))
    assert not _idle(_Pump(Message()))  # anything else: a Changed, a Saved, a focus move
    pump = _Pump()
    pump._next_callbacks.append(events.Callback(callback=lambda: None))
    assert not _idle(pump)
