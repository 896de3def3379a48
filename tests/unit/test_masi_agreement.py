"""Agreement on check-all-that-apply fields: each option as a binary item, and the whole set by
Krippendorff's alpha with the MASI distance (Passonneau 2006), computed by the krippendorff package
with the MASI distance as its metric. The example is computed by hand below, from the definitions."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from chartcode.agreement import field_agreement
from chartcode.agreement.collect import Ratings
from chartcode.agreement.sets import masi_alpha, masi_distance, set_agreement
from chartcode.codebook.model import Choice, Field
from chartcode.codebook.options import option_fields

F = frozenset


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        # Passonneau (2006): MASI = J * M; J = |A n B| / |A u B|; M = 1 (equal), 2/3 (one contains the
        # other), 1/3 (overlap), 0 (disjoint); the distance is 1 - MASI
        ({"1", "2"}, {"1", "2"}, 0.0),
        ({"1"}, {"1", "2"}, 1 - (1 / 2) * (2 / 3)),  # subset: J 1/2, M 2/3 -> 2/3
        ({"1", "2"}, {"1", "2", "3"}, 1 - (2 / 3) * (2 / 3)),  # subset: J 2/3, M 2/3 -> 5/9
        ({"1", "2"}, {"2", "3"}, 1 - (1 / 3) * (1 / 3)),  # overlap: J 1/3, M 1/3 -> 8/9
        ({"1"}, {"2"}, 1.0),  # disjoint
        (set(), {"1"}, 1.0),  # nothing ticked against something ticked
        (set(), set(), 0.0),  # both ticked nothing: the same answer
    ],
)
def test_masi_distance_follows_the_definition(a, b, distance):
    assert masi_distance(F(a), F(b)) == pytest.approx(distance)
    assert masi_distance(F(b), F(a)) == pytest.approx(distance)  # symmetric


# 2 coders, 4 units: u1 {1,2} {1,2}; u2 {1} {1,2}; u3 {1} {2}; u4 {} {}
SETS = [
    [F({"1", "2"}), F({"1", "2"})],
    [F({"1"}), F({"1", "2"})],
    [F({"1"}), F({"2"})],
    [F(), F()],
]


def test_masi_alpha_on_a_hand_computed_example():
    # Krippendorff's alpha = 1 - Do / De over the n = 8 pairable values.
    # Do = 1/n * sum over units of 1/(m_u - 1) * sum of ordered in-unit pairs' distances
    #    = 1/8 * (0 + 2 * 2/3 + 2 * 1 + 0) = 10/24
    # De = 1/(n (n - 1)) * sum of ordered pairs of all values' distances. The values are
    #   {1,2} x3, {1} x2, {2} x1, {} x2; distances {1,2}-{1} 2/3, {1,2}-{2} 2/3, any set-{} 1,
    #   {1}-{2} 1. Unordered pairs: 6 * 2/3 + 3 * 2/3 + 6 * 1 + 2 * 1 + 4 * 1 + 2 * 1 = 20,
    #   ordered 40; De = 40 / 56 = 5/7
    # alpha = 1 - (10/24) / (5/7) = 1 - 7/12 = 5/12
    assert masi_alpha(SETS) == pytest.approx(5 / 12)


def test_masi_alpha_equals_nominal_alpha_when_sets_never_overlap_partly():
    # MASI distance is 0 or 1 when sets are equal or disjoint: then it is the nominal alpha
    import krippendorff

    sets = [[F({"1"}), F({"1"})], [F({"2"}), F({"1"})], [F({"2"}), F({"2"})], [F({"3"}), F({"3"})]]
    nominal = krippendorff.alpha(
        reliability_data=np.array([[1, 2, 2, 3], [1, 1, 2, 3]], dtype=float), level_of_measurement="nominal"
    )
    assert masi_alpha(sets) == pytest.approx(nominal)


def test_masi_alpha_is_undefined_without_two_values_or_pairs():
    assert masi_alpha([[F({"1"}), F({"1"})]]) is None  # one distinct set
    assert masi_alpha([[F({"1"}), None], [None, F({"2"})]]) is None  # no unit coded twice


SERVICES = Field(
    "services",
    "Services",
    "record",
    "checkbox",
    choices=(Choice(1, "Therapy"), Choice(2, "Medication"), Choice(3, "Peer")),
)


def ratings(rows: list[list[str | None]]) -> Ratings:
    """collect's encoding: indices into the sorted distinct stored values."""
    categories = sorted({v for row in rows for v in row if v is not None})
    m = np.array([[np.nan if v is None else categories.index(v) for v in row] for row in rows], dtype=float)
    return Ratings(SERVICES, [(f"R{i}", "") for i in range(len(rows))], ["a", "b"], m, categories)


