"""import-codes streams: its memory does not grow with the file, and a file spanning many batches is
still imported all or nothing, with duplicate codes found exactly however far apart they are."""

from __future__ import annotations

import csv
import tracemalloc
from pathlib import Path

import pytest

from chartcode.cli import run
from chartcode.errors import UserError
from chartcode.importers import codes as codes_mod
from chartcode.importers.codes import import_codes
from chartcode.importers.notes import import_notes
from chartcode.store import Store

BATCH = 200  # rows per batch in these tests: files of many batches stay small and quick


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(codes_mod, "BATCH", BATCH, raising=False)


def _audit(tmp_path: Path, records: int) -> Path:
    """A conjoint-pain audit with ``records`` records of one note each."""
    db = tmp_path / "audit.db"
    notes = tmp_path / "notes.csv"
    with open(notes, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "note_date", "note_type", "text"])
        for i in range(records):
            w.writerow([f"R{i:05d}", f"R{i:05d}-N1", "2024-01-02", "conjoint", f"Note of record {i}."])
    assert run(["init", str(db), "--audit", "conjoint-pain"]) == 0
    with Store.open(db) as store:
        import_notes(store, notes)
    return db


def _codes(path: Path, records: int, last: list[str] | None = None) -> int:
    """Two record-level codes (age, sex) for each of ``records`` records; ``last``: one more row at the end."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "field", "value"])
        for i in range(records):
            w.writerow([f"R{i:05d}", "", "age", 20 + i % 80])
            w.writerow([f"R{i:05d}", "", "sex", 1 + i % 2])
        if last:
            w.writerow(last)
    return 2 * records + bool(last)


def _peak_of_import(tmp_path: Path, records: int) -> int:
    """Bytes of Python memory allocated at the peak of one import of 2 x ``records`` codes."""
    folder = tmp_path / str(records)
    folder.mkdir()
    db = _audit(folder, records)
    rows = _codes(folder / "codes.csv", records)
    with Store.open(db) as store:
        assert store.codebook.get("age")  # loaded before measuring: the same for any file
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            got = import_codes(store, folder / "codes.csv", "intern", draft=True)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        assert got.changed == rows
    return peak


def test_memory_of_an_import_does_not_grow_with_the_file(tmp_path):
    small = _peak_of_import(tmp_path, 500)  # 1,000 codes: 5 batches
    large = _peak_of_import(tmp_path, 4000)  # 8,000 codes: 40 batches
    # Holding every row (main before streaming) makes the large peak several times the small one;
    # streaming keeps both at about one batch. 1.5x leaves room for the allocator's noise.
    assert large < 1.5 * small, f"peak {large / 1e6:.2f} MB for 8,000 codes vs {small / 1e6:.2f} MB for 1,000"


def _state(db: Path) -> tuple:
    with Store.open(db) as store:
        return store.history_head(), sorted(map(str, store.codes())), store.assignments("intern")


def test_a_bad_last_line_after_many_batches_leaves_the_database_unchanged(tmp_path):
    db = _audit(tmp_path, 1000)
    rows = _codes(tmp_path / "codes.csv", 1000, last=["R00001", "", "no_such_field", "1"])
    assert rows > 5 * BATCH
    before = _state(db)
    with Store.open(db) as store, pytest.raises(UserError) as err:
        import_codes(store, tmp_path / "codes.csv", "intern")
    assert str(err.value) == f"{tmp_path / 'codes.csv'}:{rows + 1}: unknown field 'no_such_field'"
    assert _state(db) == before


def test_a_file_that_turns_bad_while_it_is_written_is_rolled_back(tmp_path, monkeypatch):
    """The second pass writes batch by batch inside one transaction; a bad row it meets there (the file
    was changed after the first pass checked it) rolls back the batches already written."""
    db = _audit(tmp_path, 1000)
    path = tmp_path / "codes.csv"
    rows = _codes(path, 1000)
    made = []

    class ChangedAfterCheck(codes_mod.CodeKeys):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)
            if len(made) == 2:  # the write pass starts: the file changes under it
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write("R00002,,age,999\n")

    monkeypatch.setattr(codes_mod, "CodeKeys", ChangedAfterCheck)
    before = _state(db)
    with Store.open(db) as store, pytest.raises(UserError) as err:
        import_codes(store, path, "intern")
    assert str(err.value).startswith(f"{path}:{rows + 2}: field 'age'")
    assert len(made) == 2
    assert _state(db) == before


def test_duplicates_batches_apart_are_found_with_their_first_line(tmp_path):
    db = _audit(tmp_path, 1000)
    rows = _codes(tmp_path / "codes.csv", 1000, last=["R00003", "", "sex", "2"])
    with Store.open(db) as store, pytest.raises(UserError) as err:
        import_codes(store, tmp_path / "codes.csv", "intern")
    # R00003's sex is the file's 8th row, on line 9 (after the header)
    assert str(err.value) == (
        f"{tmp_path / 'codes.csv'}:{rows + 1}: a second code for record 'R00003' field 'sex' (first at line 9)"
    )
    assert _state(db)[1] == []


def test_records_spanning_batches_are_assigned_once_and_counted_once(tmp_path):
    db = _audit(tmp_path, 150)
    path = tmp_path / "codes.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:  # every age first, then every sex:
        w = csv.writer(fh)  # each record's two codes lie in different batches or far apart in one
        w.writerow(["record_id", "note_id", "field", "value"])
        w.writerows([f"R{i:05d}", "", "age", 40] for i in range(150))
        w.writerows([f"R{i:05d}", "", "sex", 2] for i in range(150))
    with Store.open(db) as store:
        got = import_codes(store, path, "intern", draft=True)
        assert (got.rows, got.records, got.changed) == (300, 150, 300)
        assigned = [h["record_id"] for h in store.history() if h["action"] == "assign"]
        assert assigned == [f"R{i:05d}" for i in range(150)]  # once each, in the file's order
        assert len(list(store.codes(coder="intern"))) == 300


def _peak_of_notes_import(tmp_path: Path, notes: int, monkeypatch) -> int:
    from chartcode.importers import notes as notes_mod

    monkeypatch.setattr(notes_mod, "BATCH", BATCH)
    folder = tmp_path / f"notes{notes}"
    folder.mkdir()
    db = folder / "audit.db"
    assert run(["init", str(db), "--audit", "conjoint-pain"]) == 0
    path = folder / "notes.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "note_date", "note_type", "text"])
        for i in range(notes):
            w.writerow([f"R{i // 4:05d}", f"R{i // 4:05d}-N{i % 4}", "2024-01-02", "phone", f"Note {i}. " * 40])
    with Store.open(db) as store:
        assert store.codebook.get("age")
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            got = import_notes(store, path)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    assert got.new == notes
    return peak


def test_memory_of_a_notes_import_does_not_grow_with_the_file(tmp_path, monkeypatch):
    # both files are over 1 MB, the chunk the file's checksum is read in (a fixed part of the peak)
    small = _peak_of_notes_import(tmp_path, 3000, monkeypatch)
    large = _peak_of_notes_import(tmp_path, 12000, monkeypatch)
    assert large < 1.5 * small, f"peak {large / 1e6:.2f} MB for 12,000 notes vs {small / 1e6:.2f} MB for 3,000"
