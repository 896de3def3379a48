"""Only a whole record is submitted (issue 11 item 1): submitting unblinds a record, so a coder's
record counts as submitted only once every applicable required field is coded - note-level
fields on every note they apply to, and the record-level ones. One rule
(Codebook.missing_required) behind Store.submit, import-codes and the coding screen's done."""

from __future__ import annotations

import pytest

from chartcode import resources
from chartcode.codebook import load_codebook
from chartcode.coding import CodingSession
from chartcode.errors import UserError
from chartcode.importers.notes import import_notes
from chartcode.store import Store
from tests.whole_records import completed_csv, filler


def _codes(tmp_path, name: str, rows: str):
    path = tmp_path / name
    path.write_text("record_id,note_id,field,value\n" + rows, encoding="utf-8")
    return path


def _notes(store, tmp_path, *notes):
    """Record R1 with these (note_id, note_type) notes."""
    path = tmp_path / "notes.csv"
    rows = "".join(f"R1,{nid},2024-01-0{i + 1},{kind},Dr A,note\n" for i, (nid, kind) in enumerate(notes))
    path.write_text("record_id,note_id,note_date,note_type,author,text\n" + rows, encoding="utf-8")
    import_notes(store, path)


def _status(db, coder):
    with Store.open(db) as s:
        return {a["record_id"]: a["status"] for a in s.assignments(coder)}


def test_one_imported_code_leaves_a_draft_and_does_not_unblind_the_record(cli, tmp_path):
    assert cli("demo", "--dir", tmp_path / "d", "--no-tui").code == 0
    db = tmp_path / "d" / "demo.db"
    r = cli("import-codes", db, _codes(tmp_path, "s.csv", "VET-001,,sex,1\n"), "--coder", "supervisor")
    assert r.code == 0, r.err
    assert "1 records left as drafts (missing required fields)" in r.out
    assert "0 newly submitted" in r.out
    assert _status(db, "supervisor")["VET-001"] != "done"
    r = cli("codes", db, "--as", "supervisor", "--record", "VET-001")
    assert r.code == 0, r.err
    assert {line.split(",")[0] for line in r.out.splitlines()[1:]} == {"supervisor"}
    assert "intern" not in r.out


def test_import_submits_the_whole_records_and_leaves_the_others_as_drafts(cli, audit_db, tmp_path):
    with Store.open(audit_db) as s:
        whole = completed_csv(s, "record_id,note_id,field,value\nR1,,age,61\n")
    path = tmp_path / "c.csv"
    path.write_text(whole + "R2,,age,70\n", encoding="utf-8")
    r = cli("import-codes", audit_db, path, "--coder", "intern")
    assert r.code == 0, r.err
    assert "2 records, 1 newly submitted" in r.out
    assert "1 records left as drafts (missing required fields)" in r.out
    assert _status(audit_db, "intern") == {"R1": "done", "R2": "in_progress"}


def test_a_note_level_field_counts_on_every_note_it_applies_to(tmp_path):
    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    with Store.create(tmp_path / "s.db", cb, coders=[("intern", "coder")]) as s:
        _notes(s, tmp_path, ("N1", "conjoint"), ("N2", "conjoint"), ("N3", "phone"))
        s.assign("intern", ["R1"])
        for f in cb.record_fields:
            if f.required:
                s.set_code("intern", "R1", f.name, filler(f))
        for f in cb.note_fields:
            if f.required:
                s.set_code("intern", "R1", f.name, filler(f), note_id="N1")
        # N2 is a conjoint note too: its codes are still missing; N3 (phone) takes none
        missing = s.missing_required("intern", "R1")
        assert {nid for nid, _ in missing} == {"N2"}
        assert {f.name for _, f in missing} == {f.name for f in cb.note_fields if f.required}
        with pytest.raises(UserError, match=r"cannot submit R1 for intern: 4 required field\(s\) empty: N2/"):
            s.submit("intern", "R1")
        assert s.assignments("intern")[0]["status"] != "done"
        for _nid, f in missing:
            s.set_code("intern", "R1", f.name, filler(f), note_id="N2")
        assert s.missing_required("intern", "R1") == []
        s.submit("intern", "R1")
        assert s.assignments("intern")[0]["status"] == "done"


def test_the_coding_screens_done_and_store_submit_apply_the_same_rule(tmp_path):
    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    with Store.create(tmp_path / "s.db", cb, coders=[("intern", "coder")]) as s:
        _notes(s, tmp_path, ("N1", "conjoint"))
        s.assign("intern", ["R1"])
        session = CodingSession(s, "intern")
        view = session.load("R1")
        assert [(slot.note_id, slot.field.name) for slot in view.missing()] == [
            (nid, f.name) for nid, f in s.missing_required("intern", "R1")
        ]
        with pytest.raises(UserError, match="cannot mark R1 done"):
            session.done("R1")
        for slot in view.missing()[:-1]:
            session.set("R1", slot, str(filler(slot.field)))
        last = session.load("R1").missing()
        assert len(last) == 1 and [(n, f.name) for n, f in s.missing_required("intern", "R1")] == [
            (last[0].note_id, last[0].field.name)
        ]
        with pytest.raises(UserError):
            s.submit("intern", "R1")
        session.set("R1", last[0], str(filler(last[0].field)))
        session.done("R1")
        assert s.assignments("intern")[0]["status"] == "done"
