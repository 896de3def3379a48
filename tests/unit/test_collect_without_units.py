"""A caller that reads only the agreement matrices (chartcode.agreement.collect.span_ratings, once
per span of an export) asks collect for no units: the matrices, coders, categories and counts are
collect's own, and no (record, note) tuple is made for a field the branching logic does not read
them for (a conditional field still has its units: its rows are kept or emptied by them)."""

from __future__ import annotations

import numpy as np
import pytest

from chartcode.agreement.collect import collect
from chartcode.dataset import submitted_codes
from tests.applicability_data import branching_store


@pytest.fixture
def store(tmp_path):
    s = branching_store(tmp_path / "branching.db")
    submitted_codes(s)  # read already, as after an export span's final values: collect reads the frame
    yield s
    s.close()


def test_without_units_the_ratings_are_collects_own_and_only_conditional_fields_keep_units(store):
    full = collect(store)
    lean = collect(store, units=False)
    assert [r.field.name for r in lean] == [r.field.name for r in full]
    conditional = {f.name for f in store.codebook.fields if f.show_if and not f.is_calc}
    assert conditional  # the audit has branching logic
    for a, b in zip(full, lean, strict=True):
        np.testing.assert_array_equal(a.matrix, b.matrix)
        assert (a.coders, a.categories, a.unreadable) == (b.coders, b.categories, b.unreadable)
        assert (a.applicability_disagreements, a.not_applicable) == (b.applicability_disagreements, b.not_applicable)
        if a.field.name in conditional or a.field.is_calc:
            assert b.units == a.units
        else:
            assert b.units == [] and len(a.units) == a.matrix.shape[0] > 0


def test_the_frame_read_is_the_one_asked(store, monkeypatch):
    from chartcode.agreement import read

    monkeypatch.setattr(read, "collect_packed", lambda *a: pytest.fail("the packed read ran: the frame was read"))
    assert collect(store, units=False)
