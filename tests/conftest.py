"""Shared fixtures: run the CLI in-process, make audit databases and input files."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from chartcode.cli import run


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys):
    """Run `chartcode ARGS...` in this process; returns exit code, stdout and stderr."""

    def invoke(*args) -> Result:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


NOTES_HEADER = "record_id,note_id,note_date,note_type,author,text\n"
SAMPLE_NOTES = NOTES_HEADER + (
    'R1,R1-N1,2024-01-05,conjoint,Dr A,"Veteran assessed; functional impact on sleep. Taught relaxation."\n'
    'R1,R1-N2,2024-02-01,phone,Dr B,"Phone follow-up, using pacing."\n'
    'R2,R2-N1,2024-01-09,conjoint,Dr A,"Declined the psychology portion of the visit."\n'
    'R3,R3-N1,2024-01-12,conjoint,Dr A,"Assessment of pain interference, education on biopsychosocial model."\n'
)


@pytest.fixture
def audit_db(tmp_path, cli) -> Path:
    """A conjoint-pain audit database with the sample notes imported."""
    db = tmp_path / "audit.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    notes = tmp_path / "notes.csv"
    notes.write_text(SAMPLE_NOTES, encoding="utf-8")
    r = cli("import", db, notes)
    assert r.code == 0, r.err
    return db


@pytest.fixture
def status(cli):
    """`chartcode status DB --json` as a dict."""

    def get(db: Path) -> dict:
        r = cli("status", db, "--json")
        assert r.code == 0, r.err
        return r.json

    return get


@pytest.fixture
def forks(monkeypatch):
    """The pids of the children forked (counted in this process only)."""
    real, pids = os.fork, []

    def fork():
        pid = real()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids
