"""Writers wait for another program's write lock; `--wait SECONDS` bounds the wait.

Before: with a `sqlite3` shell holding BEGIN IMMEDIATE, `import-codes` died after ~60 s with a
`database is locked` traceback. Now it waits (saying so on stderr) and saves once the lock is
free; with --wait it gives up after that many seconds: exit 2, one clear line, nothing written.
"""

from __future__ import annotations

import time

import pytest

from chartcode.store import Store
from tests.lockholder import write_lock_held

CODES = "record_id,note_id,field,value\nR1,,age,61\nR1,,sex,1\n"


@pytest.fixture
def codes_csv(tmp_path):
    p = tmp_path / "codes.csv"
    p.write_text(CODES)
    return p


def snapshot(db):
    with Store.open(db) as s:
        return s.counts(), [dict(h) for h in s.history()]


def test_gives_up_after_wait_seconds_with_exit_2_and_writes_nothing(cli, audit_db, codes_csv):
    before = snapshot(audit_db)
    with write_lock_held(audit_db, 3):
        start = time.monotonic()
        r = cli("import-codes", audit_db, codes_csv, "--coder", "intern", "--wait", "1")
        took = time.monotonic() - start
    assert r.code == 2
    assert "Traceback" not in r.err
    assert "locked by another program" in r.err and "gave up after 1 s" in r.err and str(audit_db) in r.err
    assert [line for line in r.err.splitlines() if "error" in line] == [r.err.strip().splitlines()[-1]]
    assert 1.0 <= took < 2.9  # gave up at --wait, not when the lock went away
    assert snapshot(audit_db) == before


def test_waits_for_the_lock_then_saves_everything(cli, audit_db, codes_csv):
    with write_lock_held(audit_db, 3):
        start = time.monotonic()
        r = cli("import-codes", audit_db, codes_csv, "--coder", "intern", "--wait", "10")
        took = time.monotonic() - start
    assert r.code == 0, r.err
    assert took >= 2.0  # it really waited for the other program
    assert "waiting for the database (1 s)" in r.err
    assert "waited" in r.err
    with Store.open(audit_db) as s:
        codes = {c["field"]: c["value"] for c in s.codes(coder="intern", record_id="R1")}
    assert codes == {"age": 61, "sex": 1}


def test_without_wait_a_writer_waits_as_long_as_needed(cli, audit_db):
    with write_lock_held(audit_db, 2.5):
        r = cli("coders", "add", audit_db, "newcoder")
    assert r.code == 0, r.err
    assert "waiting for the database" in r.err
    with Store.open(audit_db) as s:
        assert "newcoder" in {c["name"] for c in s.coders()}


def test_wait_zero_refuses_at_once_when_locked(cli, audit_db):
    with write_lock_held(audit_db, 3):
        start = time.monotonic()
        r = cli("records", "add", audit_db, "R99", "--wait", "0")
        took = time.monotonic() - start
    assert r.code == 2 and "locked by another program" in r.err
    assert took < 1.0


def test_an_unlocked_database_is_written_at_once_and_silently(cli, audit_db, codes_csv):
    r = cli("import-codes", audit_db, codes_csv, "--coder", "intern", "--wait", "0")
    assert r.code == 0, r.err
    assert "waiting" not in r.err


@pytest.mark.parametrize("value", ["-1", "soon"])
def test_a_bad_wait_is_refused(cli, audit_db, codes_csv, value):
    r = cli("import-codes", audit_db, codes_csv, "--coder", "intern", "--wait", value)
    assert r.code == 2 and "--wait" in r.err


WRITING_COMMANDS = [
    ["import"],
    ["import-codes"],
    ["records", "add"],
    ["coders", "add"],
    ["assign"],
    ["consensus"],
    ["codebook", "upgrade"],
    ["rate"],
]


@pytest.mark.parametrize("command", WRITING_COMMANDS, ids=" ".join)
def test_every_writing_command_takes_wait(cli, command):
    r = cli(*command, "--help")
    assert r.code == 0 and "--wait SECONDS" in r.out
