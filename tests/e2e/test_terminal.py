"""The main path in a real terminal: tmux runs `chartcode code`, keys are typed, the codes are there.

Every step waits on the screen (or the database) through the private tmux server of the
``tmux`` fixture (tests/e2e/tmux.py); nothing sleeps for a fixed time.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess

import pytest

from chartcode.store import Store

pytestmark = pytest.mark.e2e

NOTE_1 = "VET-019-N01"
# Note 1 of VET-019, coded in form order: each digit saves the focused field and moves to the next.
KEYS = [
    ("3", "session_content", "Conjoint session content"),
    ("1", "psychoeducation", "Psychoeducation given"),
    ("0", "functional_assessment", "Functional assessment"),
    ("1", "skills_introduced", "Coping skill introduced"),
]


def demo_db(tmp_path, chartcode_exe):
    subprocess.run([chartcode_exe, "demo", "--dir", str(tmp_path), "--no-tui"], check=True, capture_output=True)
    return tmp_path / "demo.db"


def saved_codes(db, coder: str, record_id: str) -> dict[tuple[str, str], object]:
    """What the database holds now, read as any other process would while the app runs."""
    with Store.open(db) as s:
        return {(c["note_id"], c["field"]): c["value"] for c in s.codes(coder=coder, record_id=record_id)}


def test_each_typed_code_is_saved_at_once_and_listed_by_the_codes_command(tmp_path, chartcode_exe, tmux):
    db = demo_db(tmp_path, chartcode_exe)
    tmux.start([chartcode_exe, "code", str(db), "--coder", "intern"])
    tmux.wait_for("intern · 18/24 done")
    tmux.wait_for("VET-019 · note 1 of")
    for n, (key, field, _label) in enumerate(KEYS, 1):
        tmux.type(key)
        # The header counts the code among the fields that apply (conjoint-pain 1.1: the three
        # follow-up fields are n/a until follow-up is accepted); the row shows the digit (with "…"
        # until its write commits).
        tmux.wait_for(f"{n}/20 coded · 3 n/a")
        tmux.wait_until(
            lambda f=field, k=key: saved_codes(db, "intern", "VET-019").get((NOTE_1, f)) == int(k),
            f"{field} = {key} in the database while the app runs",
        )
    # Saved rows lose their "…" (pending) mark, and the header says so. A row reads
    # "Field label (cut to fit)  code choice-label".
    rows = [re.compile(rf"{re.escape(label[:12])}[^│▊]*\s{key} ") for key, _, label in KEYS]
    screen = tmux.wait_for(lambda s: "✓ saved" in s and all(r.search(s) for r in rows))
    assert "saving…" not in screen
    tmux.press("C-q")
    assert tmux.wait_for_exit() == 0
    # The record is not submitted yet, so its codes are blind to everyone but the intern (and leads).
    out = subprocess.run(
        [
            chartcode_exe,
            "codes",
            str(db),
            "--format",
            "csv",
            "--coder",
            "intern",
            "--record",
            "VET-019",
            "--as",
            "intern",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = [(r["note_id"], r["field"], r["value"]) for r in csv.DictReader(io.StringIO(out))]
    assert sorted(rows) == sorted((NOTE_1, field, key) for key, field, _ in KEYS)


def test_code_command_refuses_without_a_terminal(tmp_path, chartcode_exe):
    db = demo_db(tmp_path, chartcode_exe)
    r = subprocess.run(
        [chartcode_exe, "code", str(db), "--coder", "intern"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert r.returncode == 2 and "needs a terminal" in r.stderr


def test_code_command_with_an_unknown_coder_is_a_user_error_in_a_terminal(tmp_path, chartcode_exe, tmux):
    db = demo_db(tmp_path, chartcode_exe)
    tmux.start([chartcode_exe, "code", str(db), "--coder", "nobody"], width=100, height=30)
    assert tmux.wait_for_exit() == 2, tmux.output
    assert "coder 'nobody' is not in this audit" in tmux.output


def test_demo_builds_and_opens_the_coding_screen_as_the_intern(tmp_path, chartcode_exe, tmux):
    tmux.start([chartcode_exe, "demo"], width=80, height=24, cwd=tmp_path)
    # Building the demo audit comes first, and takes a while on a loaded machine.
    tmux.wait_for("intern · 18/24 done", timeout=3 * tmux.timeout)
    tmux.wait_for("VET-019 · note 1 of")
    tmux.press("C-q")
    assert tmux.wait_for_exit() == 0, tmux.output
    assert (tmp_path / "chartcode-demo" / "demo.db").exists()
