"""The rating screen in a real terminal: tmux runs `chartcode rate`, two items are rated, the DB has them.

Every step waits on the screen through the private tmux server of the ``tmux`` fixture
(tests/e2e/tmux.py); nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from chartcode.store import Store
from tests.tui.test_rating_screen import RECORD, scale_yaml

pytestmark = pytest.mark.e2e


def new_scale_db(tmp_path, chartcode_exe):
    """A fresh audit on the small test scale, with alice as the only rater."""
    book = tmp_path / "mini-fidelity.yaml"
    book.write_text(scale_yaml(), encoding="utf-8")
    db = tmp_path / "fidelity.db"
    subprocess.run(
        [chartcode_exe, "init", str(db), "--codebook", str(book), "--coder", "alice"], check=True, capture_output=True
    )
    return db


def all_saved(text: str):
    """A screen showing ``text`` and, in the same frame, no write still pending."""

    def predicate(screen: str) -> bool:
        return text in screen and "✓ saved" in screen

    predicate.__name__ = f"{text!r} and '✓ saved' together"
    return predicate


def test_rate_an_item_and_cannot_rate_another_then_quit(tmp_path, chartcode_exe, tmux):
    db = new_scale_db(tmp_path, chartcode_exe)
    tmux.start(
        [chartcode_exe, "rate", str(db), "--unit", "Team A", "--period", "2025-H1", "--rater", "alice"],
        width=100,
        height=30,
    )
    tmux.wait_for("Team A · 2025-H1 · rater alice")
    tmux.wait_for("rated 0/4")
    tmux.type("4")
    tmux.wait_for("rated 1/4")
    tmux.type("x")
    screen = tmux.wait_for(all_saved("rated 1/4 · cannot rate 1"))
    assert "[4]" in screen and "[CR]" in screen, screen
    tmux.press("C-q")
    assert tmux.wait_for_exit() == 0, tmux.output
    with Store.open(db) as s:
        assert {c["field"]: c["value"] for c in s.codes(coder="alice", record_id=RECORD)} == {
            "caseload": 4,
            "vocational_only": 9,
        }
        assert [a["record_id"] for a in s.assignments("alice")] == [RECORD]
        assert s.position("alice") == (RECORD, None, "integration")


def test_ratings_acknowledged_on_screen_survive_a_killed_process(tmp_path, chartcode_exe, tmux):
    """SIGKILL right after the screen says saved: every acknowledged rating and comment is in the DB."""
    db = new_scale_db(tmp_path, chartcode_exe)
    tmux.start(
        [chartcode_exe, "rate", str(db), "--unit", "Team B", "--period", "2025-H2", "--rater", "alice"],
        width=100,
        height=30,
    )
    tmux.wait_for("rated 0/4")
    tmux.type("3")
    tmux.wait_for("rated 1/4")
    tmux.type("5")
    # Each rating shows "saving…" until its write commits, so this frame acknowledges both.
    tmux.wait_for(all_saved("rated 2/4"))
    os.kill(tmux.app_pid(), signal.SIGKILL)
    assert tmux.wait_for_exit() == 128 + signal.SIGKILL, tmux.output
    with Store.open(db) as s:
        rid = "Team B @ 2025-H2"
        assert {c["field"]: c["value"] for c in s.codes(coder="alice", record_id=rid)} == {
            "caseload": 3,
            "vocational_only": 5,
        }
        assert [h["action"] for h in s.history(coder="alice", record_id=rid)].count("set") == 2
