"""The report's span finds its units of disagreement from the submitted codes it has read already
(chartcode.report.spans.ReportSpan.disagreement_units), not from SQLite's GROUP BY ... HAVING: the
same units, consensus values and reasons, in the same order, as the store's query gives, for any
span -- also where SQLite's equality of stored values decides (1 and 1.0 are one value, '1' and 1
two), for a field no longer in the codebook, records not submitted by every coder, and record ids
whose order is the bytes' (upper case, lower case, accented)."""

from __future__ import annotations

from typing import cast

import pytest

from chartcode.export.stream import spans
from chartcode.report.spans import ReportSpan
from chartcode.store import Store
from tests.unit.test_report_spans import audit_store, random_audit, store  # noqa: F401 - the audits' fixtures


def _each_span(s: Store, size: int) -> list[tuple[list, list]]:
    """(from the frames, from SQLite) of each span of ``size`` records."""
    out = []
    with s.read_snapshot():
        ids, open_ids = s.record_ids(), s.open_record_ids()
        for part_ids, span in spans(ids, size):
            part = ReportSpan(s, part_ids, span, open_ids)
            out.append((part.disagreement_units(), s.disagreement_units_in(span)))
    return out


@pytest.mark.parametrize("size", [1, 3, 10_000])
@pytest.mark.parametrize("audit", ["conjoint-1", "conjoint-2", "conjoint-3", "store", "branching", "demo", "empty"])
def test_the_units_are_the_stores(audit_store, audit, size):  # noqa: F811
    got = _each_span(audit_store, size)
    for mine, sqlite in got:
        assert mine == sqlite
    if audit.startswith("conjoint") and size == 10_000:
        assert got[0][1]  # the audit has some


def test_sqlites_equality_of_values_other_fields_and_byte_order(tmp_path):
    s = random_audit(tmp_path / "odd.db", 4, n=10)
    try:
        ids = s.record_ids()
        s.add_records(["Zeta", "alpha", "Ärzte", "zz"])
        with s._write() as db:
            rows = db.conn.execute(
                "SELECT id, coder, record_id, field FROM codes WHERE coder = 'supervisor' AND submitted_at IS NOT NULL"
                " AND note_key = '' ORDER BY id"
            ).fetchall()
            rids = sorted({r[2] for r in rows})
            assert len(rids) >= 2
            first = rids[0]
            # on one record: the supervisor's age as 1.0 where the intern has 1 (one value in SQLite), sex
            # as the text '1' where the intern has 1 (two values)
            for field, sup, intern in (("age", 40.0, 40), ("sex", "1", 1)):
                db.conn.execute(
                    "UPDATE codes SET submitted_value = ? WHERE record_id = ? AND field = ? AND coder = 'supervisor'",
                    [sup, first, field],
                )
                db.conn.execute(
                    "UPDATE codes SET submitted_value = ? WHERE record_id = ? AND field = ? AND coder = 'intern'",
                    [intern, first, field],
                )
            # a field no longer in the codebook, coded differently by both
            hash_ = db.conn.execute("SELECT codebook_hash FROM codes LIMIT 1").fetchone()[0]
            for coder, v in (("intern", 1), ("supervisor", 2)):
                db.conn.execute(
                    "INSERT INTO codes(coder, record_id, note_key, field, value, submitted_value, submitted_at,"
                    " codebook_hash, updated_at)"
                    " VALUES (?, ?, '', 'retired_field', ?, ?, '2026-01-01', ?, '2026-01-01')",
                    [coder, rids[1], v, v, hash_],
                )
            # the new records: coded by both, differently, submitted
            for rid in ("Zeta", "alpha", "Ärzte", "zz"):
                for coder, v in (("intern", 1), ("supervisor", 2)):
                    db.conn.execute(
                        "INSERT INTO codes(coder, record_id, note_key, field, value, submitted_value, submitted_at,"
                        " codebook_hash, updated_at) VALUES (?, ?, '', 'sex', ?, ?, '2026-01-01', ?, '2026-01-01')",
                        [coder, rid, v, v, hash_],
                    )
        assert set(ids) < set(s.record_ids())
        for size in (1, 2, 4, 10_000):
            for mine, sqlite in _each_span(s, size):
                assert mine == sqlite
        whole = _each_span(s, 10_000)[0][1]
        assert ("alpha", "", "sex", None, None) in whole and ("Ärzte", "", "sex", None, None) in whole
        assert any(u[2] == "retired_field" for u in whole)
        assert (first, "", "sex") in {u[:3] for u in whole}
        assert (first, "", "age") not in {u[:3] for u in whole}
    finally:
        s.close()


def test_an_open_record_has_none(conjoint):  # noqa: F811
    """Codes of a record a coder has not submitted are no one's to compare yet."""
    s = conjoint
    open_ids = s.open_record_ids()
    assert open_ids
    with s.read_snapshot():
        ids = s.record_ids()
        part = ReportSpan(s, ids, (None, None), s.open_record_ids())
        units = cast("list", part.disagreement_units())
    assert not {u[0] for u in units} & set(open_ids)
    assert units == s.disagreement_units_in((None, None))


@pytest.fixture
def conjoint(tmp_path):
    s = random_audit(tmp_path / "conjoint.db", 1)
    yield s
    s.close()


def test_the_spans_read_scans_the_codes_once(conjoint):
    """Each span's codes are read once (for agreement, final values and disagreements alike): no
    GROUP BY ... HAVING over them for the disagreements."""
    from chartcode.report.spans import read_spans

    statements: list[str] = []
    conjoint._db.conn.set_trace_callback(statements.append)
    try:
        data = read_spans(conjoint, keep=100, size=4)  # a small audit: one process
    finally:
        conjoint._db.conn.set_trace_callback(None)
    assert data is not None and data.n_open
    assert statements
    assert not [s for s in statements if "HAVING" in s]
