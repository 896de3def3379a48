"""Fixing a wrong import: a warning (with the --pattern that fits) when notes arrive without a date
or type, `chartcode notes remove` and `chartcode import --replace`, each removal listed and in the
hash-chained history, refused while codes rest on the notes unless --force; verify still passes."""

from __future__ import annotations

import re

import pytest

from chartcode.store import Store

PATTERN = r"(?P<record_id>[^/]+)/(?P<note_date>\d{4}-\d\d-\d\d)_(?P<note_type>[A-Za-z]+)\.txt"


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "notes"
    for rel, text in {
        "P1/2024-02-01_conjoint.txt": "Assessed sleep; taught breathing.",
        "P1/2024-02-09_phone.txt": "Phone follow-up.",
        "P2/2024-02-03_conjoint.txt": "Declined the psychology part.",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def db(tmp_path, cli):
    path = tmp_path / "a.db"
    assert cli("init", path, "--audit", "conjoint-pain").code == 0
    return path


def _notes(db):
    with Store.open(db) as s:
        return {n["note_id"]: (n["note_date"], n["note_type"]) for r in ("P1", "P2") for n in s.notes_for_record(r)}


def _codes(db):
    with Store.open(db) as s:
        return sorted((c["record_id"], c["note_id"] or "", c["field"], c["value"]) for c in s.codes())


def test_a_folder_without_pattern_warns_counts_and_suggests_the_pattern_that_fits(cli, db, folder):
    r = cli("import", db, folder)
    assert r.code == 0, r.err
    assert "3 of 3 notes have no note_date and 3 of 3 notes have no note_type" in r.err
    suggested = re.search(r"--replace --pattern '([^']+)'", r.err).group(1)
    assert suggested == PATTERN
    assert "Assessed" not in r.err  # never quotes a note
    fixed = cli("import", db, folder, "--replace", "--pattern", suggested)
    assert fixed.code == 0, fixed.err
    assert "warning" not in fixed.err
    assert _notes(db) == {
        "P1/2024-02-01_conjoint": ("2024-02-01", "conjoint"),
        "P1/2024-02-09_phone": ("2024-02-09", "phone"),
        "P2/2024-02-03_conjoint": ("2024-02-03", "conjoint"),
    }
    for note_id in _notes(db):  # every note replaced is listed
        assert f"replaced note {note_id} of record" in fixed.out
    assert cli("verify", db).code == 0


def test_a_csv_without_dates_or_types_warns_too(cli, db, tmp_path):
    notes = tmp_path / "n.csv"
    notes.write_text("record_id,note_id,text\nP1,P1-1,Seen.\nP1,P1-2,Phoned.\n")
    r = cli("import", db, notes)
    assert r.code == 0 and "2 of 2 notes have no note_date" in r.err and "--map note_date=COLUMN" in r.err


def test_remove_is_refused_while_codes_rest_on_the_note_and_forced_lists_and_records_everything(
    cli, db, folder, tmp_path
):
    assert cli("import", db, folder, "--pattern", PATTERN).code == 0
    codes = tmp_path / "codes.csv"
    codes.write_text("record_id,note_id,field,value\nP1,P1/2024-02-01_conjoint,session_content,3\nP1,,age,60\n")
    assert cli("import-codes", db, codes, "--coder", "intern").code == 0
    before_notes, before_codes = _notes(db), _codes(db)

    refused = cli("notes", "remove", db, "--record", "P1", "--note", "P1/2024-02-01_conjoint")
    assert refused.code == 2 and "1 codes (by intern)" in refused.err and "--force" in refused.err
    assert (_notes(db), _codes(db)) == (before_notes, before_codes)

    forced = cli("notes", "remove", db, "--record", "P1", "--note", "P1/2024-02-01_conjoint", "--force")
    assert forced.code == 0, forced.err
    assert "removed note P1/2024-02-01_conjoint of record P1" in forced.out
    assert "removed code session_content = 3 by intern" in forced.out
    assert "P1/2024-02-01_conjoint" not in _notes(db)
    assert _codes(db) == [("P1", "", "age", 60)]  # the record-level code stays
    history = cli("history", db, "--as", "qi-lead").out
    assert "code_removed" in history and "note_removed" in history
    v = cli("verify", db)
    assert v.code == 0, v.out + v.err

    # every note of a record; the record stays
    r = cli("notes", "remove", db, "--record", "P1")
    assert r.code == 0 and "removed note P1/2024-02-09_phone of record P1" in r.out
    with Store.open(db) as s:
        assert s.notes_for_record("P1") == []
    assert cli("status", db, "--json").json["records"] == 2
    assert cli("verify", db).code == 0


def test_replace_is_refused_on_coded_notes_unless_forced(cli, db, folder, tmp_path):
    notes = tmp_path / "n.csv"
    notes.write_text("record_id,note_id,note_date,note_type,author,text\nP1,P1-1,2024-02-01,phone,A,Seen.\n")
    assert cli("import", db, notes).code == 0
    codes = tmp_path / "codes.csv"
    codes.write_text("record_id,note_id,field,value\nP1,,age,60\n")
    assert cli("import-codes", db, codes, "--coder", "intern").code == 0
    notes.write_text("record_id,note_id,note_date,note_type,author,text\nP1,P1-1,2024-02-01,conjoint,A,Seen.\n")
    again = cli("import", db, notes)
    assert again.code == 2 and "--replace" in again.err
    codes.write_text("record_id,note_id,field,value\nP1,P1-1,psychoeducation,1\n")
    notes_before = _notes(db)
    r = cli("import", db, notes, "--replace")  # no codes on the note yet (a phone note takes none): replaced
    assert r.code == 0, r.err
    assert _notes(db) != notes_before
    assert cli("import-codes", db, codes, "--coder", "intern").code == 0
    notes.write_text("record_id,note_id,note_date,note_type,author,text\nP1,P1-1,2024-02-02,conjoint,A,Seen.\n")
    refused = cli("import", db, notes, "--replace")
    assert refused.code == 2 and "--force" in refused.err
    assert _notes(db)["P1-1"] == ("2024-02-01", "conjoint")
    forced = cli("import", db, notes, "--replace", "--force")
    assert forced.code == 0 and "removed code psychoeducation = 1 by intern on note P1-1" in forced.out
    assert _notes(db)["P1-1"] == ("2024-02-02", "conjoint")
    assert cli("verify", db).code == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--record", "NOPE"], "record 'NOPE' is not in this audit"),
        (["--record", "P1", "--note", "nope"], "note 'nope' is not a note of record 'P1'"),
    ],
)
def test_bad_targets_exit_2_and_change_nothing(cli, db, folder, args, message):
    assert cli("import", db, folder, "--pattern", PATTERN).code == 0
    before = _notes(db)
    r = cli("notes", "remove", db, *args)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err
    assert _notes(db) == before
