"""The rating screen, driven by keys as a fidelity reviewer would: every rating saved at once, blind.

The scale is written here (not a shipped codebook): four items in two sections, anchors 1-5,
cannot rate = 9, bands on the total (17 good, 12 fair) and on the staffing section (8 strong).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from chartcode.codebook import load_codebook
from chartcode.errors import UserError
from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp
from chartcode.tui.bindings import RATING_KEYS
from chartcode.tui.screens.modals import HelpScreen, TextPrompt
from chartcode.tui.screens.rating import ConfirmScreen, RatingScreen
from chartcode.tui.widgets.rating_items import ItemDetail, ItemRow, RatingHeader, SectionRow
from tests.tui.conftest import run

ANCHORS = {
    1: "No written caseload limits; specialists carry 81 or more people each.",
    2: "Specialists carry 61 to 80 people each.",
    3: "Specialists carry 41 to 60 people each.",
    4: "Specialists carry 21 to 40 people each.",
    5: "Specialists carry 20 or fewer people each, and the limit is written down.",
}
ITEMS = [
    ("caseload", "Caseload size", "staffing"),
    ("vocational_only", "Vocational services only", "staffing"),
    ("integration", "Integration with the treatment team", "services"),
    ("zero_exclusion", "Zero exclusion criteria", "services"),
]
NAMES = [name for name, _, _ in ITEMS]
RECORD = "Team A @ 2025-H1"


def scale_yaml() -> str:
    lines = [
        "id: mini-fidelity",
        "title: Mini fidelity scale",
        "version: 1",
        "scale:",
        "  scoring: sum",
        "  cannot_rate: 9",
        "  action_below: 4",
        "  max_unrated: 0",
        "  bands: [{min: 17, label: Good fidelity}, {min: 12, label: Fair fidelity},"
        " {label: Not supported employment}]",
        "  sections:",
        "    - {id: staffing, label: Staffing, bands: [{min: 8, label: strong}, {label: weak}]}",
        "    - {id: services, label: Services}",
        "fields:",
    ]
    for name, label, section in ITEMS:
        lines += [
            f"  - name: {name}",
            f"    label: {label}",
            "    type: ordinal",
            f"    section: {section}",
            f"    rules: Rate {label.lower()} from the caseload records and the staff interviews.",
            "    choices:",
        ]
        for code, text in ANCHORS.items():
            lines.append(f'      {code}: {{label: "{code}", description: "{label} anchor {code}: {text}"}}')
    lines += ["  - name: overall", "    label: Overall comments", "    type: text"]
    return "\n".join(lines) + "\n"


def make_scale_db(tmp_path: Path, raters=("alice", "bob")) -> Path:
    db = tmp_path / "fidelity.db"
    cb = load_codebook("mini-fidelity.yaml", scale_yaml())
    with Store.create(db, cb, coders=[*((r, "coder") for r in raters), ("lead", "lead")]) as store:
        assert store.add_unit_period("Team A", "2025-H1") == RECORD
        for r in raters:
            store.assign(r, [RECORD])
    return db


@pytest.fixture
def scale_db(tmp_path) -> Path:
    return make_scale_db(tmp_path)


def rating_app(db: Path, rater: str = "alice") -> ChartcodeApp:
    return ChartcodeApp(Store.open(db), rater, frozen_clock=True, mode="rate", record_id=RECORD)


async def settle(pilot) -> None:
    """Wait until every write has committed and its message has been handled."""
    screen = pilot.app.main_screen
    for _ in range(500):
        await pilot.pause()
        if not screen.writer.pending() and not screen.pending:
            await pilot.pause()
            return
        await asyncio.sleep(0.01)
    raise AssertionError("writes did not settle")


def stored(db: Path, rater: str = "alice") -> dict[str, object]:
    """The rater's committed ratings, read through a second connection."""
    with Store.open(db) as s:
        return {c["field"]: c["value"] for c in s.codes(coder=rater, record_id=RECORD)}


def stored_memos(db: Path, rater: str = "alice") -> dict[str, str]:
    with Store.open(db) as s:
        return {c["field"]: c["memo"] for c in s.codes(coder=rater, record_id=RECORD) if c["memo"]}


def header(screen) -> str:
    return screen.query_one(RatingHeader).plain()


def rows(screen) -> dict[str, str]:
    return {r.field.name: r.plain() for r in screen.query(ItemRow)}


def sections(screen) -> dict[str, str]:
    return {r.section_id: r.plain() for r in screen.query(SectionRow)}


