"""The footer (help text, not the field being coded) is rebuilt once the keys pause, not per key.

Where a key changes the keys the footer shows (a choice field, then a typed one: twice a record)
Textual's Footer rebuild (a widget per key mounted, a layout pass of the whole screen) was the
costliest redraw a key caused; the next key waited for it. The key router's clock (which the footer
asks) is the test's here, so "the keys have paused" is decided by the test, not by how fast the
machine is.
"""

from __future__ import annotations

import asyncio

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from chartcode.tui.widgets.coding_form import choice_keys
from tests.tui.conftest import make_app, run, settle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_key_that_changes_the_footers_keys_rebuilds_it_only_once_the_keys_pause(demo_db):
    clock = Clock()

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            pilot.app.keys.clock = clock.monotonic
            await pilot.pause()
            view = screen.view
            # a choice field right before a typed one: its key moves the focus into the entry box
            i = next(
                i
                for i in range(len(view.slots) - 1)
                if view.slots[i].field.has_choices
                and not view.slots[i + 1].field.has_choices
                and screen.applies(i)
                and screen.applies(i + 1)
            )
            screen.move_cursor(i)
            await settle(pilot)
            footer = screen.query_one(Footer)
            before = list(footer.query(FooterKey))
            shown = [k.key for k in before]
            assert "d" in shown  # the coding keys, while the screen has the keys
            await pilot.press(next(iter(choice_keys(view.slots[i].field))))
            await settle(pilot)
            assert screen.cursor == i + 1 and screen.focused is not None  # in the entry box
            for _ in range(3):
                await pilot.pause(0.2)
            # the keys have not paused (the clock stands still): the footer is as it was
            assert list(footer.query(FooterKey)) == before
            clock.now += 10.0  # the coder pauses
            for _ in range(100):
                await pilot.pause(0.05)
                if list(footer.query(FooterKey)) != before:
                    break
            await asyncio.sleep(0)
            rebuilt = [k.key for k in footer.query(FooterKey)]
            assert list(footer.query(FooterKey)) != before and "d" not in rebuilt

    run(go())
