"""The conjoint-pain codebook's conditions (show_if) and the demo data that follows them.

The study (Bloor et al., the seed of codebooks/conjoint-pain.yaml) describes the follow-up type
and the follow-through only for the veterans who accepted follow-up, so follow-up type,
follow-up evident and follow-up sessions apply only when accepted_followup = 1. The demo's coders
put no code on a field that does not apply, so a demo record is complete without them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chartcode import demo
from chartcode.codebook import load_codebook

ROOT = Path(__file__).resolve().parents[2]
CODEBOOK = ROOT / "codebooks" / "conjoint-pain.yaml"
FOLLOWUP = ("followup_type", "followup_evident", "followup_sessions")


@pytest.fixture(scope="module")
def cb():
    return load_codebook(CODEBOOK)


def test_the_follow_up_fields_apply_only_when_follow_up_was_accepted(cb):
    assert cb.version == "1.1"
    for name in FOLLOWUP:
        assert cb.field(name).show_if == "[accepted_followup] = '1'", name
        assert cb.depends_on(name) == {"accepted_followup"}
        assert "Only when the veteran accepted follow-up" in cb.field(name).rules
    others = [f.name for f in cb.fields if f.show_if and f.name not in FOLLOWUP]
    assert others == []  # the study supports no other condition (see the codebook's comment)
    declined = cb.form([], {(None, "accepted_followup"): 0})
    accepted = cb.form([], {(None, "accepted_followup"): 1})
    not_yet = cb.form([], {})
    for name in FOLLOWUP:
        assert not declined.applies(None, name) and accepted.applies(None, name)
        assert not not_yet.applies(None, name)  # blank is not '1'
    # a declined record is complete without them: they are not missing
    missing = {f.name for _, f in cb.missing_required([], {(None, "accepted_followup"): 0})}
    assert not missing & set(FOLLOWUP)
    assert {"followup_evident", "followup_sessions"} <= {
        f.name for _, f in cb.missing_required([], {(None, "accepted_followup"): 1})
    }


def _by_record(rows):
    out: dict[str, dict[tuple[str | None, str], object]] = {}
    for rid, nid, field, value, _memo in rows:
        out.setdefault(rid, {})[(nid or None, field)] = value
    return out


def test_no_demo_coder_codes_a_field_that_does_not_apply_and_every_record_is_complete(cb):
    records = demo.make_records()
    by_id = {r.record_id: r for r in records}
    sample = demo.double_coding_sample([r.record_id for r in records[: demo.INTERN_CODED]])
    coders = {
        "intern": _by_record(row for r in records for row in demo.truth_codes(r)),
        "supervisor": _by_record(demo.supervisor_codes(records, sample)),
    }
    declined = 0
    for coder, records_codes in coders.items():
        for rid, values in records_codes.items():
            notes = [(n.note_id, n.note_type) for n in by_id[rid].notes]
            form = cb.form(notes, values)
            assert form.inapplicable_coded() == [], (coder, rid)
            assert cb.missing_required(notes, values) == [], (coder, rid)
            if values[(None, "accepted_followup")] == 0:
                declined += 1
                assert not any((None, name) in values for name in FOLLOWUP)
    assert declined >= 12  # the 12 intern records that declined, and the supervisor's


def test_the_bench_counts_fewer_keystrokes_per_demo_record_with_the_conditions():
    """bench/coding_latency.py --keystrokes-only: from the targets that apply. A veteran who
    declined follow-up no longer costs Tab past follow-up type, a 0 for follow-up evident and a
    0 for the number of sessions; every other record costs what it did."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from coding_latency import demo_keystrokes

    figures = demo_keystrokes()
    before, after = figures["before"], figures["after"]
    assert before["records"] == after["records"] == 24
    declined = sum(1 for r in demo.make_records() if not r.truth.course.accepted)
    assert declined == 12
    assert after["total"] == before["total"] - 3 * declined
    assert after["min"] == before["min"] - 3 and after["max"] == before["max"]
    assert after["median"] < before["median"]
