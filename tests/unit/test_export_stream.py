"""The wide csv export streamed by record span (chartcode.export.stream) writes exactly the files the
whole export writes, holds one span of records at a time, falls back to the whole export when a
span's dtypes differ, and reads one state of the database however long it takes.

Audits: every field type with consensus, agreed and unresolved units (test_export_blocks' store),
branching logic with applicability disagreements and derived variables (tests/data/branching),
and the demo (conjoint-pain) with a double-coded sample; plain and de-identified. Files are
compared byte for byte and read back with pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from chartcode.export import export, formats, stream
from chartcode.export.formats import ExportInput
from chartcode.store import Store
from tests.applicability_data import branching_store
from tests.unit.test_export_blocks import store  # noqa: F401 - the every-type audit fixture


def _whole(s: Store, folder: Path, **kw) -> list[bytes]:
    """The files of the whole (unstreamed) export: the reference."""
    folder.mkdir()
    files = formats.REGISTRY["csv"].files(folder / "out.csv")
    formats._csv_wide_whole(ExportInput(s, kw.get("deidentify", False), dates="shift"), files)
    return [p.read_bytes() for p in files]


def _streamed(s: Store, folder: Path, monkeypatch, span: int, **kw) -> tuple[list[bytes], bool]:
    """The streamed export's files and whether it kept streaming (no fallback to the whole export)."""
    folder.mkdir()
    monkeypatch.setattr(stream, "SPAN_RECORDS", span)
    fell_back = []
    whole = formats._csv_wide_whole
    monkeypatch.setattr(formats, "_csv_wide_whole", lambda *a: fell_back.append(1) or whole(*a))
    result = export(s, "csv", folder / "out.csv", **kw)
    monkeypatch.setattr(formats, "_csv_wide_whole", whole)
    assert result.rows["records"] == len(s.record_ids())
    return [p.read_bytes() for p in result.files], not fell_back


@pytest.fixture
def branching(tmp_path):
    s = branching_store(tmp_path / "branching.db")
    yield s
    s.close()


@pytest.fixture
def demo(cli, tmp_path):
    assert cli("demo", "--dir", tmp_path / "demo", "--no-tui", "--complete").code == 0
    with Store.open(tmp_path / "demo" / "demo.db") as s:  # a double-coded sample with a disagreement
        rids = s.record_ids()[:4]
        s.assign("supervisor", rids)
        for rid in rids:
            for c in list(s.visible_codes("intern", coder="intern", record_id=rid)):
                s.set_code("supervisor", rid, c["field"], c["value"], note_id=c["note_id"])
        s.set_code("supervisor", rids[1], "accepted_followup", 0)
        s.set_code("supervisor", rids[2], "sex", 9)
        for rid in rids:
            s.submit("supervisor", rid)
        s.set_consensus(rids[2], "sex", 9, reason="chart silent", decided_by="supervisor")
    s = Store.open(tmp_path / "demo" / "demo.db")
    yield s
    s.close()


@pytest.mark.parametrize("deidentify", [False, True])
@pytest.mark.parametrize("span", [1, 2, 3, 5, 10_000])
@pytest.mark.parametrize("audit", ["store", "branching", "demo"])
def test_streamed_csv_is_byte_identical_to_the_whole_export(request, tmp_path, monkeypatch, audit, span, deidentify):
    s = request.getfixturevalue(audit)
    want = _whole(s, tmp_path / "whole", deidentify=deidentify)
    got, streamed = _streamed(s, tmp_path / "stream", monkeypatch, span, deidentify=deidentify)
    assert got == want
    assert streamed
    back = pd.read_csv(tmp_path / "stream" / "out.csv", dtype=str, keep_default_na=False)
    assert len(back) == len(s.record_ids())


def test_a_span_whose_dtypes_differ_falls_back_to_the_whole_export(store, tmp_path, monkeypatch):  # noqa: F811
    # a word stored in a count field (written straight into the table, as an older version might
    # have): that record's span has the column as text, the others as Int64, and the whole table
    # has it as text (a whole float would read 2.0 there, 2 in an Int64 span): the streamed files
    # are dropped and the whole export writes the file
    with store._write() as db:
        db.conn.execute(
            "UPDATE codes SET value = 'many', submitted_value = 'many' WHERE record_id = 'R6' AND field = 'visits'"
        )
    want = _whole(store, tmp_path / "whole")
    got, streamed = _streamed(store, tmp_path / "one", monkeypatch, 1)
    assert not streamed and got == want
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["out.csv", "out_notes.csv"]  # no temp left
    back = pd.read_csv(tmp_path / "one" / "out.csv", dtype=str, keep_default_na=False)
    assert back.loc[back["record_id"] == "R6", "visits"].item() == "many"


def test_a_span_with_no_value_in_a_word_code_column_still_streams(store, tmp_path, monkeypatch):  # noqa: F811
    # R-empty (first by id) has no codes: alone in its span its word-code column is Int64 of blanks,
    # which writes what the whole table's text column writes there
    want = _whole(store, tmp_path / "whole")
    got, streamed = _streamed(store, tmp_path / "one", monkeypatch, 1)
    assert streamed and got == want


def test_each_span_reads_only_its_own_records(demo, tmp_path, monkeypatch):
    seen: list[int] = []
    reads = stream.RecordSpan.submitted_span_codes

    def counting(self, *a, **kw):
        packed = reads(self, *a, **kw)
        records = {g[0] for g in packed.groups}
        assert records <= set(self._ids)
        seen.append(len(records))
        return packed

    monkeypatch.setattr(stream.RecordSpan, "submitted_span_codes", counting)
    _, streamed = _streamed(demo, tmp_path / "s", monkeypatch, 5)
    assert streamed and seen and max(seen) <= 5


def test_each_span_reads_its_notes_once(branching, tmp_path, monkeypatch):
    # the branching logic's notes by record and the notes table both ask for them
    want = _whole(branching, tmp_path / "whole")
    reads: list[object] = []
    real = type(branching).note_rows

    def counting(self, *a, span=None, **kw):
        reads.append(span)
        return real(self, *a, span=span, **kw)

    monkeypatch.setattr(type(branching), "note_rows", counting)
    got, streamed = _streamed(branching, tmp_path / "s", monkeypatch, 3)
    spans = [r for r in reads if r is not None]
    assert streamed and spans
    assert len(spans) == len(set(spans))  # no span's notes read twice
    assert got == want


def test_a_commit_during_the_stream_changes_no_span(demo, tmp_path, monkeypatch):
    want = _whole(demo, tmp_path / "before")
    last = demo.record_ids()[-1]
    wide = stream.__dict__.get("wide_tables")
    assert wide is None  # imported inside write_wide_csv: patch the source module
    from chartcode.export import tables

    real = tables.wide_tables
    calls = []

    def committing_after_first_span(part, **kw):
        if calls == [1]:  # another program decides a consensus on the last record meanwhile
            with Store.open(demo.path) as other:
                other.set_consensus(last, "sex", 2, reason="elsewhere", decided_by="supervisor")
        calls.append(1)
        return real(part, **kw)

    monkeypatch.setattr(tables, "wide_tables", committing_after_first_span)
    got, streamed = _streamed(demo, tmp_path / "during", monkeypatch, 5)
    assert streamed and len(calls) > 2
    assert got == want  # the snapshot of the first read, for every span
