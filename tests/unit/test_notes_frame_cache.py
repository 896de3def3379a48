"""notes_frame is computed once per state of the database (an export with derived variables asks for
it twice, with and without sources: the second is the first less its __source columns), handed out
as a copy, and computed again after any commit."""

from __future__ import annotations

import pandas as pd

from chartcode import dataset
from tests.applicability_data import branching_store


def test_notes_frame_is_computed_once_per_state_and_handed_out_as_a_copy(tmp_path, monkeypatch):
    s = branching_store(tmp_path / "b.db")
    try:
        calls = []
        real = dataset._notes_frame
        monkeypatch.setattr(dataset, "_notes_frame", lambda *a: calls.append(1) or real(*a))
        first = dataset.notes_frame(s, sources=True)
        want = first.copy()
        first.iloc[:, -1] = "changed by a caller"
        again = dataset.notes_frame(s, sources=True)
        assert len(calls) == 1
        pd.testing.assert_frame_equal(again, want)  # the caller's change did not reach the cache
        pd.testing.assert_frame_equal(again, real(s, True, dataset.finals(s)))
        plain = dataset.notes_frame(s, sources=False)
        assert len(calls) == 1  # without sources: the frame with them less its __source columns
        pd.testing.assert_frame_equal(plain, real(s, False, dataset.finals(s)))
        rid = s.record_ids()[0]
        s.set_consensus(rid, "accepted_followup", 0, reason="talked", decided_by="supervisor")
        dataset.notes_frame(s, sources=True)
        assert len(calls) == 2  # a commit: computed again
        dataset.notes_frame(s, sources=False)
        assert len(calls) == 2
    finally:
        s.close()
