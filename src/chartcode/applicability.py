"""Branching logic after coding: which submitted codes apply, per coder and on the final values.

A field with ``show_if`` applies on a coder's record when its condition is true on that coder's
codes (chartcode.codebook.model.Form). "Not applicable" is not a value: agreement, final values
and exports read an inapplicable field's stored code as n/a, never as that code.

    coder_forms(store)        record -> coder -> Form over the coder's submitted codes
    unit_applicability(...)   per unit of a conditional field: does it apply, for each coder who
                              submitted the record
    applicability_units(...)  the units where those coders disagree on whether the field applies
                              ("applicability disagreements"), each pointing at the controlling
                              fields (the fields its show_if reads), settled once their final
                              values decide the condition

Only closed records count (the rows of chartcode.dataset.submitted_codes), as for agreement
and final values. Nothing here runs for a codebook without show_if or calc.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any

from chartcode.codebook import logic

if TYPE_CHECKING:
    from chartcode.codebook import Codebook, Field
    from chartcode.codebook.model import Form
    from chartcode.store.store import Store

NOT_APPLICABLE = "not_applicable"  # the source of a final value whose field does not apply
CALCULATED = "calculated"  # the source of a calculated field's final value

Key = tuple[str | None, str]  # (note_id or None, field name), as Form reads values


def conditional_fields(cb: Codebook) -> list[Field]:
    """The fields whose ``show_if`` decides whether they apply (calc fields included), controlling
    fields first (a field after every conditional field its condition reads)."""
    cond = {f.name: f for f in cb.fields if f.show_if}
    order: list[Field] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(controlling(cb, name)):
            if dep in cond:
                visit(dep)
        order.append(cond[name])

    for f in cb.fields:
        if f.name in cond:
            visit(f.name)
    return order


def controlling(cb: Codebook, name: str) -> tuple[str, ...]:
    """The fields ``name``'s show_if reads, in codebook order (Codebook.depends_on also holds a
    calc's operands, which do not decide whether it applies)."""
    cond = cb.parsed_logic.get(name, (None, None))[0]
    if cond is None:
        return ()
    used = logic.fields(cond)
    return tuple(f.name for f in cb.fields if f.name in used)


def record_notes(store: Store) -> dict[str, list[tuple[str, str | None]]]:
    """record_id -> its notes' (note_id, note_type), in the coding order."""

    def compute() -> dict[str, list[tuple[str, str | None]]]:
        out: dict[str, list[tuple[str, str | None]]] = {}
        for r in store.note_rows():
            out.setdefault(r["record_id"], []).append((r["note_id"], r["note_type"]))
        return out

    result: dict[str, list[tuple[str, str | None]]] = store.cached("record_notes", compute)
    return result


def unit_places(fld: Field, notes: list[tuple[str, str | None]]) -> list[str | None]:
    """Where ``fld`` is coded on a record: None (record level) or each note of a type it takes."""
    if fld.level != "note":
        return [None]
    return [nid for nid, ntype in notes if fld.applies_to(ntype)]


def coder_values(store: Store) -> dict[str, dict[str, dict[Key, Any]]]:
    """record_id -> coder -> {(note_id or None, field): submitted value} of the closed records."""

    def compute() -> dict[str, dict[str, dict[Key, Any]]]:
        from chartcode.dataset import submitted_codes

        frame = submitted_codes(store)
        out: dict[str, dict[str, dict[Key, Any]]] = {}
        columns = [frame[c].astype(object).tolist() for c in ("record_id", "note_key", "coder", "field")]
        for rid, nkey, coder, fname, value in zip(*columns, frame["value"].tolist(), strict=True):
            out.setdefault(rid, {}).setdefault(coder, {})[(nkey or None, fname)] = value
        return out

    result: dict[str, dict[str, dict[Key, Any]]] = store.cached("coder_values", compute)
    return result


