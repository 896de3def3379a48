"""Branching logic in a real terminal: accepting follow-up = 0 skips the follow-up fields.

tmux runs `chartcode code` on an audit of tests/data/branching/screen_followup.yaml; the keys are
typed as a coder would, each step waits on the screen or the database (tests/e2e/tmux.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chartcode.store import Store

pytestmark = pytest.mark.e2e

CODEBOOK = Path(__file__).parent.parent / "data" / "branching" / "screen_followup.yaml"
NOTES = (
    "record_id,note_id,note_date,note_type,author,text\n"
    'R1,R1-N1,2024-01-05,conjoint,Dr A,"Veteran assessed. Declined any follow-up."\n'
    'R2,R2-N1,2024-01-09,conjoint,Dr A,"Declined the psychology portion of the visit."\n'
)


def audit(tmp_path: Path, exe: str) -> Path:
    db = tmp_path / "branching.db"
    notes = tmp_path / "notes.csv"
    notes.write_text(NOTES, encoding="utf-8")
    for args in (
        ["init", str(db), "--codebook", str(CODEBOOK), "--coder", "intern"],
        ["import", str(db), str(notes)],
        ["assign", str(db), "--coder", "intern", "--all"],
    ):
        subprocess.run([exe, *args], check=True, capture_output=True)
    return db


def saved(db: Path, record_id: str = "R1") -> dict[str, object]:
    with Store.open(db) as s:
        return {c["field"]: c["value"] for c in s.codes(coder="intern", record_id=record_id)}


def done(db: Path, record_id: str = "R1") -> bool:
    with Store.open(db) as s:
        return {a["record_id"]: a["status"] for a in s.assignments("intern")}[record_id] == "done"


def test_accepting_followup_0_skips_the_followup_fields_and_done_accepts_the_record(tmp_path, chartcode_exe, tmux):
    db = audit(tmp_path, chartcode_exe)
    tmux.start([chartcode_exe, "code", str(db), "--coder", "intern"])
    tmux.wait_for("R1 · note 1 of")
    # nothing coded: skill taught and both follow-up fields do not apply yet (their conditions read blank)
    tmux.wait_for(lambda s: "0/3 coded · 3 n/a" in s and s.count("n/a") >= 4)
    tmux.type("2")  # session content: Assessment -> skill taught stays n/a, on to accepted follow-up
    tmux.wait_for("1/3 coded")
    tmux.wait_for(lambda s: any("▶" in line and "Accepted follow-up" in line for line in s.splitlines()))
    tmux.type("0")  # no follow-up: the cursor goes past follow-up type and sessions to referred
    tmux.wait_for("2/3 coded")
    tmux.wait_for(lambda s: any("▶" in line and "Referred" in line for line in s.splitlines()))
    tmux.type("1")  # referred
    tmux.wait_for("3/3 coded")
    tmux.wait_until(lambda: saved(db) == {"session_content": 2, "accepted_followup": 0, "referred": 1}, "3 codes")
    tmux.type("d")  # the required follow-up fields do not apply, so done is accepted
    tmux.wait_for("R2 · note 1 of")
    tmux.wait_until(lambda: done(db), "R1 done in the database")
    assert saved(db) == {"session_content": 2, "accepted_followup": 0, "referred": 1}
    tmux.press("C-q")
    assert tmux.wait_for_exit() == 0
