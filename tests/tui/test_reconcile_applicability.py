"""The reconcile screen lists applicability disagreements as their own kind: the panel says who the
field applies for and which field settles it, a/b jump to that field's disagreement, a value key
is refused, and settling the controlling field marks the applicability line settled. Data:
tests/applicability_data.py."""

from __future__ import annotations

from textual.widgets import Static

from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp
from tests.applicability_data import branching_store
from tests.tui.conftest import run
from tests.tui.test_reconcile_screen import settle


def test_an_applicability_disagreement_is_settled_through_its_controlling_field(tmp_path):
    branching_store(tmp_path / "a.db").close()

    async def go():
        app = ChartcodeApp(Store.open(tmp_path / "a.db"), "supervisor", frozen_clock=True, mode="reconcile")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            kinds = {(u.record_id, u.field): u.kind for u in screen.units}
            assert kinds[("R6", "followup_type")] == "applicability"
            assert kinds[("R6", "accepted_followup")] == "value"
            assert ("R8", "followup_type") not in kinds  # n/a for both coders: nothing to settle
            at = next(i for i, u in enumerate(screen.units) if (u.record_id, u.field) == ("R6", "followup_type"))
            screen.show_unit(at)
            await pilot.pause()
            panel = str(screen.query_one("#unit-text", Static).render())
            assert "applies for supervisor, not for intern: settled through [accepted_followup]" in panel
            await pilot.press("1")  # a value key decides nothing here
            await pilot.pause()
            assert screen.unit is screen.units[at]
            await pilot.press("a")  # go to the controlling field's disagreement on the same record
            await pilot.pause()
            assert (screen.unit.record_id, screen.unit.field) == ("R6", "accepted_followup")
            await pilot.press("a")  # the intern's value: no follow-up
            await pilot.press(*"declined in the note", "enter")
            await settle(pilot)
            settled = screen.units[at]
            assert settled.settled and settled.settled_as == "not_applicable"
            assert str(screen.query_one("#units").get_option_at_index(at).prompt).endswith("n/a")

    run(go())
    with Store.open(tmp_path / "a.db") as s:
        from chartcode.dataset import finals

        fin = finals(s).set_index(["record_id", "field"])
        assert fin.loc[("R6", "followup_type"), "source"] == "not_applicable"
