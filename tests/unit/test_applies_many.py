"""Answers.applies_many (the final values ask it for every unit of a field in one batch) gives, pair
by pair, what SharedForm.applies gives, and the per-record Form: on the memo test codebook's nested,
checkbox and note conditions with values of mixed types, on fields without a show_if, and on a
codebook with a cycle (answered by the Form itself, nothing memoised)."""

from __future__ import annotations

import itertools
import random

from chartcode.applicability import Answers, SharedForm
from chartcode.codebook import Codebook, Field
from tests.unit.test_applicability_memo import _codebook, _questions, _record


def test_a_batch_answers_each_pair_as_the_shared_form_and_the_form_do() -> None:
    cb = _codebook()
    batch, single = Answers(cb), Answers(cb)
    rng = random.Random(11)
    records = [_record(rng) for _ in range(1500)]
    for fld in cb.fields:
        pairs, forms, want = [], [], []
        for notes, values in records:
            for nid, f in _questions(cb, notes):
                if f is fld:
                    pairs.append((SharedForm(batch, notes, values), nid))
                    forms.append(cb.form(notes, values))
                    want.append(SharedForm(single, notes, values).applies(nid, fld))
        got = batch.applies_many(pairs, fld)
        assert got == want, fld.name
        assert got == [form.applies(nid, fld) for form, (_, nid) in zip(forms, pairs, strict=True)], fld.name
        assert all(type(g) is bool for g in got)
    assert batch.misses == single.misses  # the same memo: each distinct key computed once


def test_a_cycle_is_answered_by_the_form_in_a_batch_too() -> None:
    cb = Codebook(
        "cyc",
        "Cycle",
        "1",
        (
            Field("a", "A", "record", "binary", show_if="[b] = '1'"),
            Field("b", "B", "record", "binary", show_if="[a] = '1'"),
        ),
    )
    shared = Answers(cb)
    values = [{(None, "a"): a, (None, "b"): b} for a, b in itertools.product([None, "0", "1"], repeat=2)]
    got = shared.applies_many([(SharedForm(shared, [], v), None) for v in values], cb.field("a"))
    assert got == [cb.form([], v).applies(None, "a") for v in values]
    assert shared.misses == 0
