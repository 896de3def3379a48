"""The coding screen follows the branching logic (show_if) and shows calculated fields.

Codebook: tests/data/branching/screen_followup.yaml. On record R1 the slots are, in order:
note 1 - session_content, skill_taught (only when content = 3); record - accepted_followup,
followup_type and followup_sessions (only when accepted_followup = 1), referred; and the
calculated total_contacts = 1 + followup_sessions, shown read-only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp
from chartcode.tui.screens.modals import ClearInapplicable
from chartcode.tui.widgets.coding_form import CalcRow, CodingForm, FieldRow
from tests.tui.conftest import run, settle

CODEBOOK = Path(__file__).parent.parent / "data" / "branching" / "screen_followup.yaml"
NOTES = (
    "record_id,note_id,note_date,note_type,author,text\n"
    'R1,R1-N1,2024-01-05,conjoint,Dr A,"Veteran assessed; taught relaxation. Agreed to phone follow-up."\n'
    'R2,R2-N1,2024-01-09,conjoint,Dr A,"Declined the psychology portion of the visit."\n'
)
ORDER = [
    "session_content",
    "skill_taught",
    "accepted_followup",
    "followup_type",
    "followup_sessions",
    "referred",
]
REASON = "not applicable: [accepted_followup] changed"


@pytest.fixture
def branching_db(tmp_path, cli) -> Path:
    db = tmp_path / "branching.db"
    assert cli("init", db, "--codebook", CODEBOOK, "--coder", "intern").code == 0
    notes = tmp_path / "notes.csv"
    notes.write_text(NOTES, encoding="utf-8")
    assert cli("import", db, notes).code == 0
    assert cli("assign", db, "--coder", "intern", "--all").code == 0
    return db


def make_app(db: Path) -> ChartcodeApp:
    return ChartcodeApp(Store.open(db), "intern", frozen_clock=True)


def field_name(screen) -> str:
    return screen.current_slot.field.name


def row(screen, name: str) -> FieldRow:
    return next(r for r in screen.query_one(CodingForm).rows if r.slot.field.name == name)


def row_text(widget) -> str:
    return widget._render_text(60).plain


def codes(db: Path, record_id: str = "R1") -> dict[str, object]:
    with Store.open(db) as s:
        return {c["field"]: c["value"] for c in s.codes(coder="intern", record_id=record_id)}


def status(db: Path, record_id: str) -> str:
    with Store.open(db) as s:
        return {a["record_id"]: a["status"] for a in s.assignments("intern")}[record_id]


async def code_with_followup(pilot) -> None:
    """R1 coded with follow-up accepted: content 3, skill 1, accepted 1, type 2, 3 sessions, referred 0."""
    for key in ("3", "1", "1", "2", "3", "0"):
        await pilot.press(key)
        await settle(pilot)


def test_tab_and_the_move_on_after_a_code_skip_fields_that_do_not_apply(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            assert screen.view.record_id == "R1" and field_name(screen) == "session_content"
            # nothing coded yet: the conditions read blank, so the conditional fields are n/a
            assert [r.slot.field.name for r in screen.query_one(CodingForm).rows] == ORDER
            assert not row(screen, "skill_taught").applies
            await pilot.press("2")  # Assessment: skill_taught stays n/a, the cursor moves past it
            await settle(pilot)
            assert field_name(screen) == "accepted_followup"
            await pilot.press("shift+tab")  # back over the n/a field to the one before it
            assert field_name(screen) == "session_content"
            await pilot.press("tab")
            assert field_name(screen) == "accepted_followup"
            await pilot.press("0")  # no follow-up: type and sessions are n/a, straight on to referred
            await settle(pilot)
            assert field_name(screen) == "referred"
            for name in ("followup_type", "followup_sessions"):
                r = row(screen, name)
                assert not r.applies and r.has_class("-na") and not r.has_class("-missing")
                assert row_text(r).rstrip().endswith("n/a")
                assert "*" not in row_text(r)[:3]  # not marked required while it does not apply
            await pilot.press("shift+tab")
            assert field_name(screen) == "accepted_followup"
            await pilot.press("1")  # follow-up accepted: the fields apply again and the move on stops there
            await settle(pilot)
            assert field_name(screen) == "followup_type"
            assert row(screen, "followup_type").applies and not row(screen, "followup_type").has_class("-na")

    run(go())


def test_a_key_on_a_field_that_does_not_apply_saves_nothing_and_says_so(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            screen.move_cursor(ORDER.index("followup_type"))  # a field that does not apply, reached on purpose
            await pilot.pause()
            assert "n/a" in str(screen.query_one("#rules-text").render())
            await pilot.press("1")
            await settle(pilot)
            assert field_name(screen) == "followup_type"
            messages = [str(n.message) for n in pilot.app._notifications]
            assert any("Follow-up type: n/a here" in m and "[accepted_followup] = '1'" in m for m in messages)

    run(go())
    assert codes(branching_db) == {}


def test_done_accepts_a_record_whose_inapplicable_required_fields_are_empty(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            for key in ("2", "0", "1"):  # content, accepted follow-up = 0, referred
                await pilot.press(key)
                await settle(pilot)
            title = str(screen.query_one("#form-title").render())
            assert "3/3 coded" in title and "3 n/a" in title and "required empty" not in title
            await pilot.press("d")
            await settle(pilot)
            assert screen.view.record_id == "R2"  # done, on to the next unfinished record

    run(go())
    assert status(branching_db, "R1") == "done"
    assert codes(branching_db) == {"session_content": 2, "accepted_followup": 0, "referred": 1}


def test_done_still_asks_for_a_required_field_once_it_applies(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            for key in ("2", "1"):  # accepted follow-up = 1: type and sessions are required now
                await pilot.press(key)
                await settle(pilot)
            await pilot.press("d")
            await settle(pilot)
            messages = [str(n.message) for n in pilot.app._notifications]
            assert any("followup_type, followup_sessions, referred" in m for m in messages), messages
            assert field_name(screen) == "followup_type"

    run(go())
    assert status(branching_db, "R1") != "done"


def test_clearing_codes_that_stopped_applying_writes_one_history_row_each_with_the_reason(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await code_with_followup(pilot)
            assert not isinstance(pilot.app.screen, ClearInapplicable)  # nothing stopped applying so far
            screen.move_cursor(ORDER.index("accepted_followup"))
            await pilot.press("0")
            await settle(pilot)
            prompt = pilot.app.screen
            assert isinstance(prompt, ClearInapplicable)
            assert prompt.labels == ["Follow-up type", "Follow-up sessions"]
            await pilot.press("y")
            await settle(pilot)
            assert pilot.app.screen is screen
            assert screen.view.values.get((None, "followup_type")) is None

    run(go())
    assert codes(branching_db) == {"session_content": 3, "skill_taught": 1, "accepted_followup": 0, "referred": 0}
    with Store.open(branching_db) as s:
        cleared = [h for h in s.history(coder="intern", record_id="R1") if h["reason"] == REASON]
        assert s.verify().ok
    assert [(h["field"], h["old_value"], h["new_value"]) for h in cleared] == [
        ("followup_type", 2, None),
        ("followup_sessions", 3, None),
    ]


def test_keeping_codes_that_stopped_applying_leaves_them_stored_and_shown_na(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await code_with_followup(pilot)
            screen.move_cursor(ORDER.index("accepted_followup"))
            await pilot.press("0")
            await settle(pilot)
            assert isinstance(pilot.app.screen, ClearInapplicable)
            await pilot.press("n")
            await settle(pilot)
            assert pilot.app.screen is screen
            r = row(screen, "followup_type")
            assert not r.applies and "n/a (kept 2)" in row_text(r)
            await pilot.press("d")  # kept codes are not missing, and n/a fields are not required
            await settle(pilot)
            assert screen.view.record_id == "R2"

    run(go())
    stored = codes(branching_db)
    assert stored["followup_type"] == 2 and stored["followup_sessions"] == 3 and stored["accepted_followup"] == 0
    assert status(branching_db, "R1") == "done"
    with Store.open(branching_db) as s:
        assert not [h for h in s.history(coder="intern", record_id="R1") if h["reason"] == REASON]


def test_the_prompt_asks_only_about_codes_that_newly_stopped_applying(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await code_with_followup(pilot)
            screen.move_cursor(ORDER.index("accepted_followup"))
            await pilot.press("0")
            await settle(pilot)
            await pilot.press("n")  # kept
            await settle(pilot)
            screen.move_cursor(ORDER.index("referred"))
            await pilot.press("1")  # a change that stops nothing from applying: no prompt
            await settle(pilot)
            assert pilot.app.screen is screen
            screen.move_cursor(ORDER.index("session_content"))
            await pilot.press("2")  # the skill stops applying: asked about it alone
            await settle(pilot)
            prompt = pilot.app.screen
            assert isinstance(prompt, ClearInapplicable) and prompt.labels == ["Note 1: Skill taught"]
            await pilot.press("y")
            await settle(pilot)

    run(go())
    stored = codes(branching_db)
    assert "skill_taught" not in stored and stored["followup_type"] == 2
    with Store.open(branching_db) as s:
        reasons = [h["reason"] for h in s.history(coder="intern", record_id="R1") if h["field"] == "skill_taught"]
    assert reasons[-1] == "not applicable: [session_content] changed"


def test_a_kept_code_can_still_be_cleared_with_x_and_undo_puts_a_cleared_one_back(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await code_with_followup(pilot)
            screen.move_cursor(ORDER.index("accepted_followup"))
            await pilot.press("0")
            await settle(pilot)
            await pilot.press("n")  # kept
            await settle(pilot)
            screen.move_cursor(ORDER.index("followup_type"))  # reached on purpose: Tab would skip it
            await pilot.press("x")
            await settle(pilot)
            assert (None, "followup_type") not in screen.view.values
            assert not isinstance(pilot.app.screen, ClearInapplicable)  # clearing stops nothing else applying
            await pilot.press("u")  # the clearing is undone like any change
            await settle(pilot)
            assert screen.view.values[(None, "followup_type")] == 2

    run(go())
    assert codes(branching_db)["followup_type"] == 2


def test_a_calculated_field_is_shown_read_only_and_follows_the_codes(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            form = screen.query_one(CodingForm)
            (calc,) = form.calc_rows
            assert isinstance(calc, CalcRow) and calc.field.name == "total_contacts"
            assert not calc.can_focus and all(s.field.name != "total_contacts" for s in screen.view.slots)
            assert calc.value is None and "—" in row_text(calc)  # follow-up sessions blank: the sum is blank
            for key in ("3", "1", "1", "2"):
                await pilot.press(key)
                await settle(pilot)
            assert field_name(screen) == "followup_sessions"
            await pilot.press("1", "2", "enter")  # 12 sessions (a 3rd digit could follow: Enter)
            await settle(pilot)
            assert calc.value == 13 and row_text(calc).rstrip().endswith("13")
            # the cursor never lands on it: Tab from the field before it goes to the next slot
            assert field_name(screen) == "referred"
            await pilot.press("shift+tab")
            assert field_name(screen) == "followup_sessions"
            await pilot.press("backspace", "backspace", "4", "enter")
            await settle(pilot)
            assert calc.value == 5

    run(go())
    assert codes(branching_db)["followup_sessions"] == 4


def test_at_80x24_the_form_with_na_rows_and_a_calculated_row_fits(branching_db):
    async def go():
        async with make_app(branching_db).run_test(size=(80, 24)) as pilot:
            await pilot.press("2", "0")
            await settle(pilot)
            screen = pilot.app.coding_screen
            assert field_name(screen) == "referred"
            form = screen.query_one(CodingForm)
            assert screen.query_one("#note-body").content_region.width >= 40
            focused = row(screen, "referred")
            rows = screen.query_one("#form-rows")
            assert rows.region.contains_region(focused.region), (focused.region, rows.region)
            assert form.region.width > 0 and row(screen, "followup_type").region.width > 0

    run(go())


# ---------------------------------------------------------------------------- the rating screen
SCALE = Path(__file__).parent.parent / "data" / "branching" / "screen_scale.yaml"


@pytest.fixture
def scale_db(tmp_path, cli) -> tuple[Path, str]:
    db = tmp_path / "scale.db"
    assert cli("init", db, "--codebook", SCALE, "--coder", "rater").code == 0
    with Store.open(db) as store:
        record = store.add_unit_period("Team A", "2026-H1")
        store.assign("rater", [record])
    return db, record


def test_the_rating_screen_shows_an_item_that_does_not_apply_na_and_submits_without_it(scale_db):
    db, record = scale_db

    async def go():
        app = ChartcodeApp(Store.open(db), "rater", frozen_clock=True, mode="rate", record_id=record)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            screen = pilot.app.main_screen
            rows = {r.field.name: r for r in screen.query("ItemRow")}
            assert screen.field.name == "runs_groups"
            await pilot.press("1")  # no groups: their quality does not apply, the next unrated is outreach
            await settle_rating(pilot, screen)
            assert screen.field.name == "outreach"
            quality = rows["group_quality"]
            assert not quality.applies and quality.has_class("-na") and quality.plain().rstrip().endswith("n/a")
            screen.move(1)
            await pilot.press("2")  # a key on it rates nothing
            await settle_rating(pilot, screen)
            assert "group_quality" not in screen.values
            assert "n/a" in screen.query_one("ItemDetail").plain
            assert any("n/a here" in str(n.message) for n in pilot.app._notifications)
            await pilot.press("shift+tab", "tab")  # Tab and Shift+Tab skip the n/a item
            assert screen.field.name == "outreach"
            await pilot.press("up")
            assert screen.field.name == "runs_groups"
            await pilot.press("tab")
            assert screen.field.name == "outreach"
            await pilot.press("3")  # outreach rated: every item that applies is rated
            await settle_rating(pilot, screen)
            await pilot.press("s")
            await pilot.pause()
            await pilot.press("y")
            await settle_rating(pilot, screen)
            assert screen.submitted

    run(go())
    with Store.open(db) as s:
        assert {c["field"]: c["value"] for c in s.codes(coder="rater", record_id=record)} == {
            "runs_groups": 1,
            "outreach": 3,
        }


async def settle_rating(pilot, screen) -> None:
    import asyncio

    for _ in range(500):
        await pilot.pause()
        if not screen.writer.pending() and not screen.pending:
            await pilot.pause()
            return
        await asyncio.sleep(0.01)
    raise AssertionError("ratings did not settle")