def coder_forms(store: Store) -> dict[str, dict[str, Form]]:
    """record_id -> coder -> the coder's Form (their submitted codes through the branching logic)."""

    def compute() -> dict[str, dict[str, Form]]:
        cb = store.codebook
        notes = record_notes(store)
        return {
            rid: {coder: cb.form(notes.get(rid, []), values) for coder, values in by_coder.items()}
            for rid, by_coder in coder_values(store).items()
        }

    result: dict[str, dict[str, Form]] = store.cached("coder_forms", compute)
    return result


def unit_applicability(store: Store, fld: Field) -> dict[tuple[str, str], dict[str, bool]]:
    """(record_id, note_key) -> {coder: does ``fld`` apply for them} over every closed record's
    units of ``fld`` (note_key '' for record-level fields), for each coder who submitted the record."""
    notes = record_notes(store)
    out: dict[tuple[str, str], dict[str, bool]] = {}
    for rid, forms in coder_forms(store).items():
        for nid in unit_places(fld, notes.get(rid, [])):
            out[(rid, nid or "")] = {coder: form.applies(nid, fld) for coder, form in forms.items()}
    return out


@dataclass
class ApplicabilityUnit:
    """A unit where the coders who submitted the record disagree on whether ``field`` applies."""

    record_id: str
    note_id: str | None
    field: str
    applies: dict[str, bool]  # coder -> does the field apply on their codes
    values: dict[str, Any] = dc_field(default_factory=dict)  # coder -> stored value (None: not coded)
    controlling: tuple[str, ...] = ()  # the fields the show_if reads: their consensus settles it
    settled_as: str | None = None  # "applies" / NOT_APPLICABLE once the controlling final values decide


def applicability_units(store: Store, field: str | None = None) -> list[ApplicabilityUnit]:
    """Every applicability disagreement (of ``field``, or of all conditional fields), by record,
    note and field; ``settled_as`` says how the final values of the controlling fields decided it
    (None while one of them is still unresolved)."""
    cb = store.codebook
    if not cb.has_logic:
        return []
    from chartcode.dataset import final_sources

    values = coder_values(store)
    sources = final_sources(store)
    forms = final_forms(store)
    out: list[ApplicabilityUnit] = []
    for fld in conditional_fields(cb):
        if field is not None and fld.name != field:
            continue
        ctl = controlling(cb, fld.name)
        for (rid, nkey), applies in unit_applicability(store, fld).items():
            if len(set(applies.values())) < 2:
                continue
            nid = nkey or None
            u = ApplicabilityUnit(
                rid,
                nid,
                fld.name,
                dict(sorted(applies.items())),
                {c: values.get(rid, {}).get(c, {}).get((nid, fld.name)) for c in sorted(applies)},
                ctl,
            )
            u.settled_as = _settled(cb, sources, forms, rid, nid, fld)
            out.append(u)
    out.sort(key=lambda u: (u.record_id, u.note_id or "", u.field))
    return out


def _settled(
    cb: Codebook,
    sources: dict[tuple[str, str, str], str],
    forms: dict[str, Form],
    rid: str,
    nid: str | None,
    fld: Field,
) -> str | None:
    for name in controlling(cb, fld.name):
        at = nid if cb.field(name).level == "note" else None
        if sources.get((rid, at or "", name)) == "unresolved":
            return None
    form = forms.get(rid)
    if form is None:
        return None
    return "applies" if form.applies(nid, fld) else NOT_APPLICABLE


def final_forms(store: Store) -> dict[str, Form]:
    """record_id -> the Form of the record's final values (chartcode.dataset.finals)."""
    from chartcode.dataset import finals

    def compute() -> dict[str, Form]:
        cb = store.codebook
        notes = record_notes(store)
        fin = finals(store)
        by_record: dict[str, dict[Key, Any]] = {}
        cols = [fin[c].astype(object).tolist() for c in ("record_id", "note_key", "field", "value")]
        for rid, nkey, fname, value in zip(*cols, strict=True):
            by_record.setdefault(rid, {})[(nkey or None, fname)] = value
        return {rid: cb.form(notes.get(rid, []), vals) for rid, vals in by_record.items()}

    result: dict[str, Form] = store.cached("final_forms", compute)
    return result
