"""Settling an applicability disagreement reads the final values of the disagreeing units' records
only (chartcode.applicability.applicability_units): on a 100k-record audit a Form and a source for
every record cost the report a tenth of its reads to settle a handful of units. What it decides is
what the whole audit's final values decide. Data: tests/applicability_data.py (R6 and R7 disagree
on whether followup_type and the fields under it apply)."""

from __future__ import annotations

import pytest

from chartcode import applicability, dataset
from chartcode.applicability import applicability_units
from tests.applicability_data import branching_store


@pytest.fixture
def store(tmp_path):
    s = branching_store(tmp_path / "audit.db")
    yield s
    s.close()


def _asked(monkeypatch) -> list[set[str]]:
    asked: list[set[str]] = []
    for module, name in ((applicability, "final_forms"), (dataset, "final_sources")):
        real = getattr(module, name)

        def spy(store, record_ids, real=real):
            asked.append(set(record_ids))
            return real(store, record_ids)

        monkeypatch.setattr(module, name, spy)
    return asked


def test_only_the_disagreeing_records_final_values_are_read(store, monkeypatch):
    asked = _asked(monkeypatch)
    units = applicability_units(store)
    assert {u.record_id for u in units} == {"R6", "R7"}
    assert ("R6", "followup_type") in [(u.record_id, u.field) for u in units]
    assert asked == [{"R6", "R7"}, {"R6", "R7"}]


def test_settled_as_is_what_every_records_final_values_decide(store):
    store.set_consensus("R6", "accepted_followup", 1, decided_by="supervisor", reason="phone call documented")
    units = applicability_units(store)
    every = {f"R{i}" for i in range(1, 9)}
    sources = dataset.final_sources(store, every)
    forms = applicability.final_forms(store, every)
    for u in units:
        fld = store.codebook.field(u.field)
        at = u.note_id or ""
        if any(
            sources.get((u.record_id, at, c)) == "unresolved"
            for c in applicability.controlling(store.codebook, u.field)
        ):
            assert u.settled_as is None
        else:
            assert u.settled_as == ("applies" if forms[u.record_id].applies(u.note_id, fld) else "not_applicable")
    settled = {(u.record_id, u.field): u.settled_as for u in units}
    assert settled[("R6", "followup_type")] == "applies"  # the consensus said yes: the field applies
    assert settled[("R7", "followup_type")] is None  # accepted_followup is still unresolved for R7
