"""Blinding for listings, disagreements, consensus and the final-value rule.

Blinding (the rule lives once, in chartcode.store.visibility; every command and export that
lists codes asks it through the Store):
  a code of coder C on record R is shown to viewer V only if V is C, or V is a lead, or every
  coder assigned to R has submitted R (and the code itself was submitted). Without a named
  viewer the same rule applies as for any non-lead: nobody can peek by leaving --as out.

Final values (what analyses and exports use), one rule:
  1. the consensus value, where one was decided              -> source "consensus"
  2. else the submitted value when every coder who submitted
     the unit gave the same value: one coder                 -> source "single"
                                   two or more coders        -> source "agreed"
  3. else no value (coders disagree, no consensus yet)        -> source "unresolved"
  Units nobody has submitted have no final value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from chartcode.store.store import Store


def viewer_is_lead(store: Store, viewer: str | None) -> bool:
    return store.viewer_is_lead(viewer)


def visible_codes(
    store: Store, viewer: str | None = None, *, coder: str | None = None, record_id: str | None = None
) -> Iterator[dict[str, Any]]:
    return store.visible_codes(viewer, coder=coder, record_id=record_id)


def hidden_count(store: Store, viewer: str | None = None) -> int:
    return store.hidden_count(viewer)


@dataclass
class Unit:
    record_id: str
    note_id: str | None
    field: str
    values: dict[str, Any]  # coder -> submitted value
    memos: dict[str, str] = dc_field(default_factory=dict)
    consensus: Any = None
    consensus_reason: str | None = None

    # "value": coders gave different values; "applicability": they disagree on whether the field
    # applies (chartcode.applicability), settled through the controlling fields' consensus
    kind: str = "value"
    applies: dict[str, bool] = dc_field(default_factory=dict)  # applicability: coder -> applies for them
    controlling: tuple[str, ...] = ()  # applicability: the fields the show_if reads
    settled_as: str | None = None  # applicability: "applies" / "not_applicable" once decided

    @property
    def agreed(self) -> bool:
        return len(set(map(repr, self.values.values()))) == 1

    @property
    def settled(self) -> bool:
        """Decided: a consensus value, or (applicability) the controlling fields' final values."""
        if self.kind == "applicability":
            return self.settled_as is not None
        return self.consensus is not None

    def describe(self) -> str:
        """An applicability disagreement in words: ``applies for intern, not for supervisor:
        settled through [accepted_followup]``."""
        yes = [c for c, a in self.applies.items() if a]
        no = [c for c, a in self.applies.items() if not a]
        through = ", ".join(f"[{c}]" for c in self.controlling)
        return f"applies for {', '.join(yes)}, not for {', '.join(no)}: settled through {through}"


def units(store: Store, *, field: str | None = None) -> list[Unit]:
    """Submitted values by unit, for units whose record every assigned coder has submitted."""
    out: dict[tuple[str, str, str], Unit] = {}
    for rid, nkey, fname, coder, value, memo in store.shared_submitted_codes(field=field):
        u = out.setdefault((rid, nkey, fname), Unit(rid, nkey or None, fname, {}))
        u.values[coder] = value
        if memo:
            u.memos[coder] = memo
    for rid, nkey, fname, value, reason in store.consensus_units():
        decided = out.get((rid, nkey, fname))
        if decided is not None:
            decided.consensus, decided.consensus_reason = value, reason
    return list(out.values())


def disagreements(store: Store, *, open_only: bool = True) -> list[Unit]:
    """Units coded by two or more coders who gave different values (without consensus, by default).

    Found set-based in SQLite (GROUP BY ... HAVING), then only those units are read in full.
    With branching logic (show_if), a coder's code on a unit where the field does not apply for
    them is not a value: units where the coders disagree on whether it applies are listed as
    their own kind (``kind="applicability"``, :mod:`chartcode.applicability`), open until the
    final values of the controlling fields decide it, and a unit where the field applies for
    nobody is no disagreement at all.
    """
    out: list[Unit] = []
    skip: set[tuple[str, str, str]] = set()
    if store.codebook.has_logic:
        out, skip = _applicability(store, open_only)
    for rid, nkey, fname, consensus, reason in store.disagreement_units():
        if open_only and consensus is not None:
            continue
        if (rid, nkey or "", fname) in skip:
            continue
        u = Unit(rid, nkey or None, fname, {}, consensus=consensus, consensus_reason=reason)
        for coder, value, memo in store.unit_submitted_values(rid, nkey, fname):
            u.values[coder] = value
            if memo:
                u.memos[coder] = memo
        out.append(u)
    if store.codebook.has_logic:
        out.sort(key=lambda u: (u.record_id, u.note_id or "", u.field))
    return out


