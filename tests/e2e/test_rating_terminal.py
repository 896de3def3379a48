"""The rating screen in a real terminal: tmux runs `chartcode rate`, two items are rated, the DB has them."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from chartcode.store import Store
from tests.e2e.conftest import require_tool
from tests.e2e.test_terminal import tmux, wait_for
from tests.tui.test_rating_screen import RECORD, scale_yaml

pytestmark = pytest.mark.e2e


def new_scale_db(tmp_path, chartcode_exe):
    """A fresh audit on the small test scale, with alice as the only rater."""
    require_tool("tmux")
    book = tmp_path / "mini-fidelity.yaml"
    book.write_text(scale_yaml(), encoding="utf-8")
    db = tmp_path / "fidelity.db"
    subprocess.run([chartcode_exe, "init", str(db), "--codebook", str(book), "--coder", "alice"], check=True,
                   capture_output=True)
    return db


def test_rate_two_items_in_tmux_then_quit(tmp_path, chartcode_exe):
    db = new_scale_db(tmp_path, chartcode_exe)
    session = f"chartcode-e2e-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30",
         f"{chartcode_exe} rate {db} --unit 'Team A' --period 2025-H1 --rater alice; echo EXITED $?; sleep 5")
    try:
        wait_for(session, "Team A · 2025-H1 · rater alice")
        wait_for(session, "rated 0/4")
        for key in ("4", "x"):
            tmux("send-keys", "-t", session, key)
            time.sleep(0.15)
        screen = wait_for(session, "✓ saved")
        screen = wait_for(session, "rated 1/4 · cannot rate 1")
        assert "[4]" in screen and "[CR]" in screen, screen
        tmux("send-keys", "-t", session, "C-q")
        wait_for(session, "EXITED 0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    with Store.open(db) as s:
        assert {c["field"]: c["value"] for c in s.codes(coder="alice", record_id=RECORD)} == \
            {"caseload": 4, "vocational_only": 9}
        assert [a["record_id"] for a in s.assignments("alice")] == [RECORD]
        assert s.position("alice") == (RECORD, None, "integration")


def test_ratings_acknowledged_on_screen_survive_a_killed_process(tmp_path, chartcode_exe):
    """SIGKILL right after the screen says saved: every acknowledged rating and comment is in the DB."""
    db = new_scale_db(tmp_path, chartcode_exe)
    session = f"chartcode-e2e-{uuid.uuid4().hex[:8]}"
    pid_file = tmp_path / "pid"
    tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30",
         f"sh -c 'echo $$ > {pid_file}; exec {chartcode_exe} rate {db} --unit \"Team B\" --period 2025-H2"
         f" --rater alice'; echo EXITED $?; sleep 5")
    try:
        wait_for(session, "rated 0/4")
        for key in ("3", "5"):
            tmux("send-keys", "-t", session, key)
            time.sleep(0.15)
        wait_for(session, "rated 2/4")
        wait_for(session, "✓ saved")
        pid = int(pid_file.read_text().strip())
        subprocess.run(["kill", "-9", str(pid)], check=True)
        wait_for(session, "EXITED 137")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    with Store.open(db) as s:
        rid = "Team B @ 2025-H2"
        assert {c["field"]: c["value"] for c in s.codes(coder="alice", record_id=rid)} == \
            {"caseload": 3, "vocational_only": 5}
        assert [h["action"] for h in s.history(coder="alice", record_id=rid)].count("set") == 2
