"""The report read record span by record span (chartcode.report.spans) says exactly what the report read
from the whole audit says: the same agreement matrices (so the same coefficients and bootstrap
intervals), distributions, analysis frame, open disagreements and notes, for any span size.

Audits: random conjoint-pain audits (branching logic; every record coded by the intern with gaps,
a double-coded sample with disagreements, consensus values, an open record, records and notes with
no code), the every-type audit of test_export_blocks (text, dates, word codes), the branching-logic
audit, the demo and an empty one. Pages are compared as Markdown (the same model the HTML page
renders; the bench compares the HTML) with the clock fixed."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chartcode.agreement.collect import collect
from chartcode.analysis import analysis_frame
from chartcode.audit import load_audit
from chartcode.dataset import open_disagreements, records_frame
from chartcode.demo import build_demo
from chartcode.report import build as report_build
from chartcode.report.spans import choice_counts, read_spans
from chartcode.store import Store
from tests.applicability_data import branching_store
from tests.unit.test_export_blocks import store  # noqa: F401 - the every-type audit fixture

SIZES = [1, 3, 10_000]


def random_audit(path: Path, seed: int, n: int = 16) -> Store:
    """A conjoint-pain audit of ``n`` records with random codes (see the module docstring)."""
    rng = random.Random(seed)
    audit = load_audit("conjoint-pain")
    s = Store.create(path, audit.codebook, coders=[("intern", "coder"), ("supervisor", "supervisor")])
    cb = s.codebook
    ids = [f"R{rng.randrange(10**6):06d}" for _ in range(n)]
    ids = sorted(set(ids))
    s.add_records(ids)
    notes: dict[str, list[tuple[str, str]]] = {}
    with s._write() as db:
        for rid in ids:
            for k in range(rng.choice([0, 1, 1, 2, 3])):
                kind = rng.choice(["conjoint", "conjoint", "phone", "individual"])
                nid = f"{rid}-N{k}"
                notes.setdefault(rid, []).append((nid, kind))
                db.conn.execute(
                    "INSERT INTO notes(note_id, record_id, note_date, note_type, text, content_sha)"
                    " VALUES (?, ?, ?, ?, 'text', ?)",
                    [nid, rid, f"2024-0{1 + k}-0{1 + rng.randrange(9)}", kind, nid],
                )

    def value(f):
        if f.has_choices:
            return rng.choice(f.codes)
        return rng.randint(int(f.min or 0), int(f.min or 0) + 30)

    base: dict = {}
    coded = [rid for rid in ids if rng.random() < 0.9]  # the rest: no code at all
    s.assign("intern", coded)
    sample = [rid for rid in coded if rng.random() < 0.35]
    s.assign("supervisor", sample)
    for coder, rids in (("intern", coded), ("supervisor", sample)):
        for rid in rids:
            for f in cb.record_fields:
                if not f.required and rng.random() < 0.15:
                    continue  # a gap
                v = value(f)
                if coder == "supervisor" and (rid, None, f.name) in base and rng.random() < 0.7:
                    v = base[(rid, None, f.name)]
                base.setdefault((rid, None, f.name), v)
                s.set_code(coder, rid, f.name, v)
            for nid, kind in notes.get(rid, []):
                for f in cb.note_fields:
                    if not f.applies_to(kind) or (not f.required and rng.random() < 0.1):
                        continue
                    v = value(f)
                    if coder == "supervisor" and (rid, nid, f.name) in base and rng.random() < 0.7:
                        v = base[(rid, nid, f.name)]
                    base.setdefault((rid, nid, f.name), v)
                    s.set_code(coder, rid, f.name, v, note_id=nid)
            if not (coder == "supervisor" and rid == sample[-1]):  # one record left open
                s.submit(coder, rid)
    for rid in sample[:3]:
        s.set_consensus(rid, "sex", cb.field("sex").codes[0], reason="chart says so", decided_by="supervisor")
    return s


AUDITS = ["conjoint-1", "conjoint-2", "conjoint-3", "store", "branching", "demo", "empty"]


@pytest.fixture
def audit_store(request, tmp_path):
    """The audit named by the test's ``audit`` parameter (see :data:`AUDITS`)."""
    name = request.node.callspec.params["audit"]
    if name == "store":  # test_export_blocks' fixture, which closes it
        yield request.getfixturevalue("store")
        return
    if name.startswith("conjoint-"):
        s = random_audit(tmp_path / f"{name}.db", int(name.split("-")[1]))
    elif name == "branching":
        s = branching_store(tmp_path / "branching.db")
    elif name == "demo":
        s = Store.open(build_demo(tmp_path / "demo"))
    else:
        s = Store.create(tmp_path / "empty.db", load_audit("conjoint-pain").codebook, coders=[("intern", "coder")])
    yield s
    s.close()


