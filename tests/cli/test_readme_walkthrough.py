"""The README's path for a new user, end to end through the command line."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from chartcode.store import Store
from tests.whole_records import completed_csv


def test_new_user_path(cli, tmp_path, status):
    # 1. the demo
    r = cli("demo", "--dir", tmp_path / "demo", "--no-tui")
    assert r.code == 0, r.err
    demo = status(tmp_path / "demo" / "demo.db")
    assert demo["records"] == 24 and set(demo["coders"]) >= {"intern", "supervisor"}

    # 2. a new audit, notes from CSV
    db = tmp_path / "audit.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    notes = tmp_path / "notes.csv"
    notes.write_text(
        "record_id,note_id,note_date,note_type,author,text\n"
        "P1,P1-1,2024-02-01,conjoint,Dr A,Assessed sleep and taught breathing.\n"
        "P2,P2-1,2024-02-03,conjoint,Dr A,Declined the psychology part.\n"
    )
    assert cli("import", db, notes).code == 0

    # 3. codes for two coders, each record coded whole (only a whole record is submitted)
    intern = "record_id,note_id,field,value\nP1,P1-1,session_content,3\nP1,,age,60\nP2,P2-1,session_content,1\n"
    supervisor = "record_id,note_id,field,value\nP1,P1-1,session_content,2\n"
    with Store.open(db) as store:
        (tmp_path / "intern.csv").write_text(completed_csv(store, intern))
        (tmp_path / "supervisor.csv").write_text(completed_csv(store, supervisor))
    assert cli("import-codes", db, tmp_path / "intern.csv", "--coder", "intern").code == 0
    assert cli("import-codes", db, tmp_path / "supervisor.csv", "--coder", "supervisor").code == 0

    # 4. list them as the lead (who sees every coder's codes)
    rows = list(csv.DictReader(io.StringIO(cli("codes", db, "--format", "csv", "--as", "qi-lead").out)))
    listed = {(r["coder"], r["record_id"], r["field"], r["value"]) for r in rows}
    assert {
        ("intern", "P1", "session_content", "3"),
        ("intern", "P1", "age", "60"),
        ("intern", "P2", "session_content", "1"),
        ("supervisor", "P1", "session_content", "2"),
    } <= listed
    given = {
        (coder, r["record_id"], r["field"], r["value"])
        for coder in ("intern", "supervisor")
        for r in csv.DictReader((tmp_path / f"{coder}.csv").open(encoding="utf-8"))
    }
    assert listed == given

    # 5. the codebook for REDCap and for QDA software
    assert cli("codebook", "export", "conjoint-pain", "--format", "redcap", "--out", tmp_path / "dd.csv").code == 0
    with open(tmp_path / "dd.csv", encoding="utf-8") as fh:
        dd = list(csv.DictReader(fh))
    assert dd[0]["Variable / Field Name"] == "record_id"
    assert {"session_content", "termination", "age"} <= {d["Variable / Field Name"] for d in dd}
    assert cli("codebook", "export", db, "--format", "qdc", "--out", tmp_path / "cb.qdc").code == 0
    root = ET.parse(tmp_path / "cb.qdc").getroot()
    assert root.tag == "{urn:QDA-XML:codebook:1.0}CodeBook"
