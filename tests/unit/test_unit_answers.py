"""A conditional field's units as counts (chartcode.applicability.unit_answers: per unit, the coders
who submitted the record and those the field applies for) say what unit_applicability's coder-by-
coder answers say, unit for unit; the agreement matrices read the counts (no dict per unit)."""

from __future__ import annotations

import pytest

from chartcode.applicability import conditional_fields, unit_answers, unit_applicability
from tests.applicability_data import branching_store


@pytest.fixture
def store(tmp_path):
    s = branching_store(tmp_path / "branching.db")
    yield s
    s.close()


def test_the_counts_are_the_coder_by_coder_answers_counted(store):
    fields = conditional_fields(store.codebook)
    assert fields
    seen_disagreement = seen_none = False
    for fld in fields:
        table = unit_applicability(store, fld)
        got = unit_answers(store, fld)
        assert got.units == list(table)  # the same units, in the same order
        for unit, coders, applies in zip(got.units, got.coders.tolist(), got.applies.tolist(), strict=True):
            said = table[unit]
            assert (coders, applies) == (len(said), sum(said.values()))
            seen_disagreement |= 0 < applies < coders
            seen_none |= coders > 0 and applies == 0
    assert seen_disagreement and seen_none  # the audit has both kinds of unit


def test_both_read_one_batch_of_answers(store, monkeypatch):
    from chartcode import applicability

    asked = []
    real = applicability.Answers.applies_many
    monkeypatch.setattr(applicability.Answers, "applies_many", lambda self, *a: asked.append(1) or real(self, *a))
    fld = conditional_fields(store.codebook)[0]
    unit_answers(store, fld)
    unit_applicability(store, fld)
    unit_answers(store, fld)
    assert asked == [1]
