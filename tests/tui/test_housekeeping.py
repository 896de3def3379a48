"""A keystroke's commit never pays for housekeeping: WAL checkpoints run between keys from a
thread of their own, and the interpreter's full garbage collections and thread switches are
tuned for the screen (tui/runtime.py). Durability is tests/integration/test_durability.py."""

from __future__ import annotations

import asyncio
import gc
import sys
import time

from chartcode.tui.runtime import GC_THRESHOLDS, IDLE_BEFORE_GC_S, MIN_GC_INTERVAL_S, SWITCH_INTERVAL_S, Housekeeping
from chartcode.tui.widgets.coding_form import key_for
from tests.tui.conftest import make_app, run, settle
from tests.tui.test_coding_screen import store_codes


def test_commits_leave_the_checkpoint_to_a_pause_and_a_thread_of_its_own(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            writer = screen.writer
            results = []
            job = writer.submit(
                lambda: results.append(screen.session.store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]),
                "probe",
            )
            slots = screen.view.slots
            for slot in slots[:4]:
                await pilot.press(key_for(slot.field, 1 if slot.field.type == "binary" else 2))
            await settle(pilot)
            assert job.committed is not None and results == [20_000]  # the commit's own checkpoint is far off
            deadline = time.monotonic() + 20
            while writer.checkpoints == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert writer.checkpoints >= 1  # ran in the pause after the keys, not inside a commit

    run(go())
    assert len(store_codes(demo_db)) == 4


def test_after_startup_freezes_what_start_up_built_and_tunes_the_interpreter():
    before = (gc.get_threshold(), sys.getswitchinterval())
    try:
        h = Housekeeping()
        h.after_startup()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
        assert sys.getswitchinterval() == SWITCH_INTERVAL_S
    finally:
        gc.unfreeze()
        gc.set_threshold(*before[0])
        sys.setswitchinterval(before[1])


def test_the_full_collection_waits_for_a_pause_in_the_keys():
    now = [1000.0]
    h = Housekeeping(clock=lambda: now[0])
    now[0] += MIN_GC_INTERVAL_S + 1
    h.key()  # typing right now
    h.collect_when_idle()
    assert h.collections == 0
    now[0] += IDLE_BEFORE_GC_S / 2  # a pause between keys, not reading
    h.collect_when_idle()
    assert h.collections == 0
    now[0] += IDLE_BEFORE_GC_S  # a real pause
    h.collect_when_idle()
    assert h.collections == 1
    now[0] += IDLE_BEFORE_GC_S  # still idle, but a collection ran moments ago
    h.collect_when_idle()
    assert h.collections == 1


def test_young_collections_run_in_the_pause_after_a_key_not_during_it():
    # traced: a middle-generation collection triggered by allocation inside a keystroke took
    # 140-160 ms of CPU (640 ms on a busy machine) between the key and its commit
    from chartcode.tui.runtime import YOUNG_IDLE_S, YOUNG_MIN_ALLOCATIONS

    now = [1000.0]
    h = Housekeeping(clock=lambda: now[0])
    enabled = gc.isenabled()
    gc.disable()  # only this test's collections, counted as it makes them
    try:
        garbage = [[] for _ in range(YOUNG_MIN_ALLOCATIONS * 2)]
        h.key()
        now[0] += YOUNG_IDLE_S / 5  # the key is still being handled
        h.collect_when_idle()
        assert h.young_collections == 0 and gc.get_count()[0] >= YOUNG_MIN_ALLOCATIONS
        now[0] += YOUNG_IDLE_S  # the pause before the next key
        h.collect_when_idle()
        assert h.young_collections == 1 and gc.get_count()[0] < YOUNG_MIN_ALLOCATIONS
        h.collect_when_idle()  # nothing built up since: nothing to do
        assert h.young_collections == 1
        del garbage
    finally:
        if enabled:
            gc.enable()


def test_stopping_the_writer_waits_for_a_checkpoint_under_way(demo_db):
    # the app closes the store's connections right after the screen stops its writer: closing
    # one while a checkpoint ran on it from the checkpoint thread crashed the process (SIGSEGV)
    import threading

    started, finished = threading.Event(), []

    def slow_checkpoint():
        started.set()
        time.sleep(0.5)
        finished.append(time.monotonic())
        return (0, 0, 0)

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            writer = pilot.app.coding_screen.writer
            writer._checkpoint = slow_checkpoint
            writer._commits, writer._last_commit = 100, time.monotonic() - 60
            assert await asyncio.to_thread(started.wait, 20)
            writer.stop()
            stopped = time.monotonic()
            assert finished and finished[0] <= stopped

    run(go())
