"""The coding screen's check-all-that-apply input: with a checkbox field focused, its keys tick and
untick options (the panel shows each ticked or not), each toggle is a committed change whose history
row holds old -> new set with the reason "added 2" / "removed 3", and Enter keeps the set."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from chartcode.store import Store
from tests.tui.conftest import make_app, run, settle

CODEBOOK = """\
id: cbx
title: Services audit
version: '1'
fields:
  - name: services
    label: Services offered
    type: checkbox
    required: true
    choices:
      1: Therapy
      2: Medication
      3: Peer support
  - name: goals
    label: Goals written
    type: checkbox
    choices:
      a: Pain
      b: Function
  - name: seen
    label: Seen in person
    type: binary
"""
NOTES = (
    "record_id,note_id,note_date,note_type,author,text\n"
    'R1,R1-N1,2024-01-05,conjoint,Dr A,"Veteran assessed."\n'
    'R2,R2-N1,2024-01-09,conjoint,Dr A,"Declined."\n'
)


@pytest.fixture
def db(cli, tmp_path):
    (tmp_path / "cbx.yaml").write_text(CODEBOOK, encoding="utf-8")
    (tmp_path / "notes.csv").write_text(NOTES, encoding="utf-8")
    path = tmp_path / "audit.db"
    assert cli("init", path, "--codebook", tmp_path / "cbx.yaml", "--coder", "intern").code == 0
    assert cli("import", path, tmp_path / "notes.csv").code == 0
    assert cli("assign", path, "--coder", "intern", "--all").code == 0
    return path


def history(db, field):
    with Store.open(db) as s:
        return [(h["old_value"], h["new_value"], h["reason"]) for h in s.history(coder="intern") if h["field"] == field]


def stored(db, record_id="R1"):
    with Store.open(db) as s:
        return {c["field"]: c["value"] for c in s.codes(coder="intern", record_id=record_id)}


def panel(screen) -> str:
    return str(screen.query_one("#rules-text", Static).render())


def test_keys_toggle_options_each_a_committed_change_with_the_add_or_remove_in_history(db):
    async def go():
        async with make_app(db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            assert screen.view.record_id == "R1" and screen.current_slot.field.name == "services"
            assert "☐ [1] Therapy" in panel(screen) and "☐ [3] Peer support" in panel(screen)
            await pilot.press("3")
            await settle(pilot)
            assert screen.current_slot.field.name == "services"  # ticking does not move on
            assert stored(db)["services"] == "3"
            await pilot.press("1")
            await settle(pilot)
            assert stored(db)["services"] == "1|3"
            assert "☑ [1] Therapy" in panel(screen) and "☐ [2] Medication" in panel(screen)
            assert "☑ [3] Peer support" in panel(screen)
            await pilot.press("3")  # untick
            await settle(pilot)
            assert stored(db)["services"] == "1"
            assert "☐ [3] Peer support" in panel(screen)
            await pilot.press("enter")  # keep the set, move on
            await settle(pilot)
            assert screen.current_slot.field.name == "goals"
            assert stored(db)["services"] == "1"

    run(go())
    assert history(db, "services") == [
        (None, "3", "added 3"),
        ("3", "1|3", "added 1"),
        ("1|3", "1", "removed 3"),
    ]


def test_enter_on_an_untouched_field_codes_none_ticked_and_tab_leaves_it_uncoded(db):
    async def go():
        async with make_app(db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.press("2", "enter")  # services: Medication; then goals
            await settle(pilot)
            assert screen.current_slot.field.name == "goals"
            assert "☐ [a] Pain" not in panel(screen)  # word codes are keyed 1, 2 ... by position
            assert "☐ [1] Pain" in panel(screen) and "☐ [2] Function" in panel(screen)
            await pilot.press("tab")
            await settle(pilot)
            assert screen.current_slot.field.name == "seen"
            assert "goals" not in stored(db)  # moved on: not coded
            await pilot.press("shift+tab", "enter")  # back to goals, Enter: coded, nothing ticked
            await settle(pilot)
            assert stored(db)["goals"] == ""
            await pilot.press("shift+tab", "2")  # word codes by position: 2 = b Function
            await settle(pilot)
            assert stored(db)["goals"] == "b"
            await pilot.press("7")  # no option has key 7: nothing changes
            await settle(pilot)
            assert stored(db)["goals"] == "b"

    run(go())
    assert history(db, "goals") == [(None, "", "none ticked"), ("", "b", "added b")]


def test_undo_puts_the_set_back_before_the_last_toggle(db):
    async def go():
        async with make_app(db).run_test(size=(120, 40)) as pilot:
            await pilot.press("1", "2")
            await settle(pilot)
            assert stored(db)["services"] == "1|2"
            await pilot.press("u")
            await settle(pilot)
            assert stored(db)["services"] == "1"
            assert "☑ [1] Therapy" in panel(pilot.app.coding_screen)
            assert "☐ [2] Medication" in panel(pilot.app.coding_screen)

    run(go())


def test_the_form_row_shows_the_ticked_options(db):
    async def go():
        async with make_app(db).run_test(size=(120, 40)) as pilot:
            await pilot.press("1", "3")
            await settle(pilot)
            row = pilot.app.coding_screen.query_one("#form").rows[0]
            assert "Services offered     1,3 Therapy, Peer su" in str(row.render())
            await pilot.press("1", "3")
            await settle(pilot)
            assert "Services offered     none ticked" in str(row.render())

    run(go())


CONTROLLED = """\
id: cbx-logic
title: Services audit with a condition
version: '1'
fields:
  - name: services
    label: Services offered
    type: checkbox
    required: true
    choices:
      1: Therapy
      2: Medication
  - name: therapy_sessions
    label: Therapy sessions
    type: count
    show_if: "[services(1)] = '1'"
  - name: seen
    label: Seen in person
    type: binary
"""


def test_unticking_the_option_a_field_depends_on_asks_once_to_clear_it(cli, tmp_path):
    from chartcode.tui.screens.modals import ClearInapplicable

    (tmp_path / "cbx.yaml").write_text(CONTROLLED, encoding="utf-8")
    (tmp_path / "notes.csv").write_text(NOTES, encoding="utf-8")
    path = tmp_path / "audit.db"
    assert cli("init", path, "--codebook", tmp_path / "cbx.yaml", "--coder", "intern").code == 0
    assert cli("import", path, tmp_path / "notes.csv").code == 0
    assert cli("assign", path, "--coder", "intern", "--all").code == 0

    async def go():
        async with make_app(path).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.press("1", "enter")  # tick Therapy, move on to therapy_sessions
            await settle(pilot)
            assert screen.current_slot.field.name == "therapy_sessions"
            await pilot.press("4", "enter")
            await settle(pilot)
            screen.move_cursor(0)
            await pilot.press("1")  # untick Therapy: therapy_sessions stops applying
            await settle(pilot)
            assert isinstance(pilot.app.screen, ClearInapplicable)
            await pilot.press("y")
            await settle(pilot)

    run(go())
    assert stored(path) == {"services": ""}
    assert history(path, "therapy_sessions")[-1] == (4, None, "not applicable: [services] changed")
