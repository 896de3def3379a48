"""An item whose show_if is false does not apply to the unit: it is neither a rating nor an
unrated item, so it neither enters the score nor withholds the total (max_unrated 0)."""

from __future__ import annotations

from pathlib import Path

from chartcode.codebook.loader import load_codebook
from chartcode.fidelity import score_unit

SCALE = Path(__file__).parent.parent / "data" / "branching" / "screen_scale.yaml"


def test_an_item_that_does_not_apply_neither_scores_nor_withholds_the_total() -> None:
    cb = load_codebook(SCALE)
    # no groups: group_quality does not apply; the two items that apply are rated 1 and 3
    s = score_unit(cb, {"runs_groups": 1, "outreach": 3})
    assert s.items_unrated == 0
    assert s.items_rated == 2
    # sum scoring with prorate: the mean of the rated items (2) times the scale's 3 items
    assert s.total == 6


def test_a_rating_left_on_an_item_that_stopped_applying_is_not_counted() -> None:
    cb = load_codebook(SCALE)
    s = score_unit(cb, {"runs_groups": 1, "group_quality": 3, "outreach": 3})
    assert s.items_rated == 2 and s.total == 6  # group_quality's 3 is not a rating here


def test_an_item_that_applies_and_is_unrated_still_withholds_the_total() -> None:
    cb = load_codebook(SCALE)
    s = score_unit(cb, {"runs_groups": 2, "outreach": 3})
    assert s.items_unrated == 1 and s.total is None
