"""The expression language of show_if and calc (chartcode.codebook.logic): REDCap's spelling,
parsed (never eval'd), checked against the codebook, evaluated the way REDCap evaluates it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest

from chartcode.codebook import logic
from chartcode.codebook.loader import load_codebook
from chartcode.errors import UserError

REDCAP_DIR = Path(__file__).parent.parent / "data" / "redcap"


def ev(text: str, values: dict[str, object], today: dt.date | None = None) -> object:
    def lookup(r: logic.Ref) -> object:
        v = values.get(r.name)
        if r.option is not None:
            return "1" if r.option in str(v or "").split("|") else "0"
        return v

    return logic.evaluate(logic.parse(text), lookup, today)


# ---- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[accepted_followup] = '1'",
        "[a] <> '' and [b] > 3",
        "[a]='1' or ([b] = \"2\" and not [c] < 5)",
        "[content(2)] = '1'",
        "[age] >= 18 AND [age] <= 65",
        "([a] = 1 OR [b] = 1) and [c] != 0",
        "sum([a], [b], [c]) / 3",
        "if([a] = 1, [b] * 2, 0)",
        "datediff([d1], [d2], 'y', 'ymd', true)",
        "rounddown(datediff([dob], 'today', 'y'))",
        "[a] ^ 2 + -[b]",
        "[a] == 1",
    ],
)
def test_redcap_spellings_parse(text: str) -> None:
    e = logic.parse(text)
    assert logic.to_redcap(e)  # and can be written back
    assert logic.parse(logic.to_redcap(e)) == e or isinstance(e, logic.Bool) or "not" in text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("[a] = '1", "unclosed quote"),
        ("[a] = 1 and", "expected a field"),
        ("[a] = = 1", "expected a field"),
        ("[A b] = 1", "not a field reference"),
        ("[event_1_arm_1][a] = 1", "event references"),
        ("[a:checked] = 1", "smart variables"),
        ("[user-name] = 'x'", "smart variables"),
        ("contains([a], 'x')", "contains() is not supported"),
        ("frob([a])", "unknown function"),
        ("if([a] = 1, 2)", "if() takes 3 arguments"),
        ("1 < [a] < 3", "do not chain"),
        ("[a] = 1)", "unexpected ')'"),
        ("[a] = yes", "not a field, a value or a function"),
        ("[a] = 1 ; drop", "character ';'"),
        ("__import__('os')", "unknown function"),
    ],
)
def test_bad_expressions_say_what_and_where(text: str, words: str) -> None:
    with pytest.raises(logic.LogicError) as err:
        logic.parse(text)
    assert words in str(err.value)


def test_an_error_names_the_character_it_stopped_at() -> None:
    with pytest.raises(logic.LogicError) as err:
        logic.parse("[a] = '1' and [b] = ")
    assert err.value.column == len("[a] = '1' and [b] = ") + 1


def test_precedence_and_binds_tighter_than_or() -> None:
    e = logic.parse("[a] = 1 or [b] = 1 and [c] = 1")
    assert isinstance(e, logic.Bool) and e.op == "or"
    assert ev("[a] = 1 or [b] = 1 and [c] = 1", {"a": 1, "b": 0, "c": 0}) is True
    assert ev("([a] = 1 or [b] = 1) and [c] = 1", {"a": 1, "b": 0, "c": 0}) is False


def test_to_redcap_writes_brackets_only_where_needed() -> None:
    assert logic.to_redcap(logic.parse("([a]='1' or [b]='2') and [c]<>''")) == "([a] = '1' or [b] = '2') and [c] <> ''"
    assert logic.to_redcap(logic.parse("[a] - ([b] - [c])")) == "[a] - ([b] - [c])"
    assert logic.to_redcap(logic.parse("([a] - [b]) - [c]")) == "[a] - [b] - [c]"
    # REDCap has no 'not': negations are pushed into the comparisons
    assert logic.to_redcap(logic.parse("not ([a] = 1 and [b] < 2)")) == "[a] <> 1 or [b] >= 2"


def test_every_branching_and_calc_expression_of_the_real_dictionaries_parses() -> None:
    """The REDCap dictionaries in tests/data/redcap (sources: tests/data/redcap/README.md)."""
    seen = parsed = 0
    for path in sorted(REDCAP_DIR.glob("*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        head = [h.strip().lower() for h in rows[0]]
        b = next((i for i, h in enumerate(head) if "branching" in h), None)
        t = next((i for i, h in enumerate(head) if h in ("field type", "field_type")), None)
        c = next((i for i, h in enumerate(head) if "choices" in h), None)
        for r in rows[1:]:
            texts = []
            if b is not None and b < len(r) and r[b].strip() not in ("", "NA"):  # NA: R's blank
                texts.append(r[b])
            if t is not None and c is not None and t < len(r) and r[t].strip() == "calc":
                texts.append(r[c])
            for text in texts:
                seen += 1
                logic.parse(text)
                parsed += 1
    assert seen >= 100 and parsed == seen


# ---- evaluating ---------------------------------------------------------------------------


def test_comparisons_follow_redcap() -> None:
    assert ev("[a] = '1'", {"a": 1}) is True  # a code compared with quoted text: as numbers
    assert ev("[a] = '1.0'", {"a": 1}) is True
    assert ev("[a] = '1'", {}) is False  # not coded: blank
    assert ev("[a] = ''", {}) is True
    assert ev("[a] <> ''", {"a": 0}) is True  # 0 is a code, not blank
    assert ev("[a] > 3", {}) is False and ev("[a] < 3", {}) is False  # ordering with blank: false
    assert ev("[a] > 3", {"a": 10}) is True  # numbers, not text ('10' < '3')
    assert ev("[d] > '2024-01-31'", {"d": "2024-02-01"}) is True  # ISO dates order as text
    assert ev("[a] = 'yes'", {"a": "YES"}) is False  # text compares exactly


def test_checkbox_options_read_one_or_zero() -> None:
    assert ev("[content(2)] = '1'", {"content": "1|2"}) is True
    assert ev("[content(3)] = '1'", {"content": "1|2"}) is False
    assert ev("[content(3)] = '0'", {}) is True  # not coded: every option unticked


def test_arithmetic_blanks_and_division_by_zero_give_blank() -> None:
    assert ev("[a] + [b]", {"a": 2, "b": 3}) == 5
    assert ev("[a] + [b]", {"a": 2}) is None
    assert ev("[a] / [b]", {"a": 2, "b": 0}) is None
    assert ev("sum([a], [b], [c])", {"a": 2, "c": 3}) == 5  # sum leaves blanks out
    assert ev("sum([a], [b])", {}) is None
    assert ev("mean([a], [b], [c])", {"a": 2, "b": 4}) == 3
    assert ev("2 ^ 3 * 2", {}) == 16
    assert ev("-[a] + 1", {"a": 3}) == -2


def test_functions_if_round_datediff() -> None:
    assert ev("if([a] = 1, 10, 20)", {"a": 1}) == 10
    assert ev("if([a] = 1, 10, 20)", {}) == 20
    assert ev("rounddown(7.89, 1)", {}) == pytest.approx(7.8)
    assert ev("roundup(7.81, 1)", {}) == pytest.approx(7.9)
    assert ev("round(2.5)", {}) == 3
    days = ev("datediff([d1], [d2], 'd')", {"d1": "2024-01-01", "d2": "2024-03-01"})
    assert days == 60  # 2024 is a leap year
    # unsigned unless asked, as in REDCap
    assert ev("datediff([d2], [d1], 'd')", {"d1": "2024-01-01", "d2": "2024-03-01"}) == 60
    assert ev("datediff([d2], [d1], 'd', 'ymd', true)", {"d1": "2024-01-01", "d2": "2024-03-01"}) == -60
    years = ev("rounddown(datediff([dob], 'today', 'y'))", {"dob": "1960-06-15"}, today=dt.date(2026, 6, 14))
    assert years == 65
    assert ev("datediff([d1], [d2], 'M')", {"d1": "2024-01-01", "d2": "2024-01-31"}) == pytest.approx(30 / 30.44)
    assert ev("datediff([d1], [d2], 'd')", {"d1": "2024-01-01"}) is None


# ---- checking against the codebook ----------------------------------------------------------

BASE = """id: t
title: T
version: "1"
fields:
  - name: accepted
    label: Accepted follow-up
    type: binary
    required: true
  - name: ftype
    label: Follow-up type
    type: nominal
    choices: {1: Phone, 2: Visit}
    required: true
    show_if: "[accepted] = '1'"
  - name: sessions
    label: Sessions
    type: count
    required: true
    show_if: "[ftype] = '2'"
  - name: age
    label: Age
    type: count
  - name: comment
    label: Comment
    type: text
  - name: first
    label: First visit
    type: date
  - name: last
    label: Last visit
    type: date
  - name: step
    label: Skill step
    level: note
    note_types: [conjoint]
    type: binary
    show_if: "[accepted] = 1"