STORED = [["1|2", "1|2"], ["1", "1|2"], ["1", "2"], ["", ""], ["3", None]]


def test_set_agreement_gives_the_whole_set_then_each_option_as_a_binary_item():
    results = set_agreement(ratings(STORED))
    assert [r["field"] for r in results] == ["services", "services___1", "services___2", "services___3"]
    whole = results[0]
    assert whole["n_units"] == 4 and whole["masi_alpha"] == pytest.approx(5 / 12)
    assert whole["options"] == ["services___1", "services___2", "services___3"]
    assert whole["percent_agreement"] == pytest.approx(2 / 4)  # u1 and u4 give the same set
    # option 1 ticked: u1 1/1, u2 1/1, u3 1/0, u4 0/0 (u5 coded once): 3 of 4 agree
    one = results[1]
    assert one["option_of"] == "services" and one["n_units"] == 4
    assert one["percent_agreement"] == pytest.approx(3 / 4)
    m = np.array([[1, 1], [1, 1], [1, 0], [0, 0], [0, np.nan]], dtype=float)
    expected = field_agreement(option_fields(SERVICES)["services___1"], m, ["a", "b"])
    for key in ("cohen_kappa", "gwet_ac1", "krippendorff_alpha"):
        assert one[key] == pytest.approx(expected[key])
    # by hand, Cohen's kappa of option 1 on the 4 paired units: po = 3/4; a ticks 3/4, b 2/4:
    # pe = 3/4 * 2/4 + 1/4 * 2/4 = 1/2; kappa = (3/4 - 1/2) / (1 - 1/2) = 1/2
    assert one["cohen_kappa"] == pytest.approx(0.5)
    # option 3 is ticked by nobody on a paired unit: no variation, so kappa is undefined, not 1
    three = results[3]
    assert three["percent_agreement"] == pytest.approx(1.0)
    assert three["cohen_kappa"] is None or math.isnan(three["cohen_kappa"])


CODEBOOK = """\
id: cbx
title: Services audit
version: '1'
fields:
  - name: services
    label: Services offered
    type: checkbox
    required: true
    choices:
      1: Therapy
      2: Medication
"""


def test_the_agreement_command_reports_the_set_and_each_option(cli, tmp_path):
    (tmp_path / "cbx.yaml").write_text(CODEBOOK, encoding="utf-8")
    notes = "record_id,note_id,note_date,note_type,author,text\n" + "".join(
        f"R{i},R{i}-N1,2024-01-0{i},conjoint,Dr A,note {i}\n" for i in range(1, 5)
    )
    (tmp_path / "notes.csv").write_text(notes, encoding="utf-8")
    db = tmp_path / "audit.db"
    r = cli("init", db, "--codebook", tmp_path / "cbx.yaml", "--coder", "a", "--coder", "b")
    assert r.code == 0, r.err
    assert cli("import", db, tmp_path / "notes.csv").code == 0
    # the hand-computed example above: u1 {1,2} {1,2}; u2 {1} {1,2}; u3 {1} {2}; u4 {} {}
    for coder, values in (("a", ["1|2", "1", "1", "|"]), ("b", ["2|1", "1|2", "2", "|"])):
        rows = "".join(f"R{i},,services,{v}\n" for i, v in enumerate(values, start=1))
        (tmp_path / f"{coder}.csv").write_text("record_id,note_id,field,value\n" + rows, encoding="utf-8")
        r = cli("import-codes", db, tmp_path / f"{coder}.csv", "--coder", coder)
        assert r.code == 0, r.err
    r = cli("agreement", db, "--json")
    assert r.code == 0, r.err
    by_field = {x["field"]: x for x in r.json["fields"]}
    assert list(by_field) == ["services", "services___1", "services___2"]
    assert by_field["services"]["masi_alpha"] == pytest.approx(5 / 12)
    assert by_field["services___2"]["label"] == "Services offered: Medication"
    # option 2 ticked: u1 1/1, u2 0/1, u3 0/1, u4 0/0 -> 2 of 4 agree
    assert by_field["services___2"]["percent_agreement"] == pytest.approx(2 / 4)
    text = cli("agreement", db)
    assert text.code == 0, text.err
    assert re.search(r"Krippendorff's alpha, MASI set distance +0\.417 ", text.out)
    assert "Services offered: Therapy [services___1] (nominal): 4 units" in text.out
