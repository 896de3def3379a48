"""A note import is all or nothing on both backends: the server streams the rows into a staging table
by COPY as the file is read, and a bad line found anywhere (after many good rows have been sent),
a duplicate note id in the file, or a note id already stored with other text leaves the audit as it
was, with one clear line that names the file and line and quotes no note text."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartcode.errors import UserError
from chartcode.importers.notes import import_notes
from tests.server.test_backends import Backend, backend  # noqa: F401  (the fixture)

SECRET = "PLANTED-NOTE-TEXT"
HEADER = "record_id,note_id,note_date,note_type,author,text\n"


def _good(n: int) -> str:
    return "".join(f"Q{i % 50},QN{i},2024-01-05,conjoint,Dr A,{SECRET} visit {i}\n" for i in range(n))


@pytest.mark.parametrize(
    "tail, where",
    [
        (f"Q1,QN9999,2024-01-05,conjoint,Dr A,{SECRET},extra\n", ":3002:"),  # a stray delimiter on the last line
        (f"Q1,QN5,2024-01-05,conjoint,Dr A,{SECRET} other\n", ":3002:"),  # a note id twice in the file
        ("Q1,QN9999,05/01/2024,conjoint,Dr A,x\n", ":3002:"),  # a date that is not ISO
    ],
)
def test_a_bad_last_line_after_thousands_of_rows_changes_nothing(backend: Backend, tmp_path: Path, tail, where):  # noqa: F811
    f = tmp_path / "notes.csv"
    f.write_text(HEADER + _good(3000) + tail)
    with backend.open("lead") as s:
        before = (s.record_ids(), s.verify())
        with pytest.raises(UserError) as err:
            import_notes(s, f)
        assert where in str(err.value) and str(f) in str(err.value)
        assert SECRET not in str(err.value)
    with backend.open("lead") as s:
        assert (s.record_ids(), s.verify()) == before


def test_a_note_id_stored_with_other_text_is_refused_whole(backend: Backend, tmp_path: Path):  # noqa: F811
    first = tmp_path / "a.csv"
    first.write_text(HEADER + _good(10))
    again = tmp_path / "b.csv"
    again.write_text(
        HEADER + "Z1,ZN1,2024-01-05,conjoint,Dr A,new\n" + f"Q3,QN3,2024-01-05,conjoint,Dr A,{SECRET} changed\n"
    )
    with backend.open("lead") as s:
        import_notes(s, first)
        before = (s.record_ids(), s.verify())
        with pytest.raises(UserError) as err:
            import_notes(s, again)
        assert "b.csv:3: note_id 'QN3' was already imported" in str(err.value) and SECRET not in str(err.value)
    with backend.open("lead") as s:
        assert (s.record_ids(), s.verify()) == before
        assert "Z1" not in s.record_ids()


def test_note_text_with_copy_specials_is_stored_exactly(backend: Backend, tmp_path: Path):  # noqa: F811
    """COPY's own specials (backslash, tab, newline, carriage return, a literal \\N) in note text
    and fields reach the server as data, never as COPY syntax (ids may not hold control characters at all)."""
    import json

    text = "a\\b\tc\nd\r\ne \\N end \\. \u00e9\U0001f600"
    f = tmp_path / "notes.jsonl"
    f.write_text(
        json.dumps({"record_id": "S\\1", "note_id": "S\\1-N1", "note_type": "conj\\oint", "text": text}) + "\n",
        encoding="utf-8",
    )
    with backend.open("lead") as s:
        import_notes(s, f)
        assert s.note_text("S\\1-N1") == text
        assert s.note("S\\1-N1")["note_type"] == "conj\\oint"
        assert "S\\1" in s.record_ids()


def test_a_server_audit_made_before_the_staged_import_says_so_in_one_line(tmp_path: Path, team):
    """A server audit whose schema predates the staged import (no chartcode.import_notes_stage) is
    refused with one line that says what to do, and nothing is imported."""
    import psycopg

    from chartcode.store import open_store

    with psycopg.connect(team.admin, autocommit=True) as admin:
        owner = admin.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'chartcode'").fetchone()
        admin.execute(f"SET ROLE {owner[0]}")
        admin.execute("DROP FUNCTION chartcode.import_notes_stage()")
    f = tmp_path / "notes.csv"
    f.write_text(HEADER + _good(3))
    with open_store(team.url("lead")) as s:
        before = s.record_ids()
        with pytest.raises(UserError) as err:
            import_notes(s, f)
        assert "made by an earlier chartcode" in str(err.value) and "chartcode migrate" in str(err.value)
        assert s.record_ids() == before
