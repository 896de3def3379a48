"""A record span's reads (the streamed export's, chartcode.export.stream) go through the record
index whatever the span's bounds: the first span (no lower bound) and the last (no upper bound)
must not walk every code of the audit, or each of them costs a whole-table read and the export's
time grows with the audit's size times its number of spans; nor sort the span's codes first.
And the audit's analysis plan (its YAML parsed with every line located) is parsed once per state
of the database, not once per span."""

from __future__ import annotations

import pytest

from chartcode import analysis
from chartcode.export import stream
from chartcode.store import Store  # noqa: TC001
from tests.unit.test_export_stream import demo  # noqa: F401 - the demo audit fixture


def _plans(s: Store, sql: str, params) -> str:
    return " | ".join(row[-1] for row in s._db.conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_every_span_reads_codes_through_the_record_index(demo, which):  # noqa: F811
    s = demo
    ids = sorted(s.record_ids())
    spans = list(stream.spans(ids, size=5))
    assert len(spans) >= 3
    _, span = {"first": spans[0], "middle": spans[1], "last": spans[-1]}[which]
    seen: list[str] = []
    s._db.conn.set_trace_callback(seen.append)
    rows = [r for chunk in s.submitted_code_chunks([], [], span=span) for r in chunk]
    s._db.conn.set_trace_callback(None)
    assert rows, "the span holds submitted codes"
    (sql,) = [q for q in seen if q.lstrip().upper().startswith("SELECT") and "FROM codes" in q]
    # the statement as run, its parameters inlined by the trace; plan it again as it was run
    plan = _plans(s, sql, [])
    assert "USING INDEX codes_by_record" in plan, plan
    assert "SCAN codes" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # the index's own order: nothing gathered and sorted first


def test_the_span_rows_are_the_whole_reads_rows_unit_by_unit_in_id_order_within_a_unit(demo):  # noqa: F811
    s = demo
    ids = sorted(s.record_ids())
    whole = s.submitted_code_rows([], [])
    parts = [r for _, span in stream.spans(ids, size=3) for c in s.submitted_code_chunks([], [], span=span) for r in c]
    assert sorted(parts, key=repr) == sorted(whole, key=repr)
    # within a span the rows come unit by unit (the record index's order: nothing to sort), and a
    # unit's codes keep the whole read's (id) order: the first of equal values is the same one
    for _, span in stream.spans(ids, size=3):
        got = [r for c in s.submitted_code_chunks([], [], span=span) for r in c]
        lo, hi = span
        want = [r for r in whole if (lo is None or r[1] >= lo) and (hi is None or r[1] < hi)]
        assert got == sorted(want, key=lambda r: (r[1], r[2] or "", r[0]))  # stable: id order within a unit


def test_the_analysis_plan_is_parsed_once_per_database_state(demo, monkeypatch):  # noqa: F811
    parsed = []
    real = analysis.load_located
    monkeypatch.setattr(analysis, "load_located", lambda *a, **kw: parsed.append(1) or real(*a, **kw))
    first = analysis.load_plan(demo)
    assert first.derived, "the demo's audit has derived variables"
    assert analysis.load_plan(demo) is first
    assert len(parsed) == 1
    demo.set_code("intern", demo.record_ids()[0], "sex", 2)  # any commit: a new state
    assert analysis.load_plan(demo) is not first
    assert len(parsed) == 2


@pytest.mark.parametrize(
    ("n", "size", "first"),
    [
        *[(n, 10, first) for n in (0, 1, 2, 9, 23, 101) for first in (None, 1, 2, 10, 50)],
        (100_001, 10_000, 1_250),  # the xlsx export's spans at 100k records
    ],
)
def test_spans_cover_every_id_once_growing_from_the_first_to_the_size(n, size, first):
    ids = [f"R{i:06d}" for i in range(n)]
    got = list(stream.spans(ids, size, first))
    assert [r for part, _ in got for r in part] == ids  # every id once, in order
    at = {r: i for i, r in enumerate(ids)}
    for part, (lo, hi) in got:  # each range holds exactly its slice
        start, stop = (at[lo] if lo is not None else 0), (at[hi] if hi is not None else n)
        assert ids[start:stop] == part
    sizes = [len(part) for part, _ in got[:-1]]  # the last span holds what is left
    assert all(s <= size for s in sizes)
    if sizes:
        assert sizes[0] == min(first or size, size)
        # each grows (by stream.RAMP at most, by one at least) until the size, then stays there
        for a, b in zip(sizes, sizes[1:], strict=False):
            assert b == size if a == size else a < b <= max(a + 1, int(a * stream.RAMP))