"""


def problems(extra: str) -> list[str]:
    with pytest.raises(UserError) as err:
        load_codebook("cb.yaml", BASE + extra)
    return err.value.problems or [err.value.message]


def test_a_good_codebook_with_conditions_loads() -> None:
    cb = load_codebook("cb.yaml", BASE)
    assert cb.field("ftype").show_if == "[accepted] = '1'"
    assert cb.depends_on("sessions") == {"ftype"}


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ('    show_if: "[nope] = 1"\n', "unknown field [nope]"),
        ("    show_if: \"[age] = 'yes'\"\n", "[age] is a number; 'yes' is not"),
        ('    show_if: "[ftype] = 3"\n', "'3' is not a code of [ftype]"),
        ("    show_if: \"[first] = 'soon'\"\n", "[first] is a date"),
        ('    show_if: "[age]"\n', "a condition compares"),
        ('    show_if: "[x] = 1"\n', "x -> x"),
        ('    show_if: "[step] = 1"\n', "record-level field cannot depend on note-level [step]"),
        ('    show_if: "[age] = \'1"\n', "unclosed quote"),
    ],
)
def test_bad_conditions_name_file_line_and_field(extra: str, words: str) -> None:
    got = problems("  - name: x\n    label: X\n    type: count\n" + extra)
    line = len((BASE + "  - name: x\n    label: X\n    type: count\n").splitlines()) + 1
    assert any(words in p and p.startswith(f"cb.yaml:{line}: field 'x':") for p in got), got


@pytest.mark.parametrize(
    ("calc", "words"),
    [
        ("[age] / 0", "division by zero"),
        ("[comment] + 1", "text field [comment] is not a number"),
        ("[first] + 1", "date [first] is not a number"),
        ("datediff([age], [last], 'd')", "datediff() takes dates"),
        ("datediff([first], [last], 'h')", "unit 'h' is not supported"),
        ("[nope] * 2", "unknown field [nope]"),
    ],
)
def test_bad_calcs_are_refused(calc: str, words: str) -> None:
    got = problems(f'  - name: x\n    label: X\n    type: numeric\n    calc: "{calc}"\n')
    assert any(words in p and "field 'x'" in p for p in got), got


def test_a_calc_field_is_a_number_and_not_required() -> None:
    got = problems('  - name: x\n    label: X\n    type: text\n    required: true\n    calc: "[age] + 1"\n')
    assert any("a calc field is a number" in p for p in got)
    assert any("cannot be required" in p for p in got)


def test_a_cycle_through_two_fields_is_refused() -> None:
    extra = (
        '  - name: x\n    label: X\n    type: binary\n    show_if: "[y] = 1"\n'
        '  - name: y\n    label: Y\n    type: binary\n    show_if: "[x] = 1"\n'
    )
    got = problems(extra)
    assert any("x -> y -> x" in p for p in got), got


def test_a_note_field_cannot_depend_on_a_field_of_other_notes() -> None:
    extra = (
        "  - name: other\n    label: O\n    level: note\n    note_types: [phone]\n    type: binary\n"
        '    show_if: "[step] = 1"\n'
    )
    assert any("never coded on the same note" in p for p in problems(extra))


def test_hash_unchanged_for_codebooks_without_logic() -> None:
    plain = BASE.split("    show_if")[0]  # accepted and ftype, no condition
    cb = load_codebook("cb.yaml", plain)
    assert "show_if" not in cb.canonical_json() and "calc" not in cb.canonical_json()


# ---- the form: what applies, what is required ----------------------------------------------


def test_required_fields_that_do_not_apply_are_not_missing() -> None:
    cb = load_codebook("cb.yaml", BASE)
    notes = [("n1", "conjoint")]
    missing = [(nid, f.name) for nid, f in cb.missing_required(notes, {(None, "accepted"): 0})]
    assert missing == []  # ftype and sessions do not apply; step does not apply on n1
    missing = [(nid, f.name) for nid, f in cb.missing_required(notes, {(None, "accepted"): 1})]
    assert missing == [(None, "ftype")]  # sessions waits for ftype = 2
    values = {(None, "accepted"): 1, (None, "ftype"): 2}
    assert [f.name for _, f in cb.missing_required(notes, values)] == ["sessions"]


def test_a_chain_switches_off_together_and_codes_left_behind_are_found() -> None:
    cb = load_codebook("cb.yaml", BASE)
    values = {(None, "accepted"): 0, (None, "ftype"): 2, (None, "sessions"): 4}
    form = cb.form([], values)
    assert not form.applies(None, "ftype")
    assert not form.applies(None, "sessions")  # ftype does not apply, so it reads as blank
    assert [f.name for _, f in form.inapplicable_coded()] == ["ftype", "sessions"]


def test_note_level_conditions_see_record_level_codes() -> None:
    cb = load_codebook("cb.yaml", BASE)
    notes = [("n1", "conjoint"), ("n2", "phone")]
    form = cb.form(notes, {(None, "accepted"): 1})
    assert form.applies("n1", "step") and not form.applies("n2", "step")
    assert ("n1", "step") in [(nid, f.name) for nid, f in form.applicable()]


def test_calculated_fields_are_computed_and_never_targets() -> None:
    cb = load_codebook(
        "cb.yaml",
        BASE
        + "  - name: days\n    label: Days in care\n    type: count\n    calc: \"datediff([first], [last], 'd')\"\n"
        + '  - name: weeks\n    label: Weeks\n    type: numeric\n    calc: "rounddown([days] / 7, 1)"\n',
    )
    assert "days" not in [f.name for _, f in cb.targets([])]
    form = cb.form([], {(None, "first"): "2024-01-01", (None, "last"): "2024-01-31"})
    assert form.calculated(None, "days") == 30
    assert form.calculated(None, "weeks") == pytest.approx(4.2)
    assert cb.form([], {}).calculations() == {(None, "days"): None, (None, "weeks"): None}
