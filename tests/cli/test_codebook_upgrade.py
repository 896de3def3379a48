"""`chartcode codebook upgrade`: a change of what stored codes mean is refused, with or
without --yes; rewording is accepted with --yes; --by names a supervisor or lead of the audit.

Every test goes through the real CLI on an audit made with `chartcode init --audit conjoint-pain`
(coders intern, supervisor, qi-lead) with a few codes stored.
"""

from __future__ import annotations

import pytest

from chartcode import resources

CODES = (
    "record_id,note_id,field,value\n"
    "R1,,sex,1\nR2,,sex,2\nR3,,sex,1\n"
    "R1,,followup_evident,1\nR2,,followup_evident,0\n"
    "R1,,last_note_outcome,3\nR1,,race_ethnicity,2\n"
)


@pytest.fixture
def coded_db(audit_db, cli, tmp_path):
    (tmp_path / "codes.csv").write_text(CODES, encoding="utf-8")
    r = cli("import-codes", audit_db, tmp_path / "codes.csv", "--coder", "intern")
    assert r.code == 0, r.err
    return audit_db


def variant(tmp_path, *replacements: tuple[str, str]):
    """The shipped conjoint-pain codebook, version 1.1, with text replacements (each must apply)."""
    text = resources.resolve("codebooks", "conjoint-pain").read_text(encoding="utf-8")
    text = text.replace('version: "1.0"', 'version: "1.1"')
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    out = tmp_path / "new.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def snapshot(status, db):
    s = status(db)
    return s["codebook"]["hash"], s["history"]


SEX_SWAP = [("      1: Male\n      2: Female\n", "      1: Female\n      2: Male\n")]
RACE_PERMUTATION = [
    (
        "      1: Non-Hispanic White\n      2: Non-Hispanic Black\n      3: Hispanic or Latino\n",
        "      1: Non-Hispanic Black\n      2: Hispanic or Latino\n      3: Non-Hispanic White\n",
    )
]
BINARY_FLIP = [
    (
        "      0: None or unclear / limited follow-up evident\n"
        "      1: Completed 1 or more sessions of individual or group services\n",
        "      0: Completed 1 or more sessions of individual or group services\n"
        "      1: None or unclear / limited follow-up evident\n",
    )
]
# psychoeducation has no choices in the file: binary fields default to 0 = No, 1 = Yes
IMPLICIT_BINARY_FLIP = [
    (
        "    note_types: [conjoint]\n    type: binary\n    required: true\n    rules: |\n"
        "      1 if the note documents education about pain",
        "    note_types: [conjoint]\n    type: binary\n    required: true\n"
        "    choices:\n      0: Yes\n      1: No\n    rules: |\n"
        "      1 if the note documents education about pain",
    )
]
OUTCOMES = [
    "1: No intervention offered\n",
    "2: Skills introduced with no evidence of follow through\n",
    "3: Patient using coping skills\n",
    "4: Patient using skills with confidence/success reported\n",
    "5: Patient using skills with both success reported and reports of benefit/improvement with pain management\n",
    "6: Patient connected with adjunctive services\n",
]
ORDINAL_REORDER = [("".join("      " + o for o in OUTCOMES), "".join("      " + o for o in reversed(OUTCOMES)))]
ORDINAL_LABELS_REVERSED = [
    (
        "".join("      " + o for o in OUTCOMES),
        "".join(f"      {i + 1}:{o.split(':', 1)[1]}" for i, o in enumerate(reversed(OUTCOMES))),
    )
]
# code 1 takes code 9's old label (case changed); 9 gets a new one: not a swap, still a change of meaning
TAKES_ANOTHER_LABEL = [
    (
        "      1: Male\n      2: Female\n      9: Not documented\n",
        "      1: not documented\n      2: Female\n      9: Unknown\n",
    )
]
# code 2 is reworded and its old label moves to a new code 3
LABEL_MOVES_TO_NEW_CODE = [
    (
        "      2: Female\n      9: Not documented\n",
        "      2: Female (self-reported)\n      3: Female\n      9: Not documented\n",
    )
]
CODE_REMOVED_UNUSED = [("      4: Group services\n", "")]  # no followup_type code is stored
# codes renumbered under new wording: no label collides, but code 1 moved in the list
RENUMBERED_REWORDED = [("      1: Male\n      2: Female\n", "      2: Men\n      1: Women\n")]


@pytest.mark.parametrize("yes", [False, True], ids=["without-yes", "with-yes"])
def test_label_swap_is_refused_and_nothing_changes(cli, coded_db, tmp_path, status, yes):
    new = variant(tmp_path, *SEX_SWAP)
    before = snapshot(status, coded_db)
    r = cli("codebook", "upgrade", coded_db, new, *(["--yes"] if yes else []))
    assert r.code == 2, r.out
    assert (
        "sex: code 1 label 'Male' -> 'Female' is another code's label (a swap changes what stored codes mean)"
        " - 2 stored codes affected; make a new field or a new audit instead"
    ) in r.err  # R1 and R3 have sex = 1
    assert "sex: code 2 label 'Female' -> 'Male' is another code's label" in r.err
    assert "upgraded" not in r.out
    assert snapshot(status, coded_db) == before
    diff = cli("codebook", "diff", coded_db, new).out
    assert diff.count("[breaking]") == 2
    assert (
        "[breaking] field 'sex': code 1 label 'Male' -> 'Female' is another code's label (a swap changes what"
        " stored codes mean); make a new field or a new audit instead"
    ) in diff


