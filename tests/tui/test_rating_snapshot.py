"""Layout snapshot of the rating screen (behaviour is asserted in test_rating_screen.py).

Regenerate after an intended layout change with `pytest tests/tui/test_rating_snapshot.py
--snapshot-update`, then look at the SVG before committing it.
"""

from __future__ import annotations

import pytest

from tests.tui.test_rating_screen import make_scale_db, rating_app, settle


@pytest.mark.parametrize(
    "size", [(100, 30), (80, 24), (120, 40), (200, 50)], ids=["100x30", "80x24", "120x40", "200x50"]
)
def test_rating_screen_layout(snap_compare, tmp_path, size):
    db = make_scale_db(tmp_path)

    async def rate_three_items(pilot):
        await pilot.press("4", "3", "x")  # two ratings and a cannot-rate: the cursor is on the last item
        await settle(pilot)
        await pilot.press("k", "c", *"no access to the team notes", "enter", "j")
        await settle(pilot)

    assert snap_compare(rating_app(db), terminal_size=size, run_before=rate_three_items)
