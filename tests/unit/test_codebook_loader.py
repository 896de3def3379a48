"""Codebooks are data: validation errors name file, line and field; the hash tracks meaning."""

from __future__ import annotations

import pytest

from chartcode import resources
from chartcode.codebook import CodeError, diff, load_codebook
from chartcode.errors import UserError

GOOD = """\
id: tiny
title: Tiny codebook
version: "1.0"
fields:
  - name: termination
    label: Termination
    type: nominal
    required: true
    choices:
      1: Completed
      2: Not a good match
      3: Did not follow through
  - name: content
    label: Session content
    level: note
    note_types: [conjoint]
    type: ordinal
    choices: {1: Low, 2: Medium, 3: High}
  - name: age
    label: Age
    type: count
    min: 18
    max: 110
  - name: flag
    label: Flag
    type: binary
"""


def load(tmp_path, text, name="x.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return load_codebook(p), p


def error_of(tmp_path, text) -> str:
    with pytest.raises(UserError) as exc:
        load(tmp_path, text)
    return str(exc.value)


def test_every_shipped_codebook_is_valid():
    names = resources.shipped_names("codebooks")
    assert "conjoint-pain" in names
    for name in names:
        cb = load_codebook(resources.shipped_dir("codebooks") / f"{name}.yaml")
        assert cb.fields


def test_conjoint_pain_codebook_has_the_seed_schemes_exactly():
    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    sc = cb.field("session_content")
    assert sc.level == "note" and sc.note_types == ("conjoint",)
    assert [c.code for c in sc.choices] == [1, 2, 3, 4, 5, 6]
    assert sc.choices[0].label == "Declined" and sc.choices[5].label.startswith("Follow-up conjoint")
    assert [c.code for c in cb.field("followup_type").choices] == [1, 2, 3, 4]
    assert [c.code for c in cb.field("followup_evident").choices] == [0, 1]
    assert [c.code for c in cb.field("last_note_outcome").choices] == [1, 2, 3, 4, 5, 6]
    assert cb.field("last_note_outcome").type == "ordinal"
    assert [c.code for c in cb.field("termination").choices] == [1, 2, 3, 4, 5]
    for name in (
        "age",
        "sex",
        "race_ethnicity",
        "mh_diagnosis",
        "sud_diagnosis",
        "mh_treatment",
        "prior_hp_contact",
        "referred_elsewhere",
        "accepted_followup",
        "followup_sessions",
    ):
        assert cb.field(name).level == "record"
        assert cb.field(name).rules, f"{name} needs decision rules for coders"


def test_a_valid_codebook_loads_with_defaults(tmp_path):
    cb, _ = load(tmp_path, GOOD)
    assert cb.id == "tiny" and cb.version == "1.0"
    assert cb.field("termination").level == "record"
    assert cb.field("flag").codes == (0, 1)  # binary defaults to No/Yes
    assert cb.field("content").applies_to("conjoint") and not cb.field("content").applies_to("phone")


def test_duplicate_choice_code_names_file_line_and_field(tmp_path):
    text = GOOD.replace("      3: Did not follow through", "      3: Did not follow through\n      3: Declined")
    msg = error_of(tmp_path, text)
    assert f"{tmp_path / 'x.yaml'}:13: field 'termination': choice code 3 appears twice (first at line 12)" in msg


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "    type: nominal\n",
            "    type: categorical\n",
            ":7: field 'termination': type 'categorical' must be one of",
        ),
        ("  - name: age\n", "  - name: Age Years\n", "field '#3': name must start with a lower-case letter"),
        ("    level: note\n", "    level: session\n", ":15: field 'content': level 'session' must be one of"),
        ("    min: 18\n", "    min: 200\n", "field 'age': min 200 is greater than max 110"),
        (
            "    type: binary\n",
            "    type: binary\n    choices: {1: Yes, 2: No}\n",
            "field 'flag': a binary field has exactly the codes 0 and 1",
        ),
        (
            "    choices: {1: Low, 2: Medium, 3: High}\n",
            "    choices: {a: Low, b: High}\n",
            "field 'content': choice code 'a': ordinal codes must be whole numbers",
        ),
        ("    label: Age\n", "    label: Age\n    colour: red\n", "field 'age': unknown key 'colour'"),
        ("    label: Termination\n", "", ":5: field 'termination': 'label' is required"),
        ("  - name: flag\n", "  - name: age\n", "field 'age': field name appears twice"),
        (
            "    choices: {1: Low, 2: Medium, 3: High}\n",
            "    choices: {1: Low, 2: low}\n",
            "choice label 'low' is used by codes 1 and 2",
        ),
        ("    type: count\n", "    type: count\n    choices: {1: One}\n", "field 'age': a count field has no choices"),
    ],
)
def test_each_problem_names_the_line_and_field(tmp_path, old, new, expected):
    assert old in GOOD
    msg = error_of(tmp_path, GOOD.replace(old, new, 1))
    assert expected in msg
    assert str(tmp_path / "x.yaml") in msg


