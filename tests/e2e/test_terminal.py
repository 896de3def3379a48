"""The main path in a real terminal: tmux runs `chartcode code`, keys are typed, the codes are there."""

from __future__ import annotations

import csv
import re
import io
import subprocess
import time
import uuid

import pytest

from tests.e2e.conftest import require_tool

pytestmark = pytest.mark.e2e


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def wait_for(session: str, text: str, timeout: float = 20.0) -> str:
    """The screen, once ``text`` is on it (the app may still be settling its size before that)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-t", session, "-p")
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


def test_code_a_record_in_tmux_then_list_the_codes(tmp_path, chartcode_exe):
    require_tool("tmux")
    subprocess.run([chartcode_exe, "demo", "--dir", str(tmp_path), "--no-tui"], check=True, capture_output=True)
    db = tmp_path / "demo.db"
    session = f"chartcode-e2e-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40",
         f"{chartcode_exe} code {db} --coder intern; echo EXITED $?; sleep 5")
    try:
        wait_for(session, "intern · 18/24 done")
        screen = wait_for(session, "VET-019 · note 1 of")
        # Note 1 of VET-019: session content 3, psychoeducation 1, functional assessment 0, skill 1
        for key in ("3", "1", "0", "1"):
            tmux("send-keys", "-t", session, key)
            time.sleep(0.15)
        screen = wait_for(session, "✓ saved")
        assert re.search(r"\b3\s+Conjoint session content", screen), screen
        assert re.search(r"\b1\s+Coping skill introduced", screen), screen
        tmux("send-keys", "-t", session, "C-q")
        wait_for(session, "EXITED 0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    # The record is not submitted yet, so its codes are blind to everyone but the intern (and leads).
    out = subprocess.run([chartcode_exe, "codes", str(db), "--format", "csv", "--coder", "intern",
                          "--record", "VET-019", "--as", "intern"], check=True, capture_output=True, text=True).stdout
    rows = [(r["note_id"], r["field"], r["value"]) for r in csv.DictReader(io.StringIO(out))]
    assert sorted(rows) == sorted([
        ("VET-019-N01", "session_content", "3"),
        ("VET-019-N01", "psychoeducation", "1"),
        ("VET-019-N01", "functional_assessment", "0"),
        ("VET-019-N01", "skills_introduced", "1"),
    ])


def test_code_command_refuses_without_a_terminal(tmp_path, chartcode_exe):
    subprocess.run([chartcode_exe, "demo", "--dir", str(tmp_path), "--no-tui"], check=True, capture_output=True)
    r = subprocess.run([chartcode_exe, "code", str(tmp_path / "demo.db"), "--coder", "intern"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "needs a terminal" in r.stderr


def test_code_command_unknown_coder_is_a_user_error(tmp_path, chartcode_exe):
    require_tool("tmux")
    subprocess.run([chartcode_exe, "demo", "--dir", str(tmp_path), "--no-tui"], check=True, capture_output=True)
    session = f"chartcode-e2e-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", "100", "-y", "30",
         f"{chartcode_exe} code {tmp_path / 'demo.db'} --coder nobody; echo EXITED $?; sleep 5")
    try:
        screen = wait_for(session, "EXITED")
        assert "EXITED 2" in screen and "coder 'nobody' is not in this audit" in screen.replace("\n", "")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_demo_builds_and_opens_the_coding_screen_as_the_intern(tmp_path, chartcode_exe):
    require_tool("tmux")
    session = f"chartcode-e2e-{uuid.uuid4().hex[:8]}"
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24",
         f"cd {tmp_path} && {chartcode_exe} demo; echo EXITED $?; sleep 5")
    try:
        wait_for(session, "intern · 18/24 done", timeout=40)
        wait_for(session, "VET-019 · note 1 of")
        tmux("send-keys", "-t", session, "C-q")
        wait_for(session, "EXITED 0")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    assert (tmp_path / "chartcode-demo" / "demo.db").exists()
