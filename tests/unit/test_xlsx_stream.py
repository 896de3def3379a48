"""The wide xlsx export streamed by record span (chartcode.export.writers.write_xlsx_streamed over
chartcode.export.stream's spans) writes the very workbook the whole export writes -- every part of
the zip byte for byte, the time of writing aside -- with the records' and notes' rows one span
after another (and each span's rows cut across processes), falls back to the whole export when a
span's dtypes differ, and reads one state of the database however long it takes.

Audits as tests/unit/test_export_stream.py: every field type (test_export_blocks' store), branching
logic with derived variables, and the demo with a double-coded sample; plain and de-identified."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from chartcode.export import export, stream, writers
from chartcode.export import xlsx as xl
from chartcode.store import Store
from tests.unit.test_export_blocks import store  # noqa: F401 - the every-type audit fixture
from tests.unit.test_export_stream import branching, demo  # noqa: F401 - the branching and demo audits


def _parts(path: Path) -> dict[str, bytes]:
    """Every part of the zip but docProps/core.xml (it holds the time of writing)."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _whole(s: Store, folder: Path, monkeypatch, **kw) -> dict[str, bytes]:
    """The whole (unstreamed) export's workbook: the reference."""
    folder.mkdir()
    with monkeypatch.context() as m:
        m.setattr(stream, "streamable", lambda store: False)
        result = export(s, "xlsx", folder / "out.xlsx", **kw)
    assert result.rows["records"] == len(s.record_ids())
    return _parts(folder / "out.xlsx")


def _streamed(s: Store, folder: Path, monkeypatch, span: int, **kw) -> tuple[dict[str, bytes], bool]:
    """The streamed export's workbook and whether it kept streaming (no fallback to the whole export)."""
    folder.mkdir()
    monkeypatch.setattr(stream, "SPAN_RECORDS", span)
    kept = []
    real = writers.write_xlsx_streamed
    monkeypatch.setattr(writers, "write_xlsx_streamed", lambda *a: kept.append(real(*a)) or kept[-1])
    result = export(s, "xlsx", folder / "out.xlsx", **kw)
    monkeypatch.setattr(writers, "write_xlsx_streamed", real)
    assert result.rows["records"] == len(s.record_ids())
    assert sorted(p.name for p in folder.iterdir()) == ["out.xlsx"]  # no temporary file left
    assert (folder / "out.xlsx").stat().st_mode & 0o777 == 0o600
    return _parts(folder / "out.xlsx"), kept == [True]


@pytest.mark.parametrize("deidentify", [False, True])
@pytest.mark.parametrize("span", [1, 3, 10_000])
@pytest.mark.parametrize("audit", ["store", "branching", "demo"])
def test_streamed_xlsx_is_the_whole_exports_workbook(request, tmp_path, monkeypatch, audit, span, deidentify):
    s = request.getfixturevalue(audit)
    want = _whole(s, tmp_path / "whole", monkeypatch, deidentify=deidentify)
    got, streamed = _streamed(s, tmp_path / "stream", monkeypatch, span, deidentify=deidentify)
    assert streamed
    assert got == want
    book = openpyxl.load_workbook(tmp_path / "stream" / "out.xlsx")
    assert book.sheetnames[:2] == ["records", "notes"]
    assert book["records"].max_row == 1 + len(s.record_ids())


def test_every_span_cut_across_processes_still_writes_the_whole_exports_workbook(demo, tmp_path, monkeypatch):  # noqa: F811
    want = _whole(demo, tmp_path / "whole", monkeypatch)
    monkeypatch.setattr(xl, "parts_for", lambda cells, cpus=None: 3)
    got, streamed = _streamed(demo, tmp_path / "stream", monkeypatch, 4)
    assert streamed and got == want


def test_a_span_whose_dtypes_differ_falls_back_to_the_whole_export(store, tmp_path, monkeypatch):  # noqa: F811
    # a word stored in a count field (as in test_export_stream): the whole table has the column as
    # text, so its numbers are text cells there and number cells in an Int64 span
    with store._write() as db:
        db.conn.execute(
            "UPDATE codes SET value = 'many', submitted_value = 'many' WHERE record_id = 'R6' AND field = 'visits'"
        )
    want = _whole(store, tmp_path / "whole", monkeypatch)
    got, streamed = _streamed(store, tmp_path / "one", monkeypatch, 1)
    assert not streamed and got == want


def test_a_commit_during_the_stream_changes_no_span(demo, tmp_path, monkeypatch):  # noqa: F811
    want = _whole(demo, tmp_path / "before", monkeypatch)
    last = demo.record_ids()[-1]
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


def test_a_failure_mid_stream_leaves_no_file(demo, tmp_path, monkeypatch):  # noqa: F811
    from chartcode.export import tables

    real, calls = tables.wide_tables, []

    def failing_on_the_third_span(part, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real(part, **kw)

    monkeypatch.setattr(tables, "wide_tables", failing_on_the_third_span)
    monkeypatch.setattr(stream, "SPAN_RECORDS", 2)
    (tmp_path / "out").mkdir()
    with pytest.raises(RuntimeError, match="boom"):
        export(demo, "xlsx", tmp_path / "out" / "x.xlsx")
    assert list((tmp_path / "out").iterdir()) == []
