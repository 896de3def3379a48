"""A codebook declares the codes of a choice field that mean "no value" (``missing: [9]`` for Not
documented / Not disclosed), as a scale's "cannot rate" is: statistics leave them out, and the
SPSS / Stata exports declare them (tests/unit/test_export_spss.py, test_export_stata.py).
Bad declarations are refused with the file, line and field."""

from __future__ import annotations

import pytest

from chartcode import resources
from chartcode.analysis import analysis_frame
from chartcode.codebook import load_codebook
from chartcode.dataset import records_frame
from chartcode.demo import build_demo
from chartcode.errors import UserError
from chartcode.store import Store

BASE = """id: m
title: Missing codes
version: "1"
fields:
  - name: sex
    label: Sex
    type: nominal
    choices:
      1: Male
      2: Female
      9: Not documented
    missing: {missing}
  - name: visits
    label: Visits
    type: count
"""


def test_declared_codes_are_missing_and_the_others_stay_codes():
    f = load_codebook("m.yaml", text=BASE.format(missing="[9]")).field("sex")
    assert f.missing_codes == (9,) and f.rating_codes == (1, 2)
    assert f.codes == (1, 2, 9)  # still a code coders can give
    assert f.parse("9") == 9


def test_the_shipped_conjoint_pain_codebook_declares_not_documented_and_not_disclosed():
    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    assert cb.field("sex").missing_codes == (9,) and cb.field("race_ethnicity").missing_codes == (9,)
    assert all(not f.missing_codes for f in cb.fields if f.name not in ("sex", "race_ethnicity"))


@pytest.mark.parametrize(
    "missing, expected",
    [
        ("9", "m.yaml:12: field 'sex': 'missing' takes a list of the field's choice codes"),
        ("[]", "m.yaml:12: field 'sex': 'missing' takes a list"),
        ("[7]", "m.yaml:12: field 'sex': missing code 7 is not one of the field's choices"),
        ("['9']", "m.yaml:12: field 'sex': missing code '9' is not one of the field's choices"),
        ("[true]", "m.yaml:12: field 'sex': missing code true is not one of the field's choices"),
        ("[1, 2, 9]", "m.yaml:12: field 'sex': 'missing' cannot hold every choice"),
    ],
)
def test_a_bad_declaration_names_the_line_and_field(missing, expected):
    with pytest.raises(UserError) as exc:
        load_codebook("m.yaml", text=BASE.format(missing=missing))
    assert expected.lower() in str(exc.value).lower()


def test_missing_on_a_field_without_choices_is_refused():
    text = BASE.format(missing="[9]") + "    missing: [0]\n"
    with pytest.raises(UserError) as exc:
        load_codebook("m.yaml", text=text)
    assert "field 'visits': missing code 0 is not one of the field's choices" in str(exc.value)


def test_analyses_leave_a_declared_missing_code_out(tmp_path):
    with Store.open(build_demo(tmp_path, complete=True)) as s:
        frame, known = analysis_frame(s)
        raw = records_frame(s)
    assert (raw["race_ethnicity"] == 9).sum() == 2
    assert (frame["race_ethnicity"] == 9).sum() == 0 and frame["race_ethnicity"].isna().sum() == (
        raw["race_ethnicity"].isna().sum() + 2
    )
    assert 9 not in dict(known["race_ethnicity"].choices)


def test_declaring_a_missing_code_on_an_existing_audit_is_a_change_to_review():
    from chartcode.codebook import diff

    before = load_codebook("m.yaml", text=BASE.format(missing="[9]").replace("    missing: [9]\n", ""))
    after = load_codebook("m.yaml", text=BASE.format(missing="[9]"))
    changes = [c for c in diff(before, after) if c.field == "sex"]
    assert [(c.severity, c.text) for c in changes] == [
        ("review", "the missing codes (cannot rate, missing:) changed from [] to [9]")
    ]
    added = load_codebook(
        "m.yaml", text=BASE.format(missing="[9]").replace("2: Female\n", "2: Female\n      3: Other\n")
    )
    assert all("missing codes" not in c.text for c in diff(after, added))  # a new code: missing codes unchanged
