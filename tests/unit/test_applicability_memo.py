"""Memoised branching logic (chartcode.applicability.Answers / SharedForm): a Form's answers are
computed once per distinct tuple of what they read, and must be exactly the per-record Form's
answers - on nested conditions, checkbox options, note types, note-level conditions reading
record-level fields, calculations with a show_if, values of mixed types, and a cycle."""

from __future__ import annotations

import itertools
import random

from chartcode.applicability import Answers, SharedForm
from chartcode.codebook import Codebook, Field
from chartcode.codebook.loader import load_codebook

CODEBOOK = """
id: memo
title: Nested and checkbox conditions (test codebook)
version: "1"
fields:
  - name: accepted
    label: Accepted follow-up
    type: binary
    choices: {0: "No", 1: "Yes"}
  - name: kinds
    label: Kinds of follow-up
    type: checkbox
    show_if: "[accepted] = '1'"
    choices: {1: Phone, 2: Visit, 3: Group}
  - name: visits
    label: Visits
    type: count
    min: 0
    max: 20
    show_if: "[kinds(2)] = '1'"
  - name: many
    label: Many visits
    type: binary
    show_if: "[visits] > 3 or [kinds(3)] = '1'"
    choices: {0: "No", 1: "Yes"}
  - name: total
    label: Contacts
    type: numeric
    calc: "1 + [visits]"
    show_if: "[accepted] = '1'"
  - name: content
    label: Session content
    level: note
    note_types: [conjoint, phone]
    type: nominal
    choices: {1: Skills, 2: Education}
  - name: detail
    label: Skill taught
    level: note
    note_types: [conjoint]
    type: nominal
    show_if: "[content] = '1' and [accepted] = '1'"
    choices: {1: Pacing, 2: Relaxation}
  - name: score
    label: Content plus skill
    level: note
    type: numeric
    calc: "[content] + [detail]"
"""

# values of mixed types on purpose: 1, 1.0, True and "1" can read differently, so can 0.0 and -0.0
CELLS = {
    "accepted": [None, "0", "1", 1, 1.0, True, 0.0, -0.0],
    "kinds": [None, "", "1", "2", "1|2", "2|3", "3", 2],
    "visits": [None, 0, 2, 4, "4", 4.0, -0.0, "x"],
    "many": [None, "0", "1"],
    "content": [None, "1", "2", 1, 1.0],
    "detail": [None, "1", "2", 2],
}
NOTE_TYPES = ["conjoint", "phone", "individual", None]


def _codebook() -> Codebook:
    return load_codebook("memo.yaml", text=CODEBOOK)


def _record(rng: random.Random) -> tuple[list[tuple[str, str | None]], dict]:
    notes = [(f"N{k}", rng.choice(NOTE_TYPES)) for k in range(rng.randint(0, 3))]
    values: dict = {}
    for name in ("accepted", "kinds", "visits", "many"):
        values[(None, name)] = rng.choice(CELLS[name])
    for nid, _ in notes:
        for name in ("content", "detail"):
            values[(nid, name)] = rng.choice(CELLS[name])
    values[("N0", "accepted")] = rng.choice(CELLS["accepted"])  # a record field stored at a note: never read
    return notes, {k: v for k, v in values.items() if v is not None or rng.random() < 0.5}


def _questions(cb: Codebook, notes: list[tuple[str, str | None]]) -> list[tuple[str | None, Field]]:
    places: list[str | None] = [None, *(nid for nid, _ in notes), "no-such-note"]
    return list(itertools.product(places, cb.fields))


def test_shared_answers_equal_the_per_record_form_on_nested_checkbox_and_note_conditions() -> None:
    cb = _codebook()
    shared = Answers(cb)
    rng = random.Random(5)
    asked = 0
    for _ in range(3000):
        notes, values = _record(rng)
        form = cb.form(notes, values)
        memo = SharedForm(shared, notes, values)
        for nid, fld in _questions(cb, notes):
            assert memo.applies(nid, fld) is form.applies(nid, fld), (notes, values, nid, fld.name)
            if fld.is_calc:
                got, want = memo.calculated(nid, fld), form.calculated(nid, fld)
                assert type(got) is type(want) and got == want, (notes, values, nid, fld.name)
            asked += 1
    # the point of it: far fewer Forms than questions (each distinct tuple once)
    assert shared.misses < asked / 5


def test_a_memoised_answer_follows_a_later_change_of_the_values() -> None:
    """The final values are set controlling fields first, in the same mapping the Form reads."""
    cb = _codebook()
    shared = Answers(cb)
    values: dict = {(None, "accepted"): "1", (None, "kinds"): "2"}
    memo = SharedForm(shared, [], values)
    assert memo.applies(None, "visits") is True
    values[(None, "kinds")] = "1"
    assert memo.applies(None, "visits") is cb.form([], values).applies(None, "visits") is False
    values[(None, "accepted")] = None
    assert memo.applies(None, "kinds") is False


def test_reads_are_the_closure_of_what_a_condition_reads() -> None:
    cb = _codebook()
    shared = Answers(cb)
    assert {name for name, _ in shared.reads("many") or ()} == {"accepted", "kinds", "visits"}
    assert shared.reads("detail") == (("accepted", False), ("content", True))
    assert shared.reads("accepted") == ()


def test_a_cycle_is_answered_by_the_form_itself() -> None:
    """The loader refuses cycles; a codebook built in code may hold one, and then the answer depends
    on the order of the questions, so nothing is memoised."""
    cb = Codebook(
        "cyc",
        "Cycle",
        "1",
        (
            Field("a", "A", "record", "binary", show_if="[b] = '1'"),
            Field("b", "B", "record", "binary", show_if="[a] = '1'"),
        ),
    )
    shared = Answers(cb)
    assert shared.reads("a") is None
    for a, b in itertools.product([None, "0", "1"], repeat=2):
        values = {(None, "a"): a, (None, "b"): b}
        memo = SharedForm(shared, [], values)
        assert memo.applies(None, "a") is cb.form([], values).applies(None, "a")
    assert shared.misses == 0