@pytest.mark.parametrize(
    "replacements, field",
    [
        (RACE_PERMUTATION, "race_ethnicity"),
        (BINARY_FLIP, "followup_evident"),
        (IMPLICIT_BINARY_FLIP, "psychoeducation"),
        (ORDINAL_REORDER, "last_note_outcome"),
        (ORDINAL_LABELS_REVERSED, "last_note_outcome"),
        (TAKES_ANOTHER_LABEL, "sex"),
        (LABEL_MOVES_TO_NEW_CODE, "sex"),
        (CODE_REMOVED_UNUSED, "followup_type"),
        (RENUMBERED_REWORDED, "sex"),
    ],
    ids=[
        "three-way-permutation",
        "binary-flip",
        "implicit-binary-flip",
        "ordinal-reorder",
        "ordinal-labels-reversed",
        "takes-another-codes-label",
        "label-moves-to-new-code",
        "unused-code-removed",
        "renumbered-and-reworded",
    ],
)
@pytest.mark.parametrize("yes", [False, True], ids=["without-yes", "with-yes"])
def test_changes_of_meaning_are_refused_with_or_without_yes(cli, coded_db, tmp_path, status, replacements, field, yes):
    new = variant(tmp_path, *replacements)
    before = snapshot(status, coded_db)
    r = cli("codebook", "upgrade", coded_db, new, *(["--yes"] if yes else []))
    assert r.code == 2, r.out
    assert "refused with or without --yes" in r.err and f"\n  {field}: " in r.err
    assert snapshot(status, coded_db) == before


def test_three_way_permutation_names_each_code(cli, coded_db, tmp_path):
    r = cli("codebook", "upgrade", coded_db, variant(tmp_path, *RACE_PERMUTATION), "--yes")
    for line in (
        "race_ethnicity: code 1 label 'Non-Hispanic White' -> 'Non-Hispanic Black' is another code's label",
        "race_ethnicity: code 2 label 'Non-Hispanic Black' -> 'Hispanic or Latino' is another code's label",
        "race_ethnicity: code 3 label 'Hispanic or Latino' -> 'Non-Hispanic White' is another code's label",
    ):
        assert line in r.err


def test_rewording_needs_yes_and_says_how_many_codes_it_touches(cli, coded_db, tmp_path, status):
    new = variant(tmp_path, ("      1: Male\n", "      1: Man\n"), ("      2: Female\n", "      2: female.\n"))
    before = snapshot(status, coded_db)
    r = cli("codebook", "upgrade", coded_db, new)
    assert r.code == 2 and "--yes" in r.err
    assert "sex: choice 1 relabelled from 'Male' to 'Man' - 2 stored codes show the new label" in r.err
    assert "sex: choice 2 relabelled from 'Female' to 'female.' - 1 stored code shows the new label" in r.err
    assert snapshot(status, coded_db) == before
    r = cli("codebook", "upgrade", coded_db, new, "--yes", "--by", "qi-lead")
    assert r.code == 0, r.err
    assert "upgraded" in r.out
    s = status(coded_db)
    assert s["codebook"]["version"] == "1.1" and s["codebook"]["hash"] != before[0]
    assert s["history"] == before[1] + 1


def test_adding_a_code_is_accepted(cli, coded_db, tmp_path, status):
    new = variant(tmp_path, ("      9: Not documented\n", "      3: Intersex\n      9: Not documented\n"))
    r = cli("codebook", "upgrade", coded_db, new)
    assert r.code == 0, r.err
    assert "choice 3 (Intersex) added" in r.out
    assert status(coded_db)["codebook"]["version"] == "1.1"


@pytest.mark.parametrize(
    "by, message",
    [
        ("Mallory-not-a-coder", "coder 'Mallory-not-a-coder' is not in this audit"),
        ("intern", "'intern' is a coder; a codebook is upgraded by a supervisor or lead"),
    ],
)
def test_by_must_name_a_supervisor_or_lead_of_the_audit(cli, coded_db, tmp_path, status, by, message):
    new = variant(tmp_path, ("      9: Not documented\n", "      3: Intersex\n      9: Not documented\n"))
    before = snapshot(status, coded_db)
    r = cli("codebook", "upgrade", coded_db, new, "--by", by)
    assert r.code == 2 and message in r.err
    assert snapshot(status, coded_db) == before


@pytest.mark.parametrize(
    "by, expected",
    [("qi-lead", "qi-lead"), ("supervisor", "supervisor"), (None, "qi-lead")],
    ids=["lead", "supervisor", "default-first-lead"],
)
def test_by_a_lead_or_supervisor_is_recorded(cli, coded_db, tmp_path, by, expected):
    new = variant(tmp_path, ("      9: Not documented\n", "      3: Intersex\n      9: Not documented\n"))
    r = cli("codebook", "upgrade", coded_db, new, *(["--by", by] if by else []))
    assert r.code == 0, r.err
    last = cli("history", coded_db, "--json").json[-1]
    assert last["action"] == "codebook" and last["actor"] == expected
