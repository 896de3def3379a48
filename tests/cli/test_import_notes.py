"""`chartcode import`: CSV, JSON Lines and folders; atomic; each bad input named by file and line."""

from __future__ import annotations

import json

import pytest

from chartcode.store import Store
from tests.conftest import NOTES_HEADER


def write(tmp_path, name, content, mode="w"):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def test_csv_import_registers_records_and_indexes_text(cli, audit_db, status):
    s = status(audit_db)
    assert (s["records"], s["notes"]) == (3, 4)
    with Store.open(audit_db) as store:
        hits = store.search_notes("relaxation")
        assert [h["note_id"] for h in hits] == ["R1-N1"]
        assert "[relaxation]" in hits[0]["snippet"].lower()
        assert [n["note_id"] for n in store.notes_for_record("R1")] == ["R1-N1", "R1-N2"]


def test_reimporting_the_same_file_changes_nothing(cli, audit_db, status, tmp_path):
    before = status(audit_db)
    r = cli("import", audit_db, tmp_path / "notes.csv")
    assert r.code == 0
    assert "0 new, 4 already imported" in r.out
    assert status(audit_db) == before


def test_jsonl_import_with_the_same_keys(cli, audit_db, status, tmp_path):
    rows = [
        {
            "record_id": "R9",
            "note_id": "R9-N1",
            "note_date": "2024-03-01T09:30",
            "note_type": "group",
            "author": "Dr C",
            "text": "Group session on pacing.",
        },
        {"record_id": 10, "note_id": "R10-N1", "text": "Phone call."},
    ]
    p = write(tmp_path, "more.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    r = cli("import", audit_db, p)
    assert r.code == 0, r.err
    assert status(audit_db)["notes"] == 6
    with Store.open(audit_db) as store:
        assert store.note("R9-N1")["note_date"] == "2024-03-01T09:30:00"
        assert store.note("R10-N1")["record_id"] == "10"


def test_folder_of_text_files_one_subfolder_per_record(cli, audit_db, status, tmp_path):
    root = tmp_path / "notes"
    (root / "R20").mkdir(parents=True)
    (root / "R21").mkdir()
    (root / "R20" / "2024-01-02_conjoint.txt").write_text("First visit.", encoding="utf-8")
    (root / "R20" / "2024-02-02_phone.txt").write_text("Phone.", encoding="utf-8")
    (root / "R21" / "2024-01-03_conjoint.txt").write_text("Declined.", encoding="utf-8")
    r = cli("import", audit_db, root, "--pattern", r"(?P<note_date>\d{4}-\d\d-\d\d)_(?P<note_type>[a-z]+)\.txt$")
    assert r.code == 0, r.err
    with Store.open(audit_db) as store:
        notes = store.notes_for_record("R20")
        assert [(n["note_id"], n["note_date"], n["note_type"]) for n in notes] == [
            ("R20/2024-01-02_conjoint", "2024-01-02", "conjoint"),
            ("R20/2024-02-02_phone", "2024-02-02", "phone"),
        ]
    assert status(audit_db)["records"] == 5


def test_other_column_names_are_mapped(cli, audit_db, tmp_path):
    p = write(tmp_path, "ehr.csv", "PatientID,DocID,Body\nP1,D1,Some text\n")
    r = cli("import", audit_db, p, "--map", "record_id=PatientID", "--map", "note_id=DocID", "--map", "text=Body")
    assert r.code == 0, r.err
    assert "1 new" in r.out


def test_us_dates_with_an_explicit_format(cli, audit_db, tmp_path):
    p = write(tmp_path, "us.csv", NOTES_HEADER + "R5,R5-N1,03/04/2024,conjoint,Dr A,Text\n")
    assert cli("import", audit_db, p, "--date-format", "%m/%d/%Y").code == 0
    with Store.open(audit_db) as store:
        assert store.note("R5-N1")["note_date"] == "2024-03-04"


def test_long_notes_over_the_csv_default_field_limit(cli, audit_db, tmp_path):
    long_text = "word " * 60_000  # 300 KB, over csv's default 128 KiB field limit
    p = write(tmp_path, "long.csv", NOTES_HEADER + f'R6,R6-N1,2024-01-01,other,Dr A,"{long_text}"\n')
    assert cli("import", audit_db, p).code == 0


def test_windows_encoded_file_imports_with_encoding_option(cli, audit_db, tmp_path):
    p = write(tmp_path, "win.csv", (NOTES_HEADER + "R7,R7-N1,2024-01-01,other,Dr A,Caf\u00e9 visit\n").encode("cp1252"))
    r = cli("import", audit_db, p)
    assert r.code == 2 and "--encoding" in r.err
    assert cli("import", audit_db, p, "--encoding", "cp1252").code == 0
    with Store.open(audit_db) as store:
        assert store.note("R7-N1")["text"] == "Caf\u00e9 visit"


GOOD_ROW = "R8,R8-N1,2024-01-01,conjoint,Dr A,fine\n"


@pytest.mark.parametrize(
    "name, content, expected",
    [
        (
            "missing.csv",
            "record_id,note_date,text\nR8,2024-01-01,x\n",
            "missing.csv:1: missing column 'note_id' (found: record_id, note_date, text)",
        ),
        (
            "dup.csv",
            NOTES_HEADER + GOOD_ROW + "R8,R8-N1,2024-01-02,conjoint,Dr A,other\n",
            "dup.csv:3: duplicate note_id 'R8-N1' (first at line 2)",
        ),
        (
            "dupdb.csv",
            NOTES_HEADER + GOOD_ROW + "R1,R1-N1,2024-01-05,conjoint,Dr A,changed text\n",
            "dupdb.csv:3: note_id 'R1-N1' was already imported with different content",
        ),
        ("norec.csv", NOTES_HEADER + GOOD_ROW + " ,R8-N2,2024-01-01,conjoint,Dr A,x\n", "norec.csv:3: empty record_id"),
        (
            "date.csv",
            NOTES_HEADER + GOOD_ROW + "R8,R8-N2,2024-13-45,conjoint,Dr A,x\n",
            "date.csv:3: unparseable date '2024-13-45'",
        ),
        (
            "utf.csv",
            (NOTES_HEADER + GOOD_ROW).encode() + b"R8,R8-N2,2024-01-01,conjoint,Dr A,caf\xe9\n",
            "utf.csv:3: not valid utf-8 text (byte 0xe9 at column 38); if the file was saved in another encoding,"
            " pass --encoding",
        ),
        (
            "nul.csv",
            (NOTES_HEADER + GOOD_ROW).encode() + b"R8,R8-N2,2024-01-01,conjoint,Dr A,a\x00b\n",
            "nul.csv:3: contains a NUL byte",
        ),
        (
            "width.csv",
            NOTES_HEADER + GOOD_ROW + "R8,R8-N2,2024-01-01,conjoint,Dr A,x,extra\n",
            "width.csv:3: 7 values but the header has 6 columns",
        ),
        (
            "quote.csv",
            NOTES_HEADER + GOOD_ROW + 'R8,R8-N2,2024-01-01,conjoint,Dr A,"unterminated\n',
            "quote.csv:3: CSV problem",
        ),
        ("empty.csv", "", "empty.csv:1: the file is empty"),
        (
            "notext.csv",
            NOTES_HEADER + "R8,R8-N3,2024-01-01,conjoint,Dr A,   \n",
            "notext.csv:2: note 'R8-N3' has no text",
        ),
        (
            "bad.jsonl",
            '{"record_id": "R8", "note_id": "a", "text": "x"}\n{"record_id": "R8", "note_id": \n',
            "bad.jsonl:2: not valid JSON",
        ),
        ("key.jsonl", '{"record_id": "R8", "text": "x"}\n', "key.jsonl:1: missing key 'note_id'"),
    ],
)
def test_bad_input_is_named_by_file_and_line_and_changes_nothing(
    cli, audit_db, status, tmp_path, name, content, expected
):
    before = status(audit_db)
    p = write(tmp_path, name, content)
    r = cli("import", audit_db, p)
    assert r.code == 2, (r.out, r.err)
    assert expected in r.err
    assert "Traceback" not in r.err
    assert status(audit_db) == before


def test_error_messages_never_quote_note_text(cli, audit_db, tmp_path):
    secret = "PATIENT-SECRET-PHRASE"
    p = write(
        tmp_path,
        "phi.csv",
        NOTES_HEADER
        + f'R1,R1-N1,2024-01-05,conjoint,Dr A,"{secret}"\n'
        + f"R1,R1-N9,bad-date,conjoint,Dr A,{secret}\n",
    )
    r = cli("import", audit_db, p)
    assert r.code == 2 and secret not in r.err and secret not in r.out


def test_folder_errors_name_the_file(cli, audit_db, status, tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    (root / "a.txt").write_text("x")
    before = status(audit_db)
    r = cli("import", audit_db, root)
    assert r.code == 2 and "a.txt: cannot tell the record id" in r.err
    (root / "a.txt").unlink()
    (root / "R1b").mkdir()
    (root / "R1b" / "n.txt").write_bytes(b"line one\nbad \xff byte\n")
    r = cli("import", audit_db, root)
    assert r.code == 2 and "n.txt:2: not valid utf-8" in r.err
    assert status(audit_db) == before


def test_missing_file_and_unknown_format_are_user_errors(cli, audit_db, tmp_path):
    r = cli("import", audit_db, tmp_path / "nope.csv")
    assert r.code == 2 and "no such file" in r.err
    p = write(tmp_path, "notes.xlsx", "x")
    r = cli("import", audit_db, p)
    assert r.code == 2 and "--format" in r.err
