"""Agreement with branching logic: a conditional field's units are those where it applies for every
coder who submitted the record; units where the coders disagree on whether it applies are counted
as applicability disagreements and kept out of the coefficients; codes left on a field that does
not apply are not values. The 8-record example (tests/applicability_data.py) is worked by hand
below and checked against scikit-learn and the krippendorff package."""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from chartcode.agreement import agreement_report
from tests.applicability_data import branching_store


@pytest.fixture
def store(tmp_path):
    s = branching_store(tmp_path / "audit.db")
    yield s
    s.close()


def by_field(store) -> dict[str, dict]:
    return {r["field"]: r for r in agreement_report(store)["fields"]}


def test_the_controlling_field_counts_every_record_hand_computed(store):
    # accepted_followup, 8 units, intern | supervisor:
    #   R1-R4 1|1, R5 0|0, R6 0|1, R7 1|0, R8 0|0  -> 6 of 8 agree: po = 0.75
    #   marginals: intern 1:5 0:3, supervisor 1:5 0:3
    #   pe = 5/8*5/8 + 3/8*3/8 = 34/64 = 0.53125
    #   kappa = (0.75 - 0.53125) / (1 - 0.53125) = 0.21875 / 0.46875 = 7/15
    # Krippendorff's alpha (nominal): n = 16 values, n_1 = 10, n_0 = 6; the 2 disagreeing units give
    #   o_01 + o_10 = 4; alpha = 1 - (n - 1) * 4 / (2 * n_0 * n_1) = 1 - 15 * 4 / 120 = 0.5
    r = by_field(store)["accepted_followup"]
    assert r["n_units"] == 8
    assert r["cohen_kappa"] == pytest.approx(7 / 15)
    assert r["krippendorff_alpha"] == pytest.approx(0.5)
    assert "applicability_disagreements" not in r  # no show_if: always applies
    intern, supervisor = [1, 1, 1, 1, 0, 0, 1, 0], [1, 1, 1, 1, 0, 1, 0, 0]
    assert cohen_kappa_score(intern, supervisor) == pytest.approx(7 / 15)
    assert krippendorff.alpha(reliability_data=[intern, supervisor], level_of_measurement="nominal") == pytest.approx(
        0.5
    )


def test_a_conditional_field_counts_only_units_where_it_applies_for_every_coder(store):
    # followup_type applies where accepted_followup = 1:
    #   both: R1 1|1, R2 2|2, R3 3|1, R4 1|1          -> the 4 units
    #   neither: R5 (nothing coded), R8 (3|2 left on it) -> not units: the stale 3 and 2 are not values
    #   one coder only: R6 (supervisor), R7 (intern)   -> 2 applicability disagreements, left out
    # po = 3/4; intern 1:2 2:1 3:1, supervisor 1:3 2:1
    # pe = 2/4*3/4 + 1/4*1/4 + 1/4*0 = 7/16; kappa = (12/16 - 7/16) / (9/16) = 5/9
    # alpha: n = 8 values, n_1 = 5, n_2 = 2, n_3 = 1; R3 gives o_13 + o_31 = 2;
    #   sum over c != k of n_c n_k = 2 * (5*2 + 5*1 + 2*1) = 34; alpha = 1 - 7 * 2 / 34 = 10/17
    r = by_field(store)["followup_type"]
    assert (r["n_units"], r["n_coders"]) == (4, 2)
    assert r["applicability_disagreements"] == 2
    assert r["not_applicable_units"] == 2
    assert r["cohen_kappa"] == pytest.approx(5 / 9)
    assert r["krippendorff_alpha"] == pytest.approx(10 / 17)
    assert r["percent_agreement"] == pytest.approx(0.75)
    assert any("applicability disagreements" in n for n in r["notes"])
    intern, supervisor = [1, 2, 3, 1], [1, 2, 1, 1]
    assert cohen_kappa_score(intern, supervisor) == pytest.approx(5 / 9)
    assert krippendorff.alpha(reliability_data=[intern, supervisor], level_of_measurement="nominal") == pytest.approx(
        10 / 17
    )


def test_codes_left_on_a_field_that_does_not_apply_are_not_compared(store):
    # on R8 both coders said no follow-up but left 3 and 2 in followup_type: counted, they would be a
    # fifth unit and a second disagreement (kappa 0.375 instead of 5/9)
    r = by_field(store)["followup_type"]
    assert r["n_units"] == 4
    m = np.array([[1, 1], [2, 2], [3, 1], [1, 1], [3, 2]])
    assert cohen_kappa_score(m[:, 0], m[:, 1]) != pytest.approx(r["cohen_kappa"])


def test_a_calculated_field_is_compared_as_each_coder_computes_it(store):
    r = by_field(store)["wait_days"]  # 14 and 29 days on R1 and R2 for both coders; blank elsewhere
    assert r["n_units"] == 2 and r["percent_agreement"] == pytest.approx(1.0)


def test_the_cli_says_how_many_applicability_disagreements_each_field_has(store, cli):
    path = store.path
    store.close()
    r = cli("agreement", path, "--json")
    assert r.code == 0, r.err
    fields = {f["field"]: f for f in json.loads(r.out)["fields"]}
    assert fields["followup_type"]["applicability_disagreements"] == 2
    assert fields["first_visit"]["applicability_disagreements"] == 2
    r = cli("agreement", path, "--field", "followup_type")
    assert r.code == 0, r.err
    assert (
        "applicability: 2 unit(s) where coders disagree on whether it applies (not in the coefficients),"
        " 2 where it applies for no coder" in r.out
    )
