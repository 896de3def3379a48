"""`chartcode import-codes` and `chartcode codes`: validated, atomic, recorded in history."""

from __future__ import annotations

import csv
import io

import pytest

from chartcode.store import Store
from tests.whole_records import completed_csv

HEADER = "record_id,note_id,field,value,memo\n"
INTERN = HEADER + (
    "R1,R1-N1,session_content,3,assessed and taught\n"
    "R1,R1-N1,skills_introduced,1,\n"
    "R1,,age,61,\n"
    "R1,,sex,1,\n"
    "R2,R2-N1,session_content,1,\n"
    "R2,,termination,4,\n"
    "R3,,followup_type,,\n"
)
SUPERVISOR = HEADER + ("R1,R1-N1,session_content,2,no skill really taught\nR1,,age,61,\nR1,,sex,1,\n")


def coded_rows(path):
    """The rows of a codes CSV that carry a value (empty ones are skipped on import)."""
    return [row for row in csv.DictReader(path.open(encoding="utf-8")) if row["value"]]


@pytest.fixture
def coded_db(cli, audit_db, tmp_path):
    # each coder's records are coded whole (only a whole record is submitted): the rows above,
    # then every other required code of those records
    with Store.open(audit_db) as store:
        (tmp_path / "intern.csv").write_text(completed_csv(store, INTERN))
        (tmp_path / "supervisor.csv").write_text(completed_csv(store, SUPERVISOR))
    r = cli("import-codes", audit_db, tmp_path / "intern.csv", "--coder", "intern")
    assert r.code == 0, r.err
    assert cli("import-codes", audit_db, tmp_path / "supervisor.csv", "--coder", "supervisor").code == 0
    return audit_db


def test_codes_of_two_coders_are_listed_with_labels(cli, coded_db, tmp_path):
    n_intern, n_supervisor = len(coded_rows(tmp_path / "intern.csv")), len(coded_rows(tmp_path / "supervisor.csv"))
    r = cli("codes", coded_db, "--format", "csv", "--as", "qi-lead")  # a lead sees every coder's codes
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert len(rows) == n_intern + n_supervisor
    first = [x for x in rows if x["coder"] == "supervisor" and x["field"] == "session_content"][0]
    assert (first["record_id"], first["note_id"], first["value"], first["label"]) == ("R1", "R1-N1", "2", "Assessment")
    assert list(rows[0]) == [
        "coder",
        "record_id",
        "note_id",
        "field",
        "value",
        "label",
        "memo",
        "submitted",
        "updated_at",
    ]
    js = cli("codes", coded_db, "--format", "json", "--coder", "intern", "--as", "intern").json
    assert {j["coder"] for j in js} == {"intern"} and len(js) == n_intern
    assert [j for j in js if j["field"] == "age"][0]["value"] == 61


def test_empty_values_are_skipped_not_stored(cli, coded_db):
    with Store.open(coded_db) as store:
        assert not [c for c in store.codes() if c["field"] == "followup_type"]


def test_imported_records_count_as_submitted_unless_draft(cli, coded_db, tmp_path):
    with Store.open(coded_db) as store:
        assert {a["record_id"]: a["status"] for a in store.assignments("intern")} == {"R1": "done", "R2": "done"}
    (tmp_path / "draft.csv").write_text(HEADER + "R3,,age,70,\n")
    assert cli("import-codes", coded_db, tmp_path / "draft.csv", "--coder", "intern", "--draft").code == 0
    with Store.open(coded_db) as store:
        assert {a["record_id"]: a["status"] for a in store.assignments("intern")}["R3"] == "in_progress"


def test_every_imported_code_is_in_history(cli, coded_db, tmp_path):
    with Store.open(coded_db) as store:
        sets = [h for h in store.history(coder="intern") if h["action"] == "set"]
        assert len(sets) == len(coded_rows(tmp_path / "intern.csv"))
        assert all(h["reason"] == "import intern.csv" for h in sets)


def test_reimport_changes_nothing(cli, coded_db, status, tmp_path):
    before = status(coded_db)
    r = cli("import-codes", coded_db, tmp_path / "intern.csv", "--coder", "intern")
    assert r.code == 0 and f"0 saved, {len(coded_rows(tmp_path / 'intern.csv'))} unchanged" in r.out
    assert status(coded_db) == before


@pytest.mark.parametrize(
    "rows, expected",
    [
        ("R9,,age,61,\n", "codes.csv:2: unknown record 'R9'"),
        ("R1,R1-N9,session_content,3,\n", "codes.csv:2: unknown note 'R1-N9'"),
        ("R1,,colour,3,\n", "codes.csv:2: unknown field 'colour'"),
        ("R1,,sex,7,\n", "codes.csv:2: field 'sex': '7' is not a code of this field (codes: 1 = Male, 2 = Female"),
        ("R1,,age,old,\n", "codes.csv:2: field 'age': 'old' is not a whole number"),
        ("R1,R1-N1,age,61,\n", "codes.csv:2: field 'age' is coded once per record; leave note_id empty"),
        ("R1,,session_content,3,\n", "codes.csv:2: field 'session_content' is coded per note; note_id is empty"),
        ("R1,R1-N2,session_content,3,\n", "codes.csv:2: field 'session_content' is coded only on conjoint notes"),
        ("R2,R1-N1,session_content,3,\n", "codes.csv:2: note 'R1-N1' belongs to record 'R1', not 'R2'"),
        ("R1,,sex,1,\nR1,,sex,2,\n", "codes.csv:3: a second code for record 'R1' field 'sex' (first at line 2)"),
    ],
)
def test_bad_rows_are_named_and_nothing_is_imported(cli, audit_db, status, tmp_path, rows, expected):
    before = status(audit_db)
    p = tmp_path / "codes.csv"
    p.write_text(HEADER + "R1,,age,61,\n".replace("R1,,age,61,\n", "") + rows)
    r = cli("import-codes", audit_db, p, "--coder", "intern")
    assert r.code == 2, r.out
    assert expected in r.err
    assert status(audit_db) == before


def test_all_bad_rows_are_reported_together(cli, audit_db, tmp_path):
    p = tmp_path / "codes.csv"
    p.write_text(HEADER + "R1,,age,61,\nR9,,age,61,\nR1,,sex,7,\n")
    r = cli("import-codes", audit_db, p, "--coder", "intern")
    assert r.code == 2 and "2 problems; nothing was imported" in r.err
    assert "codes.csv:3:" in r.err and "codes.csv:4:" in r.err


def test_unknown_coder_and_missing_column_are_user_errors(cli, audit_db, status, tmp_path):
    p = tmp_path / "codes.csv"
    p.write_text(HEADER + "R1,,age,61,\n")
    r = cli("import-codes", audit_db, p, "--coder", "stranger")
    assert r.code == 2 and "coder 'stranger' is not in this audit" in r.err
    p.write_text("record_id,field,value\nR1,age,61\n")
    r = cli("import-codes", audit_db, p, "--coder", "intern")
    assert r.code == 2 and "codes.csv:1: missing column 'note_id'" in r.err