def messages(pilot) -> list[str]:
    return [str(n.message) for n in pilot.app._notifications]


def focused(screen) -> str:
    return screen.field.name


# ---------------------------------------------------------------------------- rating
def test_opens_on_the_first_item_with_its_rules_and_every_anchor(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            assert isinstance(screen, RatingScreen)
            assert focused(screen) == "caseload"
            h = header(screen)
            assert "Team A · 2025-H1 · rater alice" in h and "rated 0/4" in h and "cannot rate 0" in h
            detail = screen.query_one(ItemDetail).plain
            assert "Caseload size" in detail and "Rate caseload size from the caseload records" in detail
            for code, text in ANCHORS.items():
                assert f"[{code}] Caseload size anchor {code}: {text}" in detail
            assert "[x] Cannot rate (stored as code 9" in detail
            assert "Overall comments" not in rows(screen)  # context fields are not rated items

    run(go())


def test_digits_save_committed_ratings_and_move_to_the_next_unrated_item(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            await pilot.press("4")
            assert focused(screen) == "vocational_only"
            await pilot.press("3")
            await settle(pilot)
            assert focused(screen) == "integration"
            assert "✓ saved" in header(screen) and "rated 2/4" in header(screen)
            assert rows(screen)["caseload"].endswith("[4]") and rows(screen)["vocational_only"].endswith("[3]")
            # back to a rated item and change it: the cursor then goes on to the next unrated one
            await pilot.press("k", "k", "5")
            await settle(pilot)
            assert focused(screen) == "integration"
            await pilot.press("k", "k")
            assert "● [5] Caseload size anchor 5" in screen.query_one(ItemDetail).plain
            assert "your rating: 5" in screen.query_one(ItemDetail).plain

    run(go())
    assert stored(scale_db) == {"caseload": 5, "vocational_only": 3}
    with Store.open(scale_db) as s:
        actions = [
            (h["action"], h["field"], h["new_value"]) for h in s.history(coder="alice", record_id=RECORD) if h["field"]
        ]
        assert actions == [("set", "caseload", 4), ("set", "vocational_only", 3), ("change", "caseload", 5)]


def test_the_cannot_rate_key_stores_the_scales_code(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            await pilot.press("x")
            await settle(pilot)
            assert rows(screen)["caseload"].endswith("[CR]")
            assert "cannot rate 1" in header(screen) and "rated 0/4" in header(screen)
            assert focused(screen) == "vocational_only"

    run(go())
    assert stored(scale_db) == {"caseload": 9}


def test_a_digit_that_is_not_a_rating_is_refused_and_nothing_is_written(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            for key in ("7", "0", "9"):  # 9 is the cannot-rate code: that is x, not a rating
                await pilot.press(key)
            await settle(pilot)
            assert focused(screen) == "caseload"
            refused = [m for m in messages(pilot) if "is not a rating of this item; rate 1-5 (x = cannot rate)" in m]
            assert len(refused) == 3
            assert "rated 0/4" in header(screen) and "saved" not in header(screen)

    run(go())
    assert stored(scale_db) == {}
    with Store.open(scale_db) as s:
        assert not [h for h in s.history(coder="alice") if h["field"]]


def test_comment_is_saved_as_the_ratings_memo(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            await pilot.press("c")  # not rated yet: refused with a hint
            assert any("Rate this item first" in m for m in messages(pilot))
            assert not isinstance(pilot.app.screen, TextPrompt)
            await pilot.press("4", "k", "c")
            assert isinstance(pilot.app.screen, TextPrompt)
            await pilot.press(*"job logs checked; 34 per keyworker", "enter")
            await settle(pilot)
            assert re.search(r"Caseload size\s+✎\s+\[4\]$", rows(screen)["caseload"])
            assert "job logs checked; 34 per keyworker" in screen.query_one(ItemDetail).plain
            await pilot.press("m")  # m opens the same editor, pre-filled
            assert pilot.app.screen.query_one("#prompt-input").value == "job logs checked; 34 per keyworker"
            await pilot.press("escape")

    run(go())
    assert stored_memos(scale_db) == {"caseload": "job logs checked; 34 per keyworker"}


def test_running_section_scores_total_and_band_update_as_items_are_rated(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            assert "total —" in header(screen) and "band —" in header(screen)
            await pilot.press("4", "4")
            await settle(pilot)
            assert "8 · strong" in sections(screen)["staffing"]
            assert "(2/2 rated)" in sections(screen)["staffing"]
            assert "—" in sections(screen)["services"]
            h = header(screen)
            assert "total — (withheld: 2 unscored)" in h and "mean 4" in h and "band —" in h
            await pilot.press("5", "4")
            await settle(pilot)
            h = header(screen)
            assert "rated 4/4" in h and "total 17" in h and "mean 4.2" in h and "band Good fidelity" in h
            assert "9 · " not in sections(screen)["services"] and "9" in sections(screen)["services"]
            await pilot.press("k", "1")  # integration 5 -> 1: total 13
            await settle(pilot)
            h = header(screen)
            assert "total 13" in h and "band Fair fidelity" in h

    run(go())
    assert stored(scale_db) == {"caseload": 4, "vocational_only": 4, "integration": 1, "zero_exclusion": 4}


def test_clear_and_undo(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            await pilot.press("4", "k", "backspace")
            await settle(pilot)
            assert rows(screen)["caseload"].endswith("[–]") and focused(screen) == "caseload"
            await pilot.press("u")
            await settle(pilot)
            assert rows(screen)["caseload"].endswith("[4]")
            assert any("Undone: Caseload size is 4 again" in m for m in messages(pilot))

    run(go())
    assert stored(scale_db) == {"caseload": 4}
    with Store.open(scale_db) as s:
        assert [h["action"] for h in s.history(coder="alice", record_id=RECORD) if h["field"]] == [
            "set",
            "clear",
            "undo",
        ]


# ---------------------------------------------------------------------------- submitting
def test_submit_is_refused_while_items_are_unrated_and_allowed_when_complete(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            await pilot.press("4", "3", "5")
            await settle(pilot)
            await pilot.press("k", "s")
            assert any("1 item(s) unrated: Zero exclusion criteria" in m for m in messages(pilot))
            assert not isinstance(pilot.app.screen, ConfirmScreen)
            assert focused(screen) == "zero_exclusion"  # taken to the unrated item
            await pilot.press("x")  # cannot rate counts as done
            await settle(pilot)
            await pilot.press("s")
            assert isinstance(pilot.app.screen, ConfirmScreen)
            await pilot.press("n")  # not now
            await settle(pilot)
            assert not screen.submitted
            await pilot.press("s", "y")
            await settle(pilot)
            assert screen.submitted
            assert "submitted ✓" in header(screen)
            assert any("submitted. Your ratings are now read-only" in m for m in messages(pilot))

    run(go())
    with Store.open(scale_db) as s:
        a = {x["record_id"]: x for x in s.assignments("alice")}[RECORD]
        assert a["status"] == "done" and a["submitted_at"]
        assert all(c["submitted"] for c in s.codes(coder="alice", record_id=RECORD))
    assert stored(scale_db) == {"caseload": 4, "vocational_only": 3, "integration": 5, "zero_exclusion": 9}


def test_after_submitting_the_ratings_are_read_only(scale_db):
    with Store.open(scale_db) as s:
        for name in NAMES:
            s.set_code("alice", RECORD, name, 4)
        s.set_memo("alice", RECORD, "caseload", "from the logs")
        s.submit("alice", RECORD)

    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            assert screen.submitted and "submitted ✓ (read-only)" in header(screen)
            assert "total 16" in header(screen)
            for key in ("1", "x", "backspace", "u", "c"):
                await pilot.press(key)
            await settle(pilot)
            assert not isinstance(pilot.app.screen, TextPrompt)
            assert sum("is submitted: your ratings are read-only" in m for m in messages(pilot)) == 5
            await pilot.press("s")
            assert any("already submitted" in m for m in messages(pilot))

    run(go())
    assert stored(scale_db) == dict.fromkeys(NAMES, 4)
    assert stored_memos(scale_db) == {"caseload": "from the logs"}


# ---------------------------------------------------------------------------- blind, resume, help
def test_a_second_rater_does_not_see_the_first_raters_ratings(scale_db):
    with Store.open(scale_db) as s:
        for name, v in zip(NAMES, (5, 5, 2, 1), strict=True):
            s.set_code("alice", RECORD, name, v)
        s.set_memo("alice", RECORD, "caseload", "alice's secret evidence")
        s.submit("alice", RECORD)

    async def go():
        async with rating_app(scale_db, "bob").run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            assert screen.values == {} and screen.memos == {}
            h = header(screen)
            assert "rater bob" in h and "rated 0/4" in h and "total —" in h
            assert all(r.endswith("[–]") for r in rows(screen).values())
            assert "alice" not in screen.query_one(ItemDetail).plain
            for name in NAMES:
                screen.move(NAMES.index(name))
                await pilot.pause()
                assert "secret" not in screen.query_one(ItemDetail).plain
                assert "your rating" not in screen.query_one(ItemDetail).plain
            screen.move(0)
            await pilot.press("3")
            await settle(pilot)
            assert "rated 1/4" in header(screen)

    run(go())
    assert stored(scale_db, "bob") == {"caseload": 3}
    assert stored(scale_db, "alice") == {"caseload": 5, "vocational_only": 5, "integration": 2, "zero_exclusion": 1}


def test_reopening_resumes_at_the_item_the_rater_was_on(scale_db):
    async def first():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("4", "3", "k")
            await settle(pilot)
            assert focused(pilot.app.main_screen) == "vocational_only"
            await pilot.press("ctrl+q")

    async def second():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.main_screen
            assert focused(screen) == "vocational_only"
            assert screen.values == {"caseload": 4, "vocational_only": 3}

    run(first())
    run(second())


def test_help_overlay_lists_the_rating_keys_and_the_cannot_rate_code(scale_db):
    async def go():
        async with rating_app(scale_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("question_mark")
            help_screen = pilot.app.screen
            assert isinstance(help_screen, HelpScreen)
            text = help_screen.help_text().plain
            for key in RATING_KEYS:
                assert key.shown_key in text and key.description in text
            assert "cannot-rate code 9" in help_screen.intro
            await pilot.press("escape")
            assert isinstance(pilot.app.screen, RatingScreen)

    run(go())


def test_the_app_refuses_an_unassigned_unit_period_and_a_plain_codebook(scale_db, tmp_path):
    with pytest.raises(UserError, match="is not assigned to 'lead'"):
        ChartcodeApp(Store.open(scale_db), "lead", mode="rate", record_id=RECORD)
    plain = load_codebook(
        "plain.yaml",
        "id: plain\ntitle: Plain\nversion: 1\nfields:\n"
        "  - {name: a, label: A, type: binary, choices: {0: no, 1: yes}}\n",
    )
    with Store.create(tmp_path / "plain.db", plain, coders=[("alice", "coder")]) as s:
        s.add_records(["R1"])
        s.assign("alice", ["R1"])
    with pytest.raises(UserError, match="is not a rating scale"):
        ChartcodeApp(Store.open(tmp_path / "plain.db"), "alice", mode="rate", record_id="R1")


def test_unscored_context_fields_are_typed_and_do_not_block_submit(tmp_path):
    """A scale's overall comments: listed under "Not scored", typed with v, optional for submit."""
    import asyncio

    from chartcode.codebook import load_codebook
    from chartcode.store import Store
    from chartcode.tui.app import ChartcodeApp
    from tests.unit.test_fidelity import scale_yaml

    yaml = scale_yaml(2, sections=(("a", 2),), bands="[{min: 8, label: good}, {label: poor}]")
    yaml += "  - name: overall_comments\n    label: Overall comments\n    type: text\n"
    cb = load_codebook("s.yaml", yaml)
    db = tmp_path / "ctx.db"
    store = Store.create(db, cb)
    store.add_coder("alice", "coder")
    rid = store.add_unit_period("Team A", "2025-H1")
    store.assign("alice", [rid])
    store.close()

    async def go():
        app = ChartcodeApp(Store.open(db), "alice", frozen_clock=True, mode="rate", record_id=rid)
        async with app.run_test(size=(110, 30)) as pilot:
            screen = app.main_screen
            assert [f.name for f in screen.items] == ["item1", "item2", "overall_comments"]
            await pilot.press("4", "5")
            for _ in range(100):
                await pilot.pause()
                if not screen.writer.pending():
                    break
            screen.move(2)
            await pilot.press("4")  # a digit does not write into a text field
            await pilot.press("v", *"good team", "enter")
            for _ in range(100):
                await pilot.pause()
                if not screen.writer.pending():
                    break
            await pilot.press("s")
            await pilot.pause()
            await pilot.press("y")
            for _ in range(100):
                await pilot.pause()
                if screen.submitted:
                    break
            assert screen.submitted

    asyncio.run(go())
    with Store.open(db) as s:
        assert {c["field"]: c["value"] for c in s.codes(coder="alice", record_id=rid)} == {
            "item1": 4,
            "item2": 5,
            "overall_comments": "good team",
        }
