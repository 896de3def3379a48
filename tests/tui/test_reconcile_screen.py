"""The reconcile screen: disagreements settled into consensus by keys, each with a reason."""

from __future__ import annotations

from textual.widgets import Static

from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp
from tests.tui.conftest import run


def make(db, who="supervisor"):
    return ChartcodeApp(Store.open(db), who, frozen_clock=True, mode="reconcile")


async def settle(pilot):
    screen = pilot.app.main_screen
    for _ in range(300):
        await pilot.pause()
        if not screen.writer.pending():
            await pilot.pause()
            return


def test_reconcile_by_keys_stores_consensus_with_reasons(demo_db):
    async def go():
        async with make(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            assert len(screen.units) == 5
            first = screen.unit
            # take the supervisor's value (b), give a reason
            await pilot.press("b")
            await pilot.press(*"re-read together", "enter")
            await settle(pilot)
            assert first.consensus == first.values["supervisor"]
            assert screen.unit is not first  # moved on to the next open disagreement
            # another value by its choice key; an empty reason is refused
            second = screen.unit
            await pilot.press("0" if second.field == "skills_introduced" else "1", "enter")
            await settle(pilot)
            assert second.consensus is None
            assert "1/5 settled" in str(screen.query_one("#form-title", Static).render())

    run(go())
    with Store.open(demo_db) as s:
        rows = list(s._db.query("SELECT record_id, field, value, reason, decided_by FROM consensus"))
        assert len(rows) == 1 and rows[0]["reason"] == "re-read together" and rows[0]["decided_by"] == "supervisor"
        assert s.history()[-1]["action"] == "consensus"
        # the coders' own codes are untouched
        assert len(list(s.codes(coder="intern"))) > 0


def test_a_coder_cannot_open_the_reconcile_screen(demo_db):
    import pytest

    from chartcode.errors import UserError

    with pytest.raises(UserError, match="reconciling is for a supervisor or lead"):
        make(demo_db, "intern")