def test_all_problems_are_reported_at_once(tmp_path):
    text = GOOD.replace("type: nominal", "type: nope").replace("type: count", "type: bad")
    msg = error_of(tmp_path, text)
    assert "2 problems" in msg and "'termination'" in msg and "'age'" in msg


def test_yaml_syntax_error_names_the_line(tmp_path):
    msg = error_of(tmp_path, GOOD.replace("    choices:\n      1: Completed", "    choices: [\n      1: Completed"))
    assert "x.yaml:" in msg and "YAML syntax error" in msg


def test_yes_no_are_strings_not_booleans(tmp_path):
    # YAML 1.2: a label "No" stays the word, it does not become False.
    cb, _ = load(tmp_path, GOOD.replace("1: Completed", "1: no"))
    assert cb.field("termination").choice(1).label == "no"


def test_hash_ignores_comments_and_layout_but_not_meaning(tmp_path):
    a, _ = load(tmp_path, GOOD, "a.yaml")
    b, _ = load(
        tmp_path,
        "# a comment\n"
        + GOOD.replace(
            "choices: {1: Low, 2: Medium, 3: High}", "choices:\n      1: Low\n      2: Medium\n      3: High"
        ),
        "b.yaml",
    )
    c, _ = load(tmp_path, GOOD.replace("3: Did not follow through", "3: No show"), "c.yaml")
    assert a.hash == b.hash
    assert a.hash != c.hash


def test_diff_classifies_changes_by_what_they_do_to_stored_codes(tmp_path):
    a, _ = load(tmp_path, GOOD, "a.yaml")
    b, _ = load(
        tmp_path,
        GOOD.replace("      3: Did not follow through\n", "      4: Declined\n").replace(
            "label: Age\n", "label: Age in years\n"
        ),
        "b.yaml",
    )
    changes = {(c.severity, c.field, c.text) for c in diff(a, b)}
    assert ("breaking", "termination", "choice 3 (Did not follow through) removed") in changes
    assert ("info", "termination", "choice 4 (Declined) added") in changes
    assert ("review", "age", "label changed from 'Age' to 'Age in years'") in changes


@pytest.mark.parametrize(
    "field, raw, expected",
    [
        ("termination", "2", 2),
        ("termination", " 3 ", 3),
        ("termination", "3.0", 3),
        ("age", "61", 61),
        ("flag", "1", 1),
        ("content", 2, 2),
    ],
)
def test_values_are_parsed_to_stored_codes(tmp_path, field, raw, expected):
    cb, _ = load(tmp_path, GOOD)
    assert cb.field(field).parse(raw) == expected


@pytest.mark.parametrize(
    "field, raw, message",
    [
        ("termination", "7", "'7' is not a code of this field (codes: 1 = Completed"),
        ("age", "17", "below the minimum 18"),
        ("age", "sixty", "not a whole number"),
        ("age", "-1", "cannot be negative"),
        ("termination", "", "a value is required"),
    ],
)
def test_values_outside_the_field_are_refused_with_the_allowed_codes(tmp_path, field, raw, message):
    cb, _ = load(tmp_path, GOOD)
    with pytest.raises(CodeError, match=message.replace("(", r"\(")):
        cb.field(field).parse(raw)
