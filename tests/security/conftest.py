"""The hostile-input harness: a real audit database, a snapshot of every table, and the checks.

Every hostile input plants MARK in its free text (note text, memos, labels, rules, the lines
of a file that is not what it should be); no message may ever show it.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from chartcode.cli import run

MARK = "PHI-MARKER-7f3a"
SENTENCE = f"Patient {MARK} reports chest pain, lives with daughter"

BASE_NOTES = (
    "record_id,note_id,note_date,note_type,author,text\n"
    f'R1,R1-N1,2024-01-05,conjoint,Dr A,"{SENTENCE}; taught relaxation."\n'
    f'R1,R1-N2,2024-02-01,phone,Dr B,"Phone follow-up {MARK}, using pacing."\n'
    f'R2,R2-N1,2024-01-09,conjoint,Dr A,"Declined {MARK} the psychology portion."\n'
)
BASE_CODES = f'record_id,note_id,field,value,memo\nR1,R1-N1,session_content,3,"{SENTENCE}"\nR1,,age,61,\n'


def dump(db: Path) -> str:
    """A hash of every table's content (sqlite iterdump), to compare before and after."""
    if not db.exists():
        return "<no database>"
    conn = sqlite3.connect(db)
    try:
        text = "\n".join(conn.iterdump())
    finally:
        conn.close()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("template")
    db = d / "audit.db"
    assert run(["init", str(db), "--audit", "conjoint-pain"]) == 0
    (d / "notes.csv").write_text(BASE_NOTES, encoding="utf-8")
    assert run(["import", str(db), str(d / "notes.csv")]) == 0
    (d / "codes.csv").write_text(BASE_CODES, encoding="utf-8")
    assert run(["import-codes", str(db), str(d / "codes.csv"), "--coder", "intern", "--draft"]) == 0
    return db


@pytest.fixture
def db(template_db, tmp_path) -> Path:
    """A private copy of the audit database for one case."""
    out = tmp_path / "audit.db"
    shutil.copy(template_db, out)
    for suffix in ("-wal", "-shm"):
        side = template_db.with_name(template_db.name + suffix)
        if side.exists():
            shutil.copy(side, out.with_name(out.name + suffix))
    return out


@pytest.fixture
def hostile(capsys, db):
    """Run `chartcode ARGS...` in-process and assert the hostile-input rule; returns stderr."""

    def check(*args, names: str | None = None, absent: list[Path] = ()) -> str:
        before = dump(db)
        capsys.readouterr()
        code = run([str(a) for a in args])
        out, err = capsys.readouterr()
        assert_refused(code, out, err, names)
        assert dump(db) == before, "the database changed"
        for p in absent:
            assert not p.exists(), f"{p} was written"
        return err

    return check


def assert_refused(code: int, out: str, err: str, names: str | None) -> None:
    both = out + err
    assert code == 2, f"exit {code}\n{both[-3000:]}"
    assert "Traceback" not in both, both[-3000:]
    assert "internal error" not in both, both[-3000:]
    assert MARK not in both, f"the planted marker leaked:\n{both[-3000:]}"
    assert err.strip(), "no message"
    assert len(err) < 4000, f"message too long ({len(err)} characters)"
    if names:
        assert names in err, f"the message does not name {names!r}:\n{err}"
