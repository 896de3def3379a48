"""Reviewers' differing ratings settled on the reconcile screen, then scored (as IPS reviewers agree)."""

from __future__ import annotations

from chartcode.codebook import load_codebook
from chartcode.fidelity import fidelity
from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp
from tests.tui.conftest import run
from tests.tui.test_reconcile_screen import settle
from tests.unit.test_fidelity import scale_yaml


def test_rating_disagreements_are_settled_by_keys_and_then_scored(tmp_path):
    cb = load_codebook(
        "s.yaml", scale_yaml(4, sections=(("a", 2), ("b", 2)), bands="[{min: 16, label: good}, {label: poor}]")
    )
    db = tmp_path / "s.db"
    store = Store.create(db, cb)
    for name, role in (("ra", "coder"), ("rb", "coder"), ("lead", "supervisor")):
        store.add_coder(name, role)
    rid = store.add_unit_period("Team A", "2025-H1")
    for rater, values in (("ra", (4, 4, 3, 4)), ("rb", (4, 4, 5, 4))):
        store.assign(rater, [rid])
        for i, v in enumerate(values, 1):
            store.set_code(rater, rid, f"item{i}", v)
        store.submit(rater, rid)
    assert fidelity(store)[0].total is None  # item3 unresolved
    store.close()

    async def go():
        async with ChartcodeApp(Store.open(db), "lead", frozen_clock=True, mode="reconcile").run_test(
            size=(120, 40)
        ) as pilot:
            screen = pilot.app.main_screen
            assert len(screen.units) == 1 and screen.unit.field == "item3"
            await pilot.press("4")  # neither reviewer's value: the one they agree on after discussion
            await pilot.press(*"job logs reviewed together", "enter")
            await settle(pilot)

    run(go())
    with Store.open(db) as s:
        (score,) = fidelity(s)
        assert (score.total, score.band, score.items_rated) == (16, "good", 4)
        row = s._db.execute("SELECT value, reason, decided_by FROM consensus").fetchone()
        assert tuple(row) == (4, "job logs reviewed together", "lead")
