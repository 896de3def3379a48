"""A derived variable is missing when its inputs are missing (the rule in audits/README.md).

Each derived kind at the boundary: every input missing, some missing, none missing. Before this
rule, a count of coded notes gave 0 for a record nobody had coded (the demo's 6 uncoded records
counted as "0 conjoint sessions").
"""

from __future__ import annotations

import pandas as pd
import pytest

from chartcode.analysis.derived import add_derived, parse_derived
from chartcode.codebook import load_codebook
from chartcode.yamlsrc import load_located

CODEBOOK = """\
id: tiny
title: Tiny
version: "1"
fields:
  - name: content
    label: Session content
    level: note
    note_types: [conjoint]
    type: nominal
    required: true
    choices: {1: Assessment, 2: Intervention}
  - name: homework
    label: Homework set (left empty when none)
    level: note
    type: binary
  - name: a
    label: A
    type: binary
  - name: b
    label: B
    type: binary
  - name: start
    label: Start
    type: date
  - name: end
    label: End
    type: date
"""
CB = load_codebook("codebooks/tiny.yaml", text=CODEBOOK)

DERIVED = """\
derived:
  - name: eq
    equals: {field: a, value: 1}
  - name: ne
    not_equals: {field: a, value: 1}
  - name: isin
    in: {field: a, values: [1]}
  - name: both
    all: [{equals: {field: a, value: 1}}, {equals: {field: b, value: 1}}]
  - name: either
    any: [{equals: {field: a, value: 1}}, {equals: {field: b, value: 1}}]
  - name: n_sessions
    count: {notes: content}
  - name: n_interventions
    count: {notes: content, values: [2]}
  - name: n_homework
    count: {notes: homework, values: [1]}
  - name: n_conjoint_notes
    count: {note_types: [conjoint]}
  - name: days
    date_difference: {from: start, to: end}
  - name: days_notes
    date_difference: {from: first_note, to: last_note}
  - name: b_when_a
    equals: {field: b, value: 1}
    where: {equals: {field: a, value: 1}}
"""

# Records: NONE has every input missing, SOME has part, ALL has every input present.
RECORDS = pd.DataFrame(
    {
        "record_id": ["NONE", "SOME", "ALL", "NONOTES"],
        "a": pd.array([None, 1, 1, 0], dtype="Int64"),
        "b": pd.array([None, None, 0, 1], dtype="Int64"),
        "start": [None, "2024-01-01", "2024-01-01", None],
        "end": [None, None, "2024-01-31", None],
    }
)
NOTES = pd.DataFrame(
    {
        "note_id": ["n1", "n2", "s1", "s2", "s3", "a1", "a2", "a3"],
        "record_id": ["NONE", "NONE", "SOME", "SOME", "SOME", "ALL", "ALL", "ALL"],
        "note_date": [None, None, "2024-01-02", None, "2024-01-09", "2024-01-02", "2024-01-05", "2024-01-12"],
        "note_type": ["conjoint", "phone", "conjoint", "conjoint", "phone", "conjoint", "conjoint", "phone"],
        # content applies to conjoint notes only (None elsewhere, as notes_frame gives it)
        "content": pd.array([None, None, 2, None, None, 1, 2, None], dtype="Int64"),
        # homework is optional: a coded note may leave it empty (a3 is coded, homework left empty)
        "homework": pd.array([None, None, 1, None, None, 1, None, 0], dtype="Int64"),
    }
)


@pytest.fixture(scope="module")
def derived():
    d = parse_derived(load_located("audits/tiny.yaml", text=DERIVED)["derived"], CB, "audits/tiny.yaml")
    out = add_derived(RECORDS, NOTES, d).set_index("record_id")
    return {c: {r: (None if pd.isna(v) else v) for r, v in out[c].items()} for c in out.columns}


@pytest.mark.parametrize(
    "name, expected",
    [
        # conditions: missing when their field is missing
        ("eq", {"NONE": None, "SOME": 1, "ALL": 1, "NONOTES": 0}),
        ("ne", {"NONE": None, "SOME": 0, "ALL": 0, "NONOTES": 1}),
        ("isin", {"NONE": None, "SOME": 1, "ALL": 1, "NONOTES": 0}),
        # all / any: three-valued (Kleene) logic -- a 0 decides all, a 1 decides any, else missing
        ("both", {"NONE": None, "SOME": None, "ALL": 0, "NONOTES": 0}),
        ("either", {"NONE": None, "SOME": 1, "ALL": 1, "NONOTES": 1}),
        # a count of coded notes: missing when a note it counts has no final value (a part-coded
        # record would count low); 0 only when the record has no such note at all
        ("n_sessions", {"NONE": None, "SOME": None, "ALL": 2, "NONOTES": 0}),
        ("n_interventions", {"NONE": None, "SOME": None, "ALL": 1, "NONOTES": 0}),
        # optional field: an uncoded note (no final value in any note-level field) is unknown, a
        # coded note that leaves the field empty is not counted
        ("n_homework", {"NONE": None, "SOME": None, "ALL": 1, "NONOTES": 0}),
        # a count of notes by type reads imported note types, not codes: never missing
        ("n_conjoint_notes", {"NONE": 1, "SOME": 2, "ALL": 2, "NONOTES": 0}),
        # date differences: missing when either date is missing
        ("days", {"NONE": None, "SOME": None, "ALL": 30, "NONOTES": None}),
        ("days_notes", {"NONE": None, "SOME": 7, "ALL": 10, "NONOTES": None}),
        # where: missing unless the condition is 1 (missing condition -> missing)
        ("b_when_a", {"NONE": None, "SOME": None, "ALL": 0, "NONOTES": None}),
    ],
)
def test_derived_is_missing_when_its_inputs_are(derived, name, expected):
    assert derived[name] == expected


def test_count_of_a_part_coded_record_becomes_known_once_coded():
    d = parse_derived(load_located("audits/tiny.yaml", text=DERIVED)["derived"], CB, "audits/tiny.yaml")
    notes = NOTES.copy()
    notes.loc[notes["note_id"] == "s2", ["content", "homework"]] = [1, 0]
    notes.loc[notes["note_id"] == "s3", "homework"] = 0
    out = add_derived(RECORDS, notes, d).set_index("record_id")
    assert out.loc["SOME", "n_sessions"] == 2
    assert out.loc["SOME", "n_interventions"] == 1
    assert out.loc["SOME", "n_homework"] == 1


def test_demo_uncoded_records_are_missing_not_zero(cli, tmp_path):
    """The issue's reproduction: stats --describe on the demo (6 records nobody has coded)."""
    from chartcode.demo import build_demo

    db = build_demo(tmp_path)
    res = cli("stats", db, "--describe", "n_conjoint_sessions accepted_followup", "--json")
    assert res.code == 0, res.err
    cells = {v["field"]: v["cells"][0] for v in res.json["analyses"][0]["stats"]["variables"]}
    uncoded = cells["accepted_followup"]["missing"]
    assert uncoded == 6
    # the uncoded records and the ones whose session content is still unresolved
    assert cells["n_conjoint_sessions"]["missing"] >= uncoded
    assert cells["n_conjoint_sessions"]["min"] >= 1  # every coded record of the demo has a session
