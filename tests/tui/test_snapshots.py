"""Layout snapshots (layout only: behaviour is asserted in test_coding_screen.py).

Regenerate after an intended layout change with `pytest tests/tui/test_snapshots.py
--snapshot-update`, then look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest

from tests.tui.conftest import make_app, settle


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)], ids=["80x24", "120x40", "200x50"])
def test_coding_screen_layout(snap_compare, demo_db, size):
    async def code_two_fields(pilot):
        await pilot.press("3", "1")
        await settle(pilot)

    assert snap_compare(make_app(demo_db), terminal_size=size, run_before=code_two_fields)


def test_help_overlay_layout(snap_compare, demo_db):
    assert snap_compare(make_app(demo_db), terminal_size=(80, 24), press=["question_mark"])
