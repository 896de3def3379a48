"""A coder with nothing assigned sees one message naming the exact command that assigns
records, and nothing to type into."""

from __future__ import annotations

import shlex

from textual.widgets import Input

from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp
from tests.tui.conftest import run


def test_no_assignments_names_the_assign_command_and_offers_no_input(tmp_path, cli):
    db = tmp_path / "my audit.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    notes = tmp_path / "notes.csv"
    notes.write_text("record_id,note_id,note_date,note_type,author,text\nP1,P1-1,2024-02-01,conjoint,A,x\n")
    assert cli("import", db, notes).code == 0

    async def go():
        app = ChartcodeApp(Store.open(db), "intern", frozen_clock=True)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            screen = pilot.app.coding_screen
            note = screen.query_one("#note-meta").render().plain + " " + screen.query_one("#note-text").render().plain
            command = f"chartcode assign {shlex.quote(str(db))} --coder intern --all"
            assert "No records are assigned to intern." in note
            assert command in " ".join(note.split())
            assert "no notes" not in note.lower() and "other sources" not in note
            assert not screen.query_one("#form-entry", Input).display
            assert screen.query_one("#form-rows").lines == []  # no field row to code (one widget draws them)
            await pilot.press("3", "x", "d")  # coding keys with nothing to code change nothing
            await pilot.pause()

    run(go())
    with Store.open(db) as s:
        assert list(s.codes(coder="intern")) == []
    # the command it names does assign the records
    r = cli("assign", db, "--coder", "intern", "--all")
    assert r.code == 0 and "assigned 1 new records to intern" in r.out
