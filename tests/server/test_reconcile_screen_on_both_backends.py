"""The reconcile screen settles a disagreement into consensus by keys on an audit file and on a
team server alike: the supervisor sees the two submitted values, takes one with a reason, and the
consensus is stored with the supervisor as the one who decided (the server: the login)."""

from __future__ import annotations

import asyncio

from chartcode.store import open_store
from chartcode.tui.app import ChartcodeApp
from tests.server import test_backends
from tests.server.test_backends import Backend
from tests.tui.conftest import run

backend = test_backends.backend  # the two-backend fixture: an audit file and a team server


def test_a_disagreement_is_settled_by_keys_on_either_backend(backend: Backend):
    me, sup = backend.names["intern"], backend.names["supervisor"]
    test_backends.disagree_on_sex(backend)

    async def go():
        app = ChartcodeApp(open_store(backend.targets["supervisor"]), sup, frozen_clock=True, mode="reconcile")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            units = {(u.record_id, u.field): u for u in screen.units}
            assert units[("R1", "sex")].values == {me: 1, sup: 2}
            while screen.unit.field != "sex":
                await pilot.press("j")
            await pilot.press("a")  # the first coder's value (the intern's)
            await pilot.press(*"chart header", "enter")
            for _ in range(500):
                await pilot.pause()
                if not screen.writer.pending() and units[("R1", "sex")].consensus is not None:
                    break
                await asyncio.sleep(0.01)
            assert units[("R1", "sex")].consensus == 1

    run(go())
    with backend.open("lead") as lead:
        rows = [u for u in lead.consensus_units() if u[0] == "R1" and u[2] == "sex"]
        assert len(rows) == 1, rows
        assert [
            (h["action"], h["new_value"], h["actor"])
            for h in lead.visible_history(backend.names["lead"], record_id="R1")
            if h["action"] == "consensus"
        ] == [("consensus", 1, sup)]
