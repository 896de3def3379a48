"""Applicability disagreements in `disagreements` and final values with branching logic: a unit
where the coders disagree on whether a field applies is its own kind, pointing at the controlling
field, and the controlling field's consensus settles it; a conditional field's final value is n/a
(source not_applicable) when its condition is false on the final values, whatever a coder left
there. Data: tests/applicability_data.py."""

from __future__ import annotations

import json

import pytest

from tests.applicability_data import branching_store


@pytest.fixture
def db(tmp_path):
    s = branching_store(tmp_path / "audit.db")
    s.close()
    return tmp_path / "audit.db"


def listed(cli, db, *args) -> list[dict]:
    r = cli("disagreements", db, "--json", *args)
    assert r.code == 0, r.err
    return json.loads(r.out)["disagreements"]


def finals(cli, db) -> dict[tuple[str, str], dict]:
    r = cli("final", db, "--format", "json")
    assert r.code == 0, r.err
    return {(row["record_id"], row["field"]): row for row in json.loads(r.out)}


def test_applicability_disagreements_are_their_own_kind_pointing_at_the_controlling_field(cli, db):
    found = {(u["record_id"], u["field"]): u for u in listed(cli, db)}
    u = found[("R6", "followup_type")]
    assert u["kind"] == "applicability"
    assert u["applies"] == {"intern": False, "supervisor": True}
    assert u["controlling"] == ["accepted_followup"]
    assert u["text"] == "applies for supervisor, not for intern: settled through [accepted_followup]"
    assert found[("R7", "followup_type")]["text"] == (
        "applies for intern, not for supervisor: settled through [accepted_followup]"
    )
    assert found[("R3", "followup_type")]["kind"] == "value"  # 3 vs 1 where it applies for both
    assert found[("R6", "accepted_followup")]["kind"] == "value"
    # R8: both said no follow-up and left 3 and 2 behind: not a disagreement, the field does not apply
    assert ("R8", "followup_type") not in found
    text = cli("disagreements", db).out
    assert "R6" in text and "applies for supervisor, not for intern: settled through [accepted_followup]" in text


def test_the_controlling_fields_consensus_settles_it_and_decides_the_final_value(cli, db):
    for rid, value in (("R6", 0), ("R7", 1)):
        r = cli("consensus", db, "--record", rid, "--field", "accepted_followup", "--value", value, "--reason", "t")
        assert r.code == 0, r.err
    still = {(u["record_id"], u["field"]) for u in listed(cli, db)}
    assert ("R6", "followup_type") not in still and ("R7", "followup_type") not in still
    settled = {(u["record_id"], u["field"]): u for u in listed(cli, db, "--all") if u["kind"] == "applicability"}
    assert settled[("R6", "followup_type")]["settled"] == "not_applicable"
    assert settled[("R7", "followup_type")]["settled"] == "applies"
    fin = finals(cli, db)
    # R6: no follow-up after all -> n/a, although the supervisor coded 2
    assert (fin[("R6", "followup_type")]["value"], fin[("R6", "followup_type")]["source"]) == (None, "not_applicable")
    # R7: follow-up accepted -> the one coder for whom it applied gave 2
    assert (fin[("R7", "followup_type")]["value"], fin[("R7", "followup_type")]["source"]) == (2, "single")


def test_a_final_value_is_not_applicable_never_the_code_left_behind(cli, db):
    fin = finals(cli, db)
    for rid in ("R5", "R8"):  # R8: 3 and 2 left on a field that does not apply
        row = fin[(rid, "followup_type")]
        assert (row["value"], row["source"], row["label"]) == (None, "not_applicable", "not applicable")
    # while the controlling field is unresolved, a field the coders disagree on applying is unresolved
    assert (fin[("R6", "followup_type")]["value"], fin[("R6", "followup_type")]["source"]) == (None, "unresolved")
    assert fin[("R1", "followup_type")]["source"] == "agreed"


def test_final_values_carry_calculated_fields(cli, db):
    fin = finals(cli, db)
    assert (fin[("R1", "wait_days")]["value"], fin[("R1", "wait_days")]["source"]) == (14, "calculated")
    assert fin[("R2", "wait_days")]["value"] == 29
    assert fin[("R5", "wait_days")]["value"] is None  # first_visit does not apply: blank, as REDCap computes it
