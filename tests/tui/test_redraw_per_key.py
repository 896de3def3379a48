"""A key redraws what it changed, not the whole screen.

Every coding key moves the cursor, saves, and hears back; each redraw it asks for costs the UI
thread time in which the next key waits. These pin the redraws that were traced as waste: a layout
pass of the whole screen for the field panel when its height does not matter, a footer rebuilt when
its keys are the same, the header redrawn with the same text, the queue's scrollbars redrawn on
every layout pass.
"""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from chartcode.tui.widgets.header import ProgressHeader
from chartcode.tui.widgets.queue import RecordQueue
from chartcode.tui.widgets.redraw import TAKES_LAYOUT
from tests.tui.conftest import make_app, run, settle


def _count_calls(obj, method: str) -> list[int]:
    calls = [0]
    inner = getattr(obj, method)

    def counted(*args, **kwargs):
        calls[0] += 1
        return inner(*args, **kwargs)

    setattr(obj, method, counted)
    return calls


def test_moving_between_fields_whose_panels_fit_lays_nothing_out(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.pause()
            box = screen.query_one("#rules").content_region
            panel = screen.query_one("#rules-text")
            form = screen.form()
            view = screen.view
            fits = []
            for i, slot in enumerate(view.slots):
                if not (slot.field.has_choices and form.applies(slot.note_id, slot.field)):
                    continue
                screen.move_cursor(i)
                await pilot.pause()
                if panel.get_content_height(box.size, box.size, box.width) <= box.height:
                    fits.append(i)
            heights = set()
            for i in fits:
                screen.move_cursor(i)
                await pilot.pause()
                heights.add(panel.get_content_height(box.size, box.size, box.width))
            assert len(fits) >= 3 and len(heights) >= 2  # panels of different heights, all fitting
            asked = []  # each redraw the panel asks for: with a layout pass of the screen or without
            redraw = panel.refresh

            def counted(*regions, layout=False, **kwargs):
                asked.append(layout)
                return redraw(*regions, layout=layout, **kwargs)

            panel.refresh = counted
            for i in fits:
                screen.move_cursor(i)
                await pilot.pause()
                assert screen.cursor == i
            assert len(asked) >= len(fits) - 1  # redrawn on each move
            # never laid out, where Static.update can skip the layout (Textual 3.4's cannot:
            # tui/widgets/redraw.py); either way no layout beyond the one update asks for
            assert asked.count(True) == (0 if TAKES_LAYOUT else len(asked))

    run(go())


def test_the_footer_is_rebuilt_only_when_the_keys_it_shows_change(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.pause()
            footer = screen.query_one(Footer)
            keys = list(footer.query(FooterKey))
            screen.refresh_bindings()  # what Textual does on every focus change
            await pilot.pause()
            assert list(footer.query(FooterKey)) == keys  # the same widgets: not rebuilt
            typed = next(i for i, s in enumerate(screen.view.slots) if not s.field.has_choices)
            screen.move_cursor(typed)  # the entry box takes focus: the coding keys go
            await pilot.pause()
            await pilot.pause()
            shown = [k.key for k in footer.query(FooterKey)]
            assert list(footer.query(FooterKey)) != keys and "d" not in shown

    run(go())


def test_a_save_that_changes_nothing_in_the_header_does_not_redraw_it(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.press("3")
            await settle(pilot)
            header = screen.query_one(ProgressHeader)
            shown = str(header.render())
            refreshes = _count_calls(header, "refresh")
            await pilot.press("1")  # saved again within the same (frozen) second
            await settle(pilot)
            assert str(header.render()) == shown and refreshes[0] == 0

    run(go())


def test_a_layout_pass_that_resizes_nothing_leaves_the_queues_scrollbars_alone(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 20)) as pilot:  # 24 records: a scrollbar
            screen = pilot.app.coding_screen
            await pilot.pause()
            queue = screen.query_one(RecordQueue)
            bar = queue.vertical_scrollbar
            assert queue.show_vertical_scrollbar
            redraws = _count_calls(bar, "refresh")
            screen.refresh(layout=True)
            await pilot.pause()
            assert redraws[0] == 0
            window = bar.window_size
            await pilot.resize_terminal(120, 12)  # a real resize still updates them
            await pilot.pause()
            assert redraws[0] > 0 and 0 < bar.window_size < window

    run(go())
