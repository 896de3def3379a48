"""Beside a code the screens show what it means: `3 Assessment plus intervention`, cut to fit."""

from __future__ import annotations

from chartcode.codebook import load_codebook
from chartcode.coding import Slot
from chartcode.consensus import disagreements
from chartcode.store import Store
from chartcode.tui.widgets.coding_form import CodingForm, FieldRow
from tests.tui.conftest import make_app, run, settle


def test_the_coding_form_shows_the_chosen_label_beside_the_value(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await settle(pilot)
            row = pilot.app.coding_screen.query_one(CodingForm).rows[0]
            text = row._render_text().plain
            assert row.slot.field.name == "session_content"
            assert "3 Assessment plus" in text, text

    run(go())


def test_a_long_label_is_cut_with_an_ellipsis_to_the_rows_width():
    cb = load_codebook("cb.yaml", text=LONG)
    row = FieldRow(Slot(cb.field("content")))
    row.value = 6
    wide, narrow = row._render_text(width=60).plain, row._render_text(width=36).plain
    assert "6 Follow-up conjoint" in wide and len(wide) <= 60
    assert "6 Follow" in narrow and narrow.rstrip().endswith("…") and len(narrow) <= 36


def test_the_reconcile_list_shows_the_settled_values_label(demo_db):
    from chartcode.tui.app import ChartcodeApp

    with Store.open(demo_db) as s:
        unit = next(u for u in disagreements(s) if s.codebook.field(u.field).has_choices)
        f = s.codebook.field(unit.field)
        value = next(iter(unit.values.values()))
        s.set_consensus(
            unit.record_id, unit.field, value, note_id=unit.note_id, reason="agreed", decided_by="supervisor"
        )
    label = f.label_for(value)

    async def go():
        app = ChartcodeApp(Store.open(demo_db), "supervisor", frozen_clock=True, mode="reconcile")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            screen = pilot.app.main_screen
            u = next(u for u in screen.units if (u.record_id, u.field) == (unit.record_id, unit.field))
            shown = screen._unit_label(u).plain
            assert f"= {value} {label[:8]}" in shown, shown

    run(go())


LONG = """
id: t
title: t
version: "1"
fields:
  - name: content
    label: Conjoint session content type
    type: nominal
    choices:
      1: Declined
      6: Follow-up conjoint session with assessment and intervention
"""