@pytest.fixture
def conjoint(tmp_path):
    s = random_audit(tmp_path / "conjoint.db", 1)
    yield s
    s.close()


def _ratings_equal(got, want) -> None:
    assert [r.field.name for r in got] == [r.field.name for r in want]
    for g, w in zip(got, want, strict=True):
        assert g.coders == w.coders, g.field.name
        assert g.categories == w.categories, g.field.name
        np.testing.assert_array_equal(g.matrix, w.matrix, err_msg=g.field.name)
        assert (g.unreadable, g.applicability_disagreements, g.not_applicable) == (
            w.unreadable,
            w.applicability_disagreements,
            w.not_applicable,
        ), g.field.name


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("audit", AUDITS)
def test_span_reads_equal_the_whole_audit_reads(audit_store, audit, size):
    s = audit_store
    data = read_spans(s, keep=10**6, size=size)
    assert data is not None
    _ratings_equal(data.ratings, collect(s))
    assert data.distributions == choice_counts(s, records_frame(s))
    whole_units = open_disagreements(s)
    assert data.n_open == len(whole_units)
    assert [(u.record_id, u.note_id, u.field, u.values, u.memos, u.kind) for u in data.open_units] == [
        (u.record_id, u.note_id, u.field, u.values, u.memos, u.kind) for u in whole_units
    ]
    frame, known = analysis_frame(s)
    if data.analysis is None:  # the spans' frames could not be joined: the analyses read the whole audit
        assert audit == "store" and size < len(s.record_ids())  # text columns of mixed types in its spans
    else:
        pd.testing.assert_frame_equal(data.analysis[0], frame)
        assert data.analysis[1] == known


def test_only_the_first_open_units_are_kept_and_all_are_counted(conjoint):
    whole = open_disagreements(conjoint)
    assert len(whole) >= 2
    data = read_spans(conjoint, keep=1, size=2)
    assert data is not None
    assert data.n_open == len(whole)
    assert [(u.record_id, u.note_id, u.field) for u in data.open_units] == [
        (u.record_id, u.note_id, u.field) for u in whole[:1]
    ]


def _pages(s: Store, monkeypatch, fmt: str, size: int | None) -> str:
    """The report's text; ``size`` None: the whole-audit read (the reference)."""
    monkeypatch.setattr(report_build, "utcnow", lambda: "2026-01-01T00:00:00Z")
    if size is None:
        monkeypatch.setattr(report_build, "read_spans", lambda *a, **k: None)
    else:
        monkeypatch.setattr(report_build, "read_spans", lambda st, keep, **k: read_spans(st, keep=keep, size=size, **k))
    return report_build.build_report(s, fmt=fmt, bootstrap=50, seed=3)


@pytest.mark.parametrize("size", [2, 10_000])
@pytest.mark.parametrize("audit", AUDITS)
def test_report_read_by_spans_is_the_whole_audit_report(audit_store, monkeypatch, audit, size):
    s = audit_store
    want = _pages(s, monkeypatch, "md", None)
    assert _pages(s, monkeypatch, "md", size) == want


def test_a_span_with_other_dtypes_leaves_the_analyses_to_the_whole_audit(tmp_path, monkeypatch):
    """A count with a word code in one span only: that span's column is text, the others' numbers; the
    analyses read the whole audit (whose column is text throughout) rather than join them."""
    s = random_audit(tmp_path / "uneven.db", 5, n=12)
    try:
        rid = s.record_ids()[-1]
        with s._write() as db:  # a stored value that no longer fits the field (as after a codebook change)
            db.conn.execute(
                "UPDATE codes SET submitted_value = 'unknown', value = 'unknown' WHERE record_id = ? AND field = 'age'",
                [rid],
            )
        data = read_spans(s, keep=10, size=5)
        assert data is not None
        assert data.analysis is None
        assert _pages(s, monkeypatch, "md", 5) == _pages(s, monkeypatch, "md", None)
    finally:
        s.close()


def test_a_rating_scale_is_read_whole(tmp_path):
    from chartcode.demo_fidelity import build_fidelity_demo

    s = Store.open(build_fidelity_demo(tmp_path / "fid"))
    try:
        assert read_spans(s, keep=10) is None
    finally:
        s.close()
