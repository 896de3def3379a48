"""Spans' agreement matrices joined (chartcode.agreement.collect.join_ratings): rows in span order,
coders and text categories on their union, and the matrix kept in the narrowest float type that
holds every value exactly - float16 for choice positions, float32 for larger whole numbers, float64
for anything else - while every coefficient is computed as on the float64 matrix
(chartcode.agreement.agreement_report widens a field's matrix before reading it)."""

from __future__ import annotations

import numpy as np
import pytest

from chartcode.agreement import agreement_report
from chartcode.agreement.collect import Ratings, join_ratings
from chartcode.audit import load_audit

NAN = np.nan


@pytest.fixture(scope="module")
def fields():
    cb = load_audit("conjoint-pain").codebook
    return {f.name: f for f in cb.fields}


def _piece(fld, coders, rows, categories=()):
    return Ratings(fld, [], list(coders), np.array(rows, dtype=float), list(categories))


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([0.0, 1.0, 2.0], np.float16),  # choice positions
        ([2047.0, 2048.0, 1.0], np.float16),
        ([2049.0, 1.0, 0.0], np.float32),  # a whole number float16 cannot hold
        ([16_777_216.0, 3.0, 1.0], np.float32),
        ([16_777_217.0, 3.0, 1.0], np.float64),
        ([0.1, 1.0, 2.0], np.float64),  # not a whole number
        ([-1e300, 1.0, 2.0], np.float64),
    ],
)
def test_the_joined_matrix_is_the_narrowest_type_holding_every_value(fields, values, dtype):
    fld = fields["age"]
    a = _piece(fld, ["intern"], [[values[0]], [NAN]])
    b = _piece(fld, ["intern", "supervisor"], [[values[1], values[2]]])
    (got,) = join_ratings([[a], [b]], ["intern", "supervisor"])
    assert got.matrix.dtype == dtype
    np.testing.assert_array_equal(got.matrix.astype(float), [[values[0], NAN], [NAN, NAN], [values[1], values[2]]])


def test_text_categories_renumbered_past_float16_widen_the_matrix(fields):
    fld = fields["age"]  # the field's type does not matter to the join
    many = [f"c{i:05d}" for i in range(3000)]
    a = _piece(fld, ["intern"], [[0.0]], many[:1])  # this span's index 0 ...
    b = _piece(fld, ["intern"], [[0.0]], many[2999:])  # ... and this one's: 2999 in the union
    c = _piece(fld, ["intern"], [[float(i)] for i in range(2999)], many[:2999])
    (got,) = join_ratings([[a], [b], [c]], ["intern"])
    assert got.categories == many
    assert got.matrix[1, 0] == 2999.0
    np.testing.assert_array_equal(got.matrix[2:, 0], np.arange(2999, dtype=float))


def test_coders_follow_the_store_order_and_counts_add_up(fields):
    fld = fields["sex"]
    a = Ratings(fld, [], ["supervisor"], np.array([[1.0]]), [], 2, 1, 3)
    b = Ratings(fld, [], ["intern"], np.array([[0.0]]), [], 1, None, 4)
    (got,) = join_ratings([[a], [b]], ["intern", "supervisor"])
    assert got.coders == ["intern", "supervisor"]
    np.testing.assert_array_equal(got.matrix.astype(float), [[NAN, 1.0], [0.0, NAN]])
    assert (got.unreadable, got.applicability_disagreements, got.not_applicable) == (3, 1, 7)


def test_agreement_on_the_narrow_matrix_is_the_float64_agreement(fields, tmp_path):
    from chartcode.store import Store

    cb = load_audit("conjoint-pain").codebook
    store = Store.create(tmp_path / "a.db", cb, coders=[("intern", "coder"), ("supervisor", "supervisor")])
    rng = np.random.default_rng(7)
    wide, narrow = [], []
    for name in ("sex", "last_note_outcome", "age"):
        fld = fields[name]
        k = len(fld.rating_codes) if fld.choices else 60
        m = rng.integers(0, k, size=(400, 2)).astype(float)
        m[rng.random(400) < 0.6, 1] = NAN  # most units coded once
        m[:200, 1] = np.where(np.isnan(m[:200, 1]), NAN, m[:200, 0])  # agreement above chance
        halves = [_piece(fld, ["intern", "supervisor"], m[:150]), _piece(fld, ["intern", "supervisor"], m[150:])]
        (joined,) = join_ratings([[h] for h in halves], ["intern", "supervisor"])
        assert joined.matrix.dtype == np.float16
        narrow.append(joined)
        wide.append(_piece(fld, ["intern", "supervisor"], m))
    got = agreement_report(store, bootstrap=200, seed=11, ratings=narrow)
    want = agreement_report(store, bootstrap=200, seed=11, ratings=wide)
    assert got == want
    assert all(r.matrix.dtype == np.float16 for r in narrow)  # widened for the statistics only
    store.close()
