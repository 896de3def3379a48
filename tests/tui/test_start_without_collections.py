"""The coding screen starts with garbage collection off (tui/runtime.py: the ~130k objects start-up
builds all stay alive, so collections then free nothing and cost a tenth of the start-up), and
collection is back on once the first screen is drawn - or when the screen never starts."""

from __future__ import annotations

import gc
import sys

import pytest

from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp
from chartcode.tui.runtime import GC_THRESHOLDS, start_without_collections
from tests.tui.conftest import run


@pytest.fixture
def interpreter_restored():
    before = (gc.get_threshold(), sys.getswitchinterval(), gc.isenabled())
    yield
    gc.unfreeze()
    gc.set_threshold(*before[0])
    sys.setswitchinterval(before[1])
    (gc.enable if before[2] else gc.disable)()


def test_collection_is_back_on_once_the_first_screen_is_drawn(demo_db, interpreter_restored):
    seen = {}

    async def go():
        app = ChartcodeApp(Store.open(demo_db), "intern", frozen_clock=True, tune_runtime=True)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(50):
                await pilot.pause()
                if gc.isenabled():
                    break
            seen["after the first screen"] = gc.isenabled()
            seen["tuned"] = gc.get_threshold() == GC_THRESHOLDS and gc.get_freeze_count() > 0
            assert pilot.app.coding_screen is not None and pilot.app.coding_screen.view is not None

    with start_without_collections():
        assert not gc.isenabled()
        run(go())
    assert seen == {"after the first screen": True, "tuned": True}
    assert gc.isenabled()


def test_collection_is_back_on_when_the_screen_never_starts(tmp_path, interpreter_restored):
    from chartcode.errors import UserError
    from chartcode.tui.app import make_app

    with pytest.raises(UserError), start_without_collections():
        assert not gc.isenabled()
        make_app(tmp_path / "missing.db", "intern")
    assert gc.isenabled()
