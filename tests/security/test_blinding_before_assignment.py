"""Blinding before assignment (issue 11 item 4): a coder or supervisor sees another coder's
values only on records they are assigned to and have submitted themselves; a lead sees
everything; leaving --as out shows no coder's values. One test per reader that takes a viewer.

The demo's VET-001 was coded and submitted by the intern alone (closed); the supervisor is
not assigned to it - the record a supervisor could read before being asked to code it blind."""

from __future__ import annotations

import csv
import io
import json

import pytest

from chartcode.store import Store
from tests.whole_records import completed_csv

RID = "VET-001"


@pytest.fixture
def demo(cli, tmp_path):
    assert cli("demo", "--dir", tmp_path / "d", "--no-tui").code == 0
    db = tmp_path / "d" / "demo.db"
    with Store.open(db) as s:
        assert RID not in {a["record_id"] for a in s.assignments("supervisor")}
        assert {a["record_id"]: a["status"] for a in s.assignments("intern")}[RID] == "done"
        memo = s.set_memo("intern", RID, "age", "memo only the intern wrote")
        s.submit("intern", RID)  # the memo is submitted with the record
    assert memo
    return db


def _codes(cli, db, *args):
    r = cli("codes", db, "--record", RID, *args)
    assert r.code == 0, r.err
    return list(csv.DictReader(io.StringIO(r.out))), r.err


def _submit_as_supervisor(cli, db, tmp_path):
    with Store.open(db) as s:
        s.assign("supervisor", [RID])
        (tmp_path / "s.csv").write_text(completed_csv(s, f"record_id,note_id,field,value\n{RID},,sex,1\n"))
    assert cli("import-codes", db, tmp_path / "s.csv", "--coder", "supervisor").code == 0


def test_codes_show_nothing_of_a_record_the_supervisor_is_not_assigned_to(cli, demo, tmp_path):
    rows, err = _codes(cli, demo, "--as", "supervisor")
    assert rows == [] and "hidden" in err
    _submit_as_supervisor(cli, demo, tmp_path)  # assigned and submitted: now they may compare
    rows, _ = _codes(cli, demo, "--as", "supervisor")
    assert {r["coder"] for r in rows} == {"intern", "supervisor"}
    assert "memo only the intern wrote" in {r["memo"] for r in rows}


def test_codes_without_as_show_no_coders_values_even_on_a_closed_record(cli, demo):
    rows, err = _codes(cli, demo)
    assert rows == [] and "hidden" in err
    rows, _ = _codes(cli, demo, "--as", "qi-lead")  # a lead sees everything
    assert rows and {r["coder"] for r in rows} == {"intern"}


def test_history_values_and_memos_are_blind_before_assignment(cli, demo):
    for viewer in (("--as", "supervisor"), ()):
        hist = cli("history", demo, "--record", RID, "--json", *viewer).json
        intern = [h for h in hist if h["coder"] == "intern" and h["field"]]
        assert intern and all(h["new_value"] in (None, "(blind)") for h in intern), viewer
        assert "memo only the intern wrote" not in json.dumps(hist)
    lead = cli("history", demo, "--record", RID, "--json", "--as", "qi-lead").json
    assert any(h["new_value"] not in (None, "(blind)") for h in lead if h["coder"] == "intern" and h["field"])


def test_long_export_holds_back_a_record_the_supervisor_is_not_assigned_to(cli, demo, tmp_path):
    out = tmp_path / "long.json"
    r = cli("export", demo, "--format", "json", "--long", "--as", "supervisor", "--out", out)
    assert r.code == 0, r.err
    codes = json.loads(out.read_text())["codes"]
    assert RID not in {c["record_id"] for c in codes}
    assert {c["coder"] for c in codes} == {"intern", "supervisor"}  # the double-coded sample stays
    assert "held back" in r.err
    r = cli("export", demo, "--format", "json", "--long", "--out", out, "--force")
    assert r.code == 0, r.err
    assert json.loads(out.read_text())["codes"] == []  # no --as: no coder's codes


def test_a_coder_not_assigned_sees_nothing_and_one_still_coding_sees_only_their_own(cli, demo, tmp_path):
    with Store.open(demo) as s:
        s.add_coder("third", "coder")
    rows, _ = _codes(cli, demo, "--as", "third")
    assert rows == []
    with Store.open(demo) as s:
        s.assign("supervisor", [RID])
        s.set_code("supervisor", RID, "sex", 1)  # a draft: the record is open again
    rows, _ = _codes(cli, demo, "--as", "supervisor")
    assert {r["coder"] for r in rows} == {"supervisor"}


def test_a_flag_comment_is_blind_like_the_codes_of_its_record(cli, demo, tmp_path):
    comment = "sex looks like 2 to me"
    with Store.open(demo) as s:
        s.flag("intern", RID, comment)
    for viewer in (("--as", "supervisor"), ()):
        hist = cli("history", demo, "--record", RID, "--json", *viewer).json
        flags = [h for h in hist if h["action"] == "flag"]
        assert flags and all(h["new_value"] == "(blind)" for h in flags), viewer
        assert comment not in json.dumps(hist)
    for viewer in ("intern", "qi-lead"):
        hist = cli("history", demo, "--record", RID, "--json", "--as", viewer).json
        assert [h["new_value"] for h in hist if h["action"] == "flag"] == [comment]
    _submit_as_supervisor(cli, demo, tmp_path)
    hist = cli("history", demo, "--record", RID, "--json", "--as", "supervisor").json
    assert [h["new_value"] for h in hist if h["action"] == "flag"] == [comment]
