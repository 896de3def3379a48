"""A record span's submitted codes are read packed (chartcode.store.dataset_queries.span_codes): one
row per (record, note), its codes as strings of numbers SQLite writes while it walks the record
index, and the codes that are not integers (or not of the codebook's fields) as rows. The frame
built from them (chartcode.dataset.submitted_codes on a span) must be the rows' frame exactly: the
same rows in the same order (unit by unit, rowid order within a unit, so "the first of equal
values" is the same code), the same values of the same Python types, the same categories."""

from __future__ import annotations

import pandas as pd
import pytest

from chartcode.dataset import submitted_codes
from chartcode.export import stream
from chartcode.store import Store  # noqa: TC001
from tests.unit.test_export_stream import demo  # noqa: F401 - the demo audit fixture


class _RowsSpan(stream.RecordSpan):
    """The same span read as rows (the read before packing)."""

    submitted_span_codes = None


def _frames(s: Store, span_cls, size: int = 3) -> list[pd.DataFrame]:
    ids = sorted(s.record_ids())
    with s.read_snapshot():
        return [
            submitted_codes(span_cls(s, part, span, s.open_record_ids()))  # type: ignore[arg-type]
            for part, span in stream.spans(ids, size=size)
        ]


def _same(packed: pd.DataFrame, rows: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(packed, rows)
    for column in packed.columns:  # equal is not enough: 1, 1.0 and True are equal
        assert [(type(v), repr(v)) for v in packed[column].tolist()] == [
            (type(v), repr(v)) for v in rows[column].tolist()
        ], column


def test_packed_span_codes_are_the_rows_of_the_demo_audit(demo):  # noqa: F811
    packed, rows = _frames(demo, stream.RecordSpan), _frames(demo, _RowsSpan)
    assert sum(len(f) for f in packed) > 100, "the demo holds codes"
    for a, b in zip(packed, rows, strict=True):
        _same(a, b)


@pytest.fixture
def odd(demo):  # noqa: F811
    """The demo audit with codes no codebook write would store (written past the store, as a file
    edited by hand could hold them): text, a real equal to an integer in the same unit, big and
    negative integers, a field the codebook does not have."""
    s = demo
    rid = sorted(s.record_ids())[1]  # double-coded by intern and supervisor, both submitted
    with s._write() as db:
        conn = db.conn
        rows = conn.execute(
            "SELECT id, field, coder FROM codes WHERE record_id = ? AND submitted_value IS NOT NULL ORDER BY id",
            [rid],
        ).fetchall()
        by = {(f, c): i for i, f, c in rows}
        first = rows[0][1]
        conn.execute("UPDATE codes SET submitted_value = 1.0 WHERE id = ?", [by[(first, "supervisor")]])
        conn.execute("UPDATE codes SET submitted_value = 1 WHERE id = ?", [by[(first, "intern")]])
        texts = [f for f, c in by if c == "intern" and f != first][:3]
        conn.execute(
            "UPDATE codes SET submitted_value = 'free text, with a comma' WHERE id = ?", [by[(texts[0], "intern")]]
        )
        conn.execute("UPDATE codes SET submitted_value = ? WHERE id = ?", [2**62 + 1, by[(texts[1], "intern")]])
        conn.execute("UPDATE codes SET submitted_value = -7 WHERE id = ?", [by[(texts[2], "intern")]])
        conn.execute("UPDATE codes SET field = 'not_in_the_codebook' WHERE id = ?", [by[(texts[2], "supervisor")]])
        conn.execute("UPDATE codes SET submitted_value = x'00ff' WHERE id = ?", [by[(texts[1], "supervisor")]])
    return s


def test_packed_span_codes_keep_odd_values_their_type_and_place(odd):
    packed, rows = _frames(odd, stream.RecordSpan), _frames(odd, _RowsSpan)
    values = [v for f in packed for v in f["value"].tolist()]
    assert "free text, with a comma" in values and 2**62 + 1 in values and -7 in values and b"\x00\xff" in values
    assert any(type(v) is float for v in values)
    assert "not_in_the_codebook" in set().union(*(f["field"].astype(object) for f in packed))
    for a, b in zip(packed, rows, strict=True):
        _same(a, b)


def test_packed_span_codes_read_through_the_record_index_sorting_nothing(demo):  # noqa: F811
    s = demo
    ids = sorted(s.record_ids())
    spans = list(stream.spans(ids, size=5))
    for _, span in (spans[0], spans[1], spans[-1]):
        seen: list[str] = []
        s._db.conn.set_trace_callback(seen.append)
        s.span_codes(["sex"], ["intern", "supervisor"], span)
        s._db.conn.set_trace_callback(None)
        (sql,) = [q for q in seen if "GROUP BY" in q]
        plan = " | ".join(r[-1] for r in s._db.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING INDEX codes_by_record" in plan, plan
        assert "SCAN codes" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_a_span_with_no_shared_codes_packs_to_the_rows_empty_frame(demo):  # noqa: F811
    s = demo
    with s._write() as db:  # the demo's last records, still open: nothing of theirs is shared yet
        db.conn.execute("UPDATE assignments SET submitted_at = NULL WHERE record_id >= ?", [sorted(s.record_ids())[-3]])
    packed, rows = _frames(s, stream.RecordSpan), _frames(s, _RowsSpan)
    assert len(packed[-1]) == 0
    for a, b in zip(packed, rows, strict=True):
        _same(a, b)


@pytest.mark.parametrize("listed_max", [500, 1], ids=["open ids named", "many open: the subquery"])
def test_the_spans_open_records_read_in_the_snapshot_keep_their_codes_out(demo, monkeypatch, listed_max):  # noqa: F811
    from chartcode.store import visibility

    monkeypatch.setattr(visibility, "OPEN_LISTED_MAX", listed_max)
    s = demo
    ids = sorted(s.record_ids())
    with s._write() as db:  # open records in the first span and in the middle one, with codes stored
        db.conn.execute(
            "UPDATE assignments SET submitted_at = NULL WHERE record_id IN (?, ?, ?)", [ids[0], ids[4], ids[5]]
        )
    packed, rows = _frames(s, stream.RecordSpan), _frames(s, _RowsSpan)
    shared = set().union(*(f["record_id"].astype(object) for f in packed))
    assert not shared & {ids[0], ids[4], ids[5]} and shared
    for a, b in zip(packed, rows, strict=True):
        _same(a, b)


def test_with_every_record_closed_the_span_read_tests_no_record_for_being_open(demo):  # noqa: F811
    s = demo
    with s._write() as db:
        db.conn.execute("UPDATE assignments SET submitted_at = coalesce(submitted_at, '2026-01-01T00:00:00Z')")
    ids = sorted(s.record_ids())
    seen: list[str] = []
    with s.read_snapshot():
        assert s.open_record_ids() == []
        part, span = next(iter(stream.spans(ids, size=3)))
        s._db.conn.set_trace_callback(seen.append)
        submitted_codes(stream.RecordSpan(s, part, span, []))  # type: ignore[arg-type]
        s._db.conn.set_trace_callback(None)
    (sql,) = [q for q in seen if "GROUP BY" in q]
    assert "assignments" not in sql
