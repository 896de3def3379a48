"""The coding screen's start-up does only what its first screen needs: the main screen is the first
on Textual's stack (no blank default screen built, styled and drawn first), its breakpoint classes
are in place before its widgets are first styled, the queue is counted once, and no garbage
collection runs before the first screen is drawn. Not timed: bench/startup.py measures the seconds;
tests/unit/test_light_imports.py what start-up imports."""

from __future__ import annotations

import gc
import sys

import pytest

from chartcode.store import Store
from chartcode.tui.app import MAIN_SCREEN_FIRST, ChartcodeApp
from chartcode.tui.runtime import Housekeeping
from chartcode.tui.screens.coding import BREAKPOINTS_UNCHANGED_KEEP_STYLES, CodingScreen
from tests.tui.conftest import make_app, run


@pytest.mark.skipif(not MAIN_SCREEN_FIRST, reason="this Textual gets the main screen pushed on mount (tui/app.py)")
def test_the_coding_screen_is_the_first_screen_on_the_stack(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            app = pilot.app
            assert app.screen_stack == [app.main_screen]
            assert app.screen is app.coding_screen
            assert app.coding_screen.view is not None  # and it opened a record, as it did when pushed

    run(go())


@pytest.mark.skipif(
    not BREAKPOINTS_UNCHANGED_KEEP_STYLES,
    reason="this Textual resets breakpoint classes on every resize (Screen._set_breakpoints): it sets them alone",
)
@pytest.mark.parametrize(("size", "expected"), [((120, 40), {"-wide", "-tall"}), ((80, 24), {"-narrow", "-short"})])
def test_breakpoint_classes_are_set_before_the_widgets_are_first_styled(demo_db, monkeypatch, size, expected):
    """Textual sets them on the first resize, after mounting: set already, it restyles nothing."""
    at_compose: list[set[str]] = []
    compose = CodingScreen.compose

    def spy(self):
        yield from compose(self)
        at_compose.append(set(self.classes))

    monkeypatch.setattr(CodingScreen, "compose", spy)

    async def go():
        async with make_app(demo_db).run_test(size=size) as pilot:
            return set(pilot.app.coding_screen.classes)

    shown = run(go())
    assert at_compose == [expected]
    assert expected <= shown


def test_the_queue_is_counted_once_when_the_screen_opens(demo_db, monkeypatch):
    counts: list[tuple[str, str]] = []
    from chartcode.coding import CodingSession

    queue_count = CodingSession.queue_count

    def spy(self, text="", status="all"):
        counts.append((text, status))
        return queue_count(self, text, status)

    monkeypatch.setattr(CodingSession, "queue_count", spy)

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            return str(screen.query_one("#queue-status").render())

    status = run(go())
    assert counts == [("", "all")]
    assert "all records (24)" in status


def test_no_collection_runs_before_the_first_screen_is_drawn(demo_db, monkeypatch):
    """The housekeeping timer starts once the first screen is drawn (after_startup): before it a
    young collection from the timer would run inside the start-up of a busy machine."""
    events: list[str] = []
    monkeypatch.setattr(Housekeeping, "after_startup", lambda self: events.append("after_startup"))
    monkeypatch.setattr(Housekeeping, "collect_when_idle", lambda self: events.append("collect"))
    before = (gc.isenabled(), gc.get_threshold(), sys.getswitchinterval())

    async def go():
        app = ChartcodeApp(Store.open(demo_db), "intern", frozen_clock=True, tune_runtime=True)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(4):
                await pilot.pause(0.15)  # a few of the timer's ticks (TICK_S)

    try:
        run(go())
    finally:
        gc.set_threshold(*before[1])
        sys.setswitchinterval(before[2])
        if before[0]:
            gc.enable()
    assert events[0] == "after_startup"
    assert "collect" in events[1:]


@pytest.mark.skipif(
    not hasattr(__import__("textual.events").events.ScreenResume, "refresh_styles"),
    reason="this Textual's ScreenResume always restyles the screen",
)
def test_the_first_resume_does_not_restyle_what_was_styled_as_it_mounted(demo_db, monkeypatch):
    """Textual restyles a resumed screen in case its styles changed while it was covered: on the
    first resume nothing was covered. (Later resumes are Textual's to decide; the snapshots show
    the screen drawn as before.)"""
    restyled: list[str] = []
    update = CodingScreen.update_node_styles

    def spy(self, animate=True):
        restyled.append("screen")
        return update(self, animate)

    monkeypatch.setattr(CodingScreen, "update_node_styles", spy)

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            return pilot.app.coding_screen.view is not None

    assert run(go())
    assert restyled == []
