"""The wide xlsx export is written record span by record span (chartcode.export.xlsx.Spans,
chartcode.export.stream's spans): no table of every record's final values is made, not for the
records and notes sheets and not for the analyses (their frame is made span by span too), and the
workbook is the one the whole export writes, part for part; the agreement sheet is computed on
the spans' matrices joined (no second read of every code); a span whose dtypes differ from the
first's makes the whole export instead.

Audits: the demo (analyses: describe, linear, logistic, welch) and branching logic with derived
variables (tests/data/branching); plain and de-identified; spans of a few records."""

from __future__ import annotations

import importlib
import zipfile
from pathlib import Path

import pytest

from chartcode import dataset
from chartcode.demo import build_demo
from chartcode.export import export, formats, stream
from chartcode.export.formats import ExportInput
from chartcode.store import Store
from tests.applicability_data import branching_store

# (modules: chartcode.agreement's own names `collect` and `read` are functions)
agreement_collect = importlib.import_module("chartcode.agreement.collect")
agreement_read = importlib.import_module("chartcode.agreement.read")


def _parts(path: Path) -> dict[str, bytes]:
    """Every part of the zip but docProps/core.xml (it holds the time of writing)."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


@pytest.fixture(params=["demo", "branching"])
def audit(request, demo_db, tmp_path):
    s = Store.open(demo_db) if request.param == "demo" else branching_store(tmp_path / "branching.db")
    yield s
    s.close()


def _whole(s: Store, out: Path, deidentify: bool) -> dict[str, bytes]:
    formats._xlsx_wide_whole(ExportInput(s, deidentify, dates="shift"), [out])
    return _parts(out)


@pytest.mark.parametrize("deidentify", [False, True])
def test_the_streamed_workbook_is_the_whole_one(audit, tmp_path, monkeypatch, deidentify):
    reference = _whole(audit, tmp_path / "whole.xlsx", deidentify)
    monkeypatch.setattr(stream, "SPAN_RECORDS", 3)
    fell_back = []
    whole = formats._xlsx_wide_whole
    monkeypatch.setattr(formats, "_xlsx_wide_whole", lambda *a: fell_back.append(1) or whole(*a))
    result = export(audit, "xlsx", tmp_path / "spans.xlsx", deidentify=deidentify)
    assert not fell_back
    assert result.rows["records"] == len(audit.record_ids())
    assert _parts(tmp_path / "spans.xlsx") == reference


def test_no_table_of_every_record_is_made(audit, tmp_path, monkeypatch):
    reference = _whole(audit, tmp_path / "whole.xlsx", False)
    monkeypatch.setattr(stream, "SPAN_RECORDS", 4)

    def never(self):
        raise AssertionError("the whole wide table was made")

    monkeypatch.setattr(ExportInput, "wide", property(never))
    for name in ("records_frame", "notes_frame"):
        made = getattr(dataset, name)

        def span_only(store, *a, _made=made, _name=name, **kw):
            assert isinstance(store, stream.RecordSpan), f"{_name} of every record"
            return _made(store, *a, **kw)

        monkeypatch.setattr(dataset, name, span_only)
    export(audit, "xlsx", tmp_path / "spans.xlsx")
    assert _parts(tmp_path / "spans.xlsx") == reference


def test_uneven_spans_make_the_whole_export(audit, tmp_path, monkeypatch):
    reference = _whole(audit, tmp_path / "whole.xlsx", False)
    monkeypatch.setattr(stream, "SPAN_RECORDS", 3)
    checks = []
    check = stream._Kinds.check

    def uneven_second(self, frame):
        checks.append(1)
        if len(checks) > 2:  # the second span's records table
            raise stream._Uneven
        check(self, frame)

    monkeypatch.setattr(stream._Kinds, "check", uneven_second)
    export(audit, "xlsx", tmp_path / "spans.xlsx")
    assert len(checks) == 3
    assert _parts(tmp_path / "spans.xlsx") == reference
    assert not list(tmp_path.glob(".chartcode-*"))  # the half-written book went with its folder


def test_the_agreement_sheet_reads_no_code_the_spans_did_not(audit, tmp_path, monkeypatch):
    reference = _whole(audit, tmp_path / "whole.xlsx", False)
    monkeypatch.setattr(stream, "SPAN_RECORDS", 3)
    read = []
    frame = agreement_collect._collect_frame

    def span_frame(store, *a, **kw):
        assert isinstance(store, stream.RecordSpan), "the agreement read every code of the audit again"
        read.append(tuple(store.record_ids()))
        return frame(store, *a, **kw)

    def never(store, *a, **kw):
        raise AssertionError("the agreement read every code of the audit again")

    monkeypatch.setattr(agreement_collect, "_collect_frame", span_frame)
    monkeypatch.setattr(agreement_read, "collect_packed", never)
    export(audit, "xlsx", tmp_path / "spans.xlsx")
    assert sorted(r for span in read for r in span) == sorted(audit.record_ids())  # once per span
    assert len(read) > 1
    assert _parts(tmp_path / "spans.xlsx") == reference


def test_a_span_whose_agreement_fails_leaves_it_to_the_whole_read(audit, tmp_path, monkeypatch):
    reference = _whole(audit, tmp_path / "whole.xlsx", False)
    monkeypatch.setattr(stream, "SPAN_RECORDS", 3)
    frame = agreement_collect._collect_frame
    spans_read = []

    def second_span_fails(store, *a, **kw):
        if isinstance(store, stream.RecordSpan):
            spans_read.append(1)
            if len(spans_read) == 2:
                raise ValueError("a span's read failed")
        return frame(store, *a, **kw)

    monkeypatch.setattr(agreement_collect, "_collect_frame", second_span_fails)
    export(audit, "xlsx", tmp_path / "spans.xlsx")
    assert len(spans_read) == 2  # no span read after the failure
    assert _parts(tmp_path / "spans.xlsx") == reference
