"""The coding screen, driven by keys as an intern would: every change saved at once."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Static

from chartcode.demo import make_records, truth_codes
from chartcode.store import Store
from chartcode.tui.widgets.coding_form import CodingForm, key_for
from chartcode.tui.widgets.header import ProgressHeader
from chartcode.tui.widgets.note_view import NoteView
from chartcode.tui.widgets.queue import RecordQueue
from tests.tui.conftest import make_app, run, settle

FIRST_TODO = "VET-019"  # the demo leaves VET-019..VET-024 uncoded for the intern


def truth(record_id: str) -> dict[tuple[str | None, str], object]:
    rec = next(r for r in make_records() if r.record_id == record_id)
    return {(nid or None, f): v for _, nid, f, v, _ in truth_codes(rec)}


def text_of(widget) -> str:
    r = widget.render()
    return str(getattr(r, "plain", r))


def store_codes(db, coder="intern", record_id=FIRST_TODO):
    with Store.open(db) as s:
        return {(c["note_id"], c["field"]): c["value"] for c in s.codes(coder=coder, record_id=record_id)}


async def code_record_by_keys(pilot, answers) -> int:
    """Press the key (or type the value) for every slot in order; returns keystrokes used."""
    screen = pilot.app.coding_screen
    strokes = 0
    view = screen.view
    for i, slot in enumerate(view.slots):
        assert screen.cursor == i, f"cursor should be on slot {i} ({slot.field.name})"
        value = answers.get(slot.key)
        if value is None:
            await pilot.press("tab")
            strokes += 1
            continue
        if slot.field.has_choices:
            await pilot.press(key_for(slot.field, value))
            strokes += 1
        else:
            await pilot.press(*str(value))
            strokes += len(str(value))
            await settle(pilot)
            if screen.cursor == i:  # not complete by itself (another digit could follow): Enter
                await pilot.press("enter")
                strokes += 1
    return strokes


def test_opens_at_first_unfinished_record_with_first_uncoded_field_focused(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            assert screen.view.record_id == FIRST_TODO
            assert screen.cursor == 0 and screen.current_slot.field.name == "session_content"
            header = text_of(screen.query_one(ProgressHeader))
            assert "intern · 18/24 done" in header
            assert "00:00:00" in header
            meta = text_of(screen.query_one("#note-meta", Static))
            assert FIRST_TODO in meta and "note 1 of" in meta

    run(go())


def test_coding_a_whole_record_by_keys_saves_every_code_and_done_submits(demo_db):
    answers = truth(FIRST_TODO)

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await code_record_by_keys(pilot, answers)
            await settle(pilot)
            assert "✓ saved" in text_of(screen.query_one(ProgressHeader))
            await pilot.press("d")
            await settle(pilot)
            assert screen.view.record_id == "VET-020"  # moved on to the next unfinished record
            assert "19/24 done" in text_of(screen.query_one(ProgressHeader))

    run(go())
    assert store_codes(demo_db) == answers
    with Store.open(demo_db) as s:
        status = {a["record_id"]: a["status"] for a in s.assignments("intern")}
        assert status[FIRST_TODO] == "done"
        hist = [h for h in s.history(coder="intern", record_id=FIRST_TODO) if h["action"] == "set"]
        assert len(hist) == len(answers)
        assert s.position("intern")[0] == "VET-020"


def test_done_is_refused_naming_the_missing_fields(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.press("3")  # one field only
            await settle(pilot)
            await pilot.press("d")
            await settle(pilot)
            notes = [n for n in pilot.app._notifications]
            assert any(
                "required field(s) empty" in str(n.message)
                and "note 1: psychoeducation" in str(n.message)
                and "record: age, sex" in str(n.message)
                for n in notes
            )
            assert screen.view.record_id == FIRST_TODO
            assert screen.current_slot.field.name == "psychoeducation"  # taken to the first missing one

    run(go())
    with Store.open(demo_db) as s:
        assert {a["record_id"]: a["status"] for a in s.assignments("intern")}[FIRST_TODO] == "in_progress"


def test_undo_puts_back_the_previous_value_and_is_itself_in_history(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await pilot.press("shift+tab", "5")
            await settle(pilot)
            await pilot.press("u")
            await settle(pilot)
            screen = pilot.app.coding_screen
            assert screen.view.values[(screen.view.slots[0].key)] == 3
            await pilot.press("u")
            await settle(pilot)
            assert screen.view.values.get(screen.view.slots[0].key) is None

    run(go())
    with Store.open(demo_db) as s:
        actions = [
            (h["action"], h["old_value"], h["new_value"])
            for h in s.history(coder="intern", record_id=FIRST_TODO)
            if h["field"] == "session_content"
        ]
        assert actions == [("set", None, 3), ("change", 3, 5), ("undo", 5, 3), ("undo", 3, None)]
    assert store_codes(demo_db) == {}


def test_memo_is_saved_with_the_focused_code(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("m")  # no code yet: refused with a hint
            assert any("Code this field first" in str(n.message) for n in pilot.app._notifications)
            await pilot.press("3", "shift+tab", "m")
            await pilot.press(*"assessed sleep", "enter")
            await settle(pilot)
            assert "✎" in text_of(pilot.app.coding_screen.query_one(CodingForm).rows[0])

    run(go())
    with Store.open(demo_db) as s:
        code = next(c for c in s.codes(coder="intern", record_id=FIRST_TODO) if c["field"] == "session_content")
        assert code["memo"] == "assessed sleep"


def test_flag_needs_a_comment_and_reaches_the_store(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("f", "enter")  # empty comment: refused
            assert any("needs a comment" in str(n.message) for n in pilot.app._notifications)
            await pilot.press("f", *"unclear dates", "enter")
            await settle(pilot)
            assert "flagged" in text_of(pilot.app.coding_screen.query_one("#form-title", Static))

    run(go())
    with Store.open(demo_db) as s:
        a = {x["record_id"]: x for x in s.assignments("intern")}[FIRST_TODO]
        assert a["flagged"] == 1 and a["flag_comment"] == "unclear dates"
        assert s.history(coder="intern")[-1]["action"] == "flag"


def test_typed_fields_validate_before_saving(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            age = next(i for i, s in enumerate(screen.view.slots) if s.field.name == "age")
            screen.move_cursor(age)
            await pilot.pause()
            assert isinstance(pilot.app.focused, Input)
            await pilot.press(*"12", "enter")  # below the codebook's minimum of 18
            await pilot.pause()
            assert "below the minimum 18" in text_of(screen.query_one("#form-error", Static))
            assert screen.current_slot.field.name == "age"
            entry = screen.query_one("#form-entry", Input)
            entry.value = ""
            await pilot.press(*"64")  # no digit could follow (max 110): saved without Enter
            await settle(pilot)
            assert screen.current_slot.field.name == "sex"
            await pilot.press("shift+tab")  # back on the coded age: the pre-filled value does not re-commit
            await pilot.pause()
            assert screen.current_slot.field.name == "age"
            entry.value = ""
            await pilot.press(*"120")  # complete (no digit could follow) but above the maximum: refused
            await pilot.pause()
            assert "above the maximum" in text_of(screen.query_one("#form-error", Static))
            assert screen.current_slot.field.name == "age"
            entry.value = ""
            await pilot.press(*"10")  # 10 could become 100-110: waits
            await pilot.pause()
            assert screen.current_slot.field.name == "age"
            await pilot.press("0")  # 100: no digit could follow
            await settle(pilot)
            assert screen.current_slot.field.name == "sex"

    run(go())
    assert store_codes(demo_db)[(None, "age")] == 100


def test_next_note_and_record_navigation(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.press("n")
            assert "note 2 of" in text_of(screen.query_one("#note-meta", Static))
            await pilot.press("N")
            assert "note 1 of" in text_of(screen.query_one("#note-meta", Static))
            await pilot.press("right_square_bracket")
            assert screen.view.record_id == "VET-020"
            await pilot.press("left_square_bracket", "left_square_bracket")
            assert screen.view.record_id == "VET-018"
            await pilot.press("g")
            assert screen.view.record_id == "VET-019"

    run(go())


async def search_done(pilot) -> None:
    await pilot.pause()
    searches = [w for w in pilot.app.workers if w.group == "search"]
    if searches:  # (an empty list would mean "wait for every worker", the writer included)
        await pilot.app.workers.wait_for_complete(searches)
    await pilot.pause()


def test_search_finds_notes_and_highlights_the_terms(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            await pilot.press("slash", *"pacing", "enter")
            await search_done(pilot)
            search = pilot.app.screen
            assert search.results and all(r["record_id"] == FIRST_TODO for r in search.results)
            await pilot.press("ctrl+t")  # all notes
            await search_done(pilot)
            assert len({r["record_id"] for r in search.results}) > 1
            await pilot.press("down", "enter")
            await pilot.pause()
            assert pilot.app.screen is screen
            assert screen.terms == ("pacing",)
            body = screen.query_one(NoteView).last_text
            spans = [body.plain[s.start : s.end].lower() for s in body.spans if "reverse" in str(s.style)]
            assert spans and all(s.startswith("pacing") for s in spans)

    run(go())


def test_cue_words_are_highlighted_in_the_note(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            body = pilot.app.coding_screen.query_one(NoteView).last_text
            styled = {body.plain[s.start : s.end].lower() for s in body.spans if "underline" in str(s.style)}
            assert styled & {"agreed", "psychoeducation", "pacing", "assessment", "sud"}

    run(go())


def test_queue_filter_and_status_cycle(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            queue = screen.query_one(RecordQueue)
            assert queue.row_count == 24
            await pilot.press("ctrl+f", *"02")
            await pilot.pause()
            assert queue.row_count == 6  # VET-002, VET-020 .. VET-024
            await pilot.press("enter")  # into the list
            assert pilot.app.focused is queue
            await pilot.press("down", "enter")
            await pilot.pause()
            assert screen.view.record_id == "VET-020"
            screen.query_one("#queue-filter", Input).value = ""
            await pilot.pause()
            await pilot.press("s")  # all -> to do
            await pilot.pause()
            assert queue.row_count == 6
            assert "to do (6)" in text_of(screen.query_one("#queue-status", Static))

    run(go())


def test_reopening_returns_to_where_the_coder_left_off(demo_db):
    async def go_first():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("right_square_bracket", "1", "0")
            await settle(pilot)
            await pilot.press("ctrl+q")

    async def go_second():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            assert screen.view.record_id == "VET-020"
            assert screen.cursor == 2

    run(go_first())
    run(go_second())


def test_blinding_another_coders_codes_never_reach_the_widgets(demo_db):
    """The supervisor double-coded some of the intern's records; neither sees the other's codes or memos."""
    with Store.open(demo_db) as s:
        sample = sorted({c["record_id"] for c in s.codes(coder="supervisor")})
        sup = {(c["record_id"], c["note_id"], c["field"]): c for c in s.codes(coder="supervisor")}
        intern = {(c["record_id"], c["note_id"], c["field"]): c for c in s.codes(coder="intern")}
        differing = [k for k in sup if intern.get(k, {}).get("value") != sup[k]["value"]]
        sup_memos = {c["memo"] for c in sup.values() if c["memo"]}
    assert differing and sup_memos

    async def go():
        async with make_app(demo_db, "intern").run_test(size=(120, 40)) as pilot:
            screen = pilot.app.coding_screen
            for rid in sample:
                screen.open_record(rid)
                await pilot.pause()
                for key in differing:
                    if key[0] == rid:
                        slot_key = (key[1], key[2])
                        assert screen.view.values.get(slot_key) == intern[key]["value"]
                shown = " ".join(text_of(r) for r in screen.query_one(CodingForm).rows)
                for memo in sup_memos:
                    assert memo not in shown
                assert all(m not in sup_memos for m in screen.view.memos.values())

    run(go())


def test_a_coder_with_no_assignments_gets_a_clear_message(demo_db):
    async def go():
        async with make_app(demo_db, "qi-lead").run_test(size=(100, 30)) as pilot:
            assert "No records are assigned to qi-lead" in text_of(
                pilot.app.coding_screen.query_one("#note-meta", Static)
            )

    run(go())


def test_help_overlay_lists_every_declared_key(demo_db):
    from chartcode.tui.bindings import CODING_KEYS

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            help_screen = pilot.app.screen
            rendered = " ".join(str(w.render()) for w in help_screen.query(Static))
            for k in CODING_KEYS:
                assert k.description in rendered or k.description[:30] in rendered
            await pilot.press("escape")
            assert pilot.app.screen is pilot.app.coding_screen

    run(go())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_layout_hides_the_queue_on_narrow_terminals_until_asked(demo_db, size):
    async def go():
        async with make_app(demo_db).run_test(size=size) as pilot:
            pane = pilot.app.coding_screen.query_one("#queue-pane")
            assert pane.display is (size[0] >= 100)
            await pilot.press("l")
            await pilot.pause()
            assert pane.display
            await pilot.press("escape")
            await pilot.pause()
            assert pane.display is (size[0] >= 100)

    run(go())


def test_command_palette_offers_the_screen_actions(demo_db):
    from chartcode.tui.bindings import CODING_KEYS

    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            app = pilot.app
            titles = {c.title for c in app.get_system_commands(app.coding_screen)}
            for k in CODING_KEYS:
                if k.palette:
                    assert k.description.split(" (")[0] in titles
            flag = next(
                c
                for c in app.get_system_commands(app.coding_screen)
                if c.title.startswith("Next unfinished") or c.title.startswith("Go to the next unfinished")
            )
            flag.callback()
            await pilot.pause()
            assert app.coding_screen.view.record_id == "VET-020"

    run(go())


def test_command_palette_runs_an_action_by_keys(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(120, 40)) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"Go to the next unfinished")
            await pilot.pause(0.5)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert pilot.app.coding_screen.view.record_id == "VET-020"

    run(go())