def _applicability(store: Store, open_only: bool) -> tuple[list[Unit], set[tuple[str, str, str]]]:
    """The applicability disagreements as Units, and the (record, note_key, field) units that are
    not value disagreements because the field does not apply for every coder."""
    from chartcode.applicability import applicability_units, conditional_fields, unit_applicability

    cb = store.codebook
    skip: set[tuple[str, str, str]] = set()
    for fld in conditional_fields(cb):
        for (rid, nkey), applies in unit_applicability(store, fld).items():
            if not all(applies.values()):
                skip.add((rid, nkey, fld.name))
    out = [
        Unit(
            a.record_id,
            a.note_id,
            a.field,
            a.values,
            kind="applicability",
            applies=a.applies,
            controlling=a.controlling,
            settled_as=a.settled_as,
        )
        for a in applicability_units(store)
        if not (open_only and a.settled_as is not None)
    ]
    return out, skip


def auto_agreed(store: Store, decided_by: str) -> int:
    """Consensus where every coder of a unit (two or more) submitted the same value."""
    n = 0
    for u in units(store):
        if len(u.values) >= 2 and u.agreed and u.consensus is None:
            value = next(iter(u.values.values()))
            change = store.set_consensus(
                u.record_id,
                u.field,
                value,
                note_id=u.note_id,
                decided_by=decided_by,
                reason=f"all {len(u.values)} coders agreed",
            )
            n += change.changed
    return n


def final_rows(store: Store) -> list[tuple]:
    """(record_id, note_key, field, n_coders, min value, max value, consensus value) per unit.

    Set-based (one GROUP BY in SQLite; all coders agree when min = max): a 100,000-record
    audit has millions of units. Only records every assigned coder has submitted count.
    """
    return store.final_rows()


def final_values(store: Store) -> Iterator[dict[str, Any]]:
    """The value each unit contributes to analyses and exports, and where it came from."""
    cb = store.codebook
    labels = {f.name: {c.code: c.label for c in f.choices} for f in cb.fields}
    if cb.has_logic:  # n/a and calculated values: the rule of chartcode.dataset.finals
        yield from _final_values_logic(store, labels)
        return
    for rid, nkey, fname, n, lo, hi, consensus in final_rows(store):
        if consensus is not None:
            value, source = consensus, "consensus"
        elif lo == hi:
            value, source = lo, ("single" if n == 1 else "agreed")
        else:
            value, source = None, "unresolved"
        yield {
            "record_id": rid,
            "note_id": nkey or None,
            "field": fname,
            "value": value,
            "label": labels.get(fname, {}).get(value, ""),
            "source": source,
            "n_coders": n,
        }


def _final_values_logic(store: Store, labels: dict[str, dict[Any, str]]) -> Iterator[dict[str, Any]]:
    """final_values for a codebook with show_if or calc: a field that does not apply on the final
    values has value None and source "not_applicable"; a calculated field its computed value."""
    from chartcode.dataset import final_table

    df = final_table(store)
    cols = [df[c].astype(object).tolist() for c in ("record_id", "note_key", "field", "n", "value", "source")]
    for rid, nkey, fname, n, value, source in zip(*cols, strict=True):
        yield {
            "record_id": rid,
            "note_id": nkey or None,
            "field": fname,
            "value": value,
            "label": "not applicable" if source == "not_applicable" else labels.get(fname, {}).get(value, ""),
            "source": source,
            "n_coders": n,
        }
