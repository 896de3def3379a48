"""Derived variables with branching logic: a count of coded notes knows a note where its field does
not apply (n/a is not "not coded yet"), and a note-level calculated field is a note column the
analyses read like any other."""

from __future__ import annotations

from pathlib import Path

from chartcode.analysis import analysis_frame
from chartcode.codebook import load_codebook
from chartcode.dataset import notes_frame
from chartcode.importers.notes import import_notes
from chartcode.store import Store

CODEBOOK = Path(__file__).parents[1] / "data" / "branching" / "notes.yaml"
AUDIT = """
id: notelogic
derived:
  - name: n_skill_notes
    count: {notes: detail}
"""
NOTES = (
    "record_id,note_id,note_date,note_type,author,text\n"
    "R1,R1-N1,2024-01-01,x,A,one\nR1,R1-N2,2024-01-02,x,A,two\nR2,R2-N1,2024-01-01,x,A,three\n"
)


def test_a_count_of_coded_notes_is_known_where_the_field_does_not_apply(tmp_path):
    s = Store.create(
        tmp_path / "a.db", load_codebook(CODEBOOK), audit_source=AUDIT, coders=[("ann", "coder"), ("bob", "coder")]
    )
    try:
        (tmp_path / "n.csv").write_text(NOTES, encoding="utf-8")
        import_notes(s, tmp_path / "n.csv")
        for coder in ("ann", "bob"):
            s.assign(coder, ["R1", "R2"])
            s.set_code(coder, "R1", "accepted", 1)
            s.set_code(coder, "R1", "content", 1, note_id="R1-N1")
            s.set_code(coder, "R1", "detail", 2, note_id="R1-N1")
            s.set_code(coder, "R1", "content", 2, note_id="R1-N2")  # detail does not apply: education
            s.set_code(coder, "R2", "accepted", 0)  # no follow-up: detail does not apply on R2's note
            s.set_code(coder, "R2", "content", 1, note_id="R2-N1")
            for rid in ("R1", "R2"):
                s.submit(coder, rid)
        frame, _ = analysis_frame(s)
        counts = frame.set_index("record_id")["n_skill_notes"]
        assert counts["R1"] == 1  # R1-N2's detail is n/a, not missing: the count is known
        assert counts["R2"] == 0  # on main this was missing: R2's one note had no final value in detail
        notes = notes_frame(s, sources=True).set_index("note_id")
        assert notes.loc["R1-N1", "score"] == 3 and notes.loc["R1-N1", "score__source"] == "calculated"
        assert notes.loc["R2-N1", "detail__source"] == "not_applicable"
    finally:
        s.close()
