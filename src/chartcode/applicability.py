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

A condition reads a few fields, and on a large audit most records give them the same few
values, so the Forms here (:class:`SharedForm`) answer ``applies`` and ``calculated`` once per
distinct tuple of what the answer reads (:class:`Answers`) instead of once per record and coder.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any, NamedTuple

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


def _cell(v: Any) -> Any:
    """A value as part of a memo key: values of different types stay apart (1, 1.0, True and "1"
    can read differently), and so do 0.0 and -0.0 (repr tells every float apart)."""
    if v is None or type(v) is str:
        return v
    return (type(v), repr(v))


class Answers:
    """Form answers of one codebook, memoised by what they read.

    ``Form.applies(nid, f)`` reads only: whether ``nid`` is None, the type of note ``nid``, and the
    values of the fields ``f``'s show_if reads (at ``nid`` for note-level ones, on the record for
    record-level ones), and through them the fields those read (a field that does not apply reads
    as blank; a calculated one reads its operands): the closure of Codebook.depends_on. The same
    holds for ``Form.calculated``. So an answer is computed once, by a real Form, per distinct
    (field, nid is None, note type, values of the closure) and looked up after that. A codebook
    with a cycle (which the loader refuses, but code can build) is never memoised: there the
    answer depends on the order of the questions.
    """

    def __init__(self, cb: Codebook, today: Any = None) -> None:
        self.codebook = cb
        self.today = today
        self._reads: dict[str, tuple[tuple[str, bool], ...] | None] = {}
        self._applies: dict[tuple[Any, ...], bool] = {}
        self._calc: dict[tuple[Any, ...], Any] = {}
        self.misses = 0  # answers computed by a Form (the rest were looked up)

    def reads(self, name: str) -> tuple[tuple[str, bool], ...] | None:
        """(field, is note-level) of every field ``name``'s answers read, in codebook order; None when
        ``name`` reads itself through a cycle."""
        if name in self._reads:
            return self._reads[name]
        cb = self.codebook
        seen: set[str] = set()
        todo = list(cb.depends_on(name))
        while todo:
            dep = todo.pop()
            if dep in seen:
                continue
            seen.add(dep)
            todo.extend(cb.depends_on(dep))
        if name in seen:
            got = None
        else:
            got = tuple((f.name, f.level == "note") for f in cb.fields if f.name in seen)
        self._reads[name] = got
        return got

    def _key(self, form: SharedForm, nid: str | None, fld: Field) -> tuple[Any, ...] | None:
        reads = self.reads(fld.name)
        if reads is None:
            return None
        values = form.values
        cells = tuple(_cell(values.get((nid if note else None, name))) for name, note in reads)
        return (fld.name, nid is None, form.note_types.get(nid) if nid is not None else None, cells)

    def applies(self, form: SharedForm, nid: str | None, fld: Field) -> bool:
        key = self._key(form, nid, fld)
        if key is None:
            return form.form().applies(nid, fld)
        hit = self._applies.get(key)
        if hit is None:
            self.misses += 1
            hit = self._applies[key] = form.form().applies(nid, fld)
        return hit

    def applies_many(self, pairs: list[tuple[SharedForm, str | None]], fld: Field) -> list[bool]:
        """``[form.applies(nid, fld) for form, nid in pairs]``: the same answers from the same memo,
        with the keys built in one loop (a final-values pass asks this for every unit of a field)."""
        cond = self.codebook.parsed_logic.get(fld.name, (None, None))[0]
        reads = self.reads(fld.name) if cond is not None else None
        if reads is None:  # no show_if, or a cycle: SharedForm.applies as it is
            return [form.applies(nid, fld) for form, nid in pairs]
        name, note, memo, out = fld.name, fld.level == "note", self._applies, []
        for form, nid in pairs:
            if note and (nid is None or not fld.applies_to(form.note_types.get(nid))):
                out.append(False)
                continue
            values = form.values
            cells = []
            for read, at_note in reads:
                v = values.get((nid if at_note else None, read))
                cells.append(v if v is None or type(v) is str else (type(v), repr(v)))  # as _cell
            key = (name, nid is None, form.note_types.get(nid) if nid is not None else None, tuple(cells))
            hit = memo.get(key)
            if hit is None:
                self.misses += 1
                hit = memo[key] = form.form().applies(nid, fld)
            out.append(hit)
        return out

    def calculated(self, form: SharedForm, nid: str | None, fld: Field) -> Any:
        key = self._key(form, nid, fld)
        if key is None:
            return form.form().calculated(nid, fld)
        if key in self._calc:
            return self._calc[key]
        self.misses += 1
        value = self._calc[key] = form.form().calculated(nid, fld)
        return value


class SharedForm:
    """A Form (chartcode.codebook.model.Form) whose ``applies`` and ``calculated`` answers come from
    :class:`Answers` shared by every record: the same answers, each computed once. ``values`` is
    read when a question is asked (a later change to the mapping is seen, as by a new Form)."""

    __slots__ = ("answers", "notes", "values", "_types")

    def __init__(self, answers: Answers, notes: list[tuple[str, str | None]], values: dict[Key, Any]) -> None:
        self.answers = answers
        self.notes = notes
        self.values = values
        self._types: dict[str, str | None] | None = None

    @property
    def note_types(self) -> dict[str, str | None]:
        if self._types is None:
            self._types = dict(self.notes)
        return self._types

    def form(self) -> Form:
        """A real Form of the current values (built per question that is not memoised yet)."""
        return self.answers.codebook.form(self.notes, self.values, self.answers.today)

    def applies(self, nid: str | None, f: Field | str) -> bool:
        cb = self.answers.codebook
        fld = cb.field(f) if isinstance(f, str) else f
        if fld.level == "note" and (nid is None or not fld.applies_to(self.note_types.get(nid))):
            return False
        if fld.name not in cb.parsed_logic or cb.parsed_logic[fld.name][0] is None:
            return True  # no show_if: applies wherever it is coded (as Form.applies)
        return self.answers.applies(self, nid, fld)

    def calculated(self, nid: str | None, f: Field | str) -> Any:
        cb = self.answers.codebook
        fld = cb.field(f) if isinstance(f, str) else f
        return self.answers.calculated(self, nid, fld)


def answers(store: Store) -> Answers:
    """The store's shared :class:`Answers` (one per state of the database, as the Forms)."""
    result: Answers = store.cached("form_answers", lambda: Answers(store.codebook))
    return result


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


def logic_fields(cb: Codebook, shared: Answers) -> set[str]:
    """The fields the branching logic reads or decides: conditional and calculated fields and every
    field their answers read (all fields of a codebook with a cycle)."""
    own = [f.name for f in cb.fields if f.show_if or f.calc]
    reads = [shared.reads(name) for name in own]
    if any(r is None for r in reads):
        return {f.name for f in cb.fields}
    return set(own) | {name for r in reads if r for name, _ in r}


def coder_values(store: Store) -> dict[str, dict[str, dict[Key, Any]]]:
    """record_id -> coder -> {(note_id or None, field): submitted value} of the closed records, of
    the fields the branching logic reads or decides (:func:`logic_fields`: what the Forms and the
    applicability disagreements look at)."""

    def compute() -> dict[str, dict[str, dict[Key, Any]]]:
        from chartcode.dataset import submitted_codes

        frame = submitted_codes(store)
        frame = frame[frame["field"].astype(object).isin(logic_fields(store.codebook, answers(store))).to_numpy()]
        out: dict[str, dict[str, dict[Key, Any]]] = {}
        columns = [frame[c].astype(object).tolist() for c in ("record_id", "note_key", "coder", "field")]
        for rid, nkey, coder, fname, value in zip(*columns, frame["value"].tolist(), strict=True):
            out.setdefault(rid, {}).setdefault(coder, {})[(nkey or None, fname)] = value
        return out

    result: dict[str, dict[str, dict[Key, Any]]] = store.cached("coder_values", compute)
    return result


def coder_forms(store: Store) -> dict[str, dict[str, SharedForm]]:
    """record_id -> coder -> the coder's Form (their submitted codes through the branching logic)."""

    def compute() -> dict[str, dict[str, SharedForm]]:
        shared = answers(store)
        notes = record_notes(store)
        return {
            rid: {coder: SharedForm(shared, notes.get(rid, []), values) for coder, values in by_coder.items()}
            for rid, by_coder in coder_values(store).items()
        }

    result: dict[str, dict[str, SharedForm]] = store.cached("coder_forms", compute)
    return result


class UnitAnswers(NamedTuple):
    """Every closed record's units of a conditional field and, for each, how many coders submitted
    the record and how many of them the field applies for (:func:`unit_answers`)."""

    units: list[tuple[str, str]]  # (record_id, note_key), note_key '' for record-level fields
    coders: Any  # numpy int64 per unit: the coders who submitted the record
    applies: Any  # numpy int64 per unit: those of them the field applies for


_UnitForms = list[tuple[tuple[str, str], dict[str, "SharedForm"]]]  # each unit and its coders' Forms


def _answers_by_unit(store: Store, fld: Field) -> tuple[_UnitForms, list[bool]]:
    """(units with the forms of the coders who submitted their record, every coder's answer in that
    order): one batch of Answers.applies_many (SharedForm.applies' answers, the memo's keys built in
    one loop; asked one by one, this was a tenth of an export), once per field and database state."""

    def compute() -> tuple[_UnitForms, list[bool]]:
        notes = record_notes(store)
        units: _UnitForms = []
        pairs: list[tuple[SharedForm, str | None]] = []
        for rid, forms in coder_forms(store).items():
            for nid in unit_places(fld, notes.get(rid, [])):
                units.append(((rid, nid or ""), forms))
                pairs.extend((form, nid) for form in forms.values())
        return units, answers(store).applies_many(pairs, fld)

    result: tuple[_UnitForms, list[bool]] = store.cached(f"unit_answers:{fld.name}", compute)
    return result


def unit_answers(store: Store, fld: Field) -> UnitAnswers:
    """:func:`unit_applicability` as counts per unit, for a caller that needs no coder's name (the
    agreement matrices: kept where it applies for every coder, and the units counted where the
    coders disagree or it applies for none) and no dict per unit."""
    import numpy as np  # (here: the coding screen imports this module, and needs no numpy)

    units, said = _answers_by_unit(store, fld)
    coders = np.fromiter((len(forms) for _, forms in units), dtype=np.int64, count=len(units))
    unit_of = np.repeat(np.arange(len(units)), coders)  # each answer's unit
    applies = np.bincount(unit_of, weights=np.asarray(said, dtype=np.float64), minlength=len(units))
    return UnitAnswers([unit for unit, _ in units], coders, applies.astype(np.int64))


def unit_applicability(store: Store, fld: Field) -> dict[tuple[str, str], dict[str, bool]]:
    """(record_id, note_key) -> {coder: does ``fld`` apply for them} over every closed record's
    units of ``fld`` (note_key '' for record-level fields), for each coder who submitted the record.
    Computed once per field and state of the database (agreement, disagreements and the report all
    ask); callers read it, never change it."""

    def compute() -> dict[tuple[str, str], dict[str, bool]]:
        units, said = _answers_by_unit(store, fld)
        answer = iter(said)
        return {unit: {coder: next(answer) for coder in forms} for unit, forms in units}

    result: dict[tuple[str, str], dict[str, bool]] = store.cached(f"unit_applicability:{fld.name}", compute)
    return result


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

    found = [
        (fld, rid, nkey or None, applies)
        for fld in conditional_fields(cb)
        if field is None or fld.name == field
        for (rid, nkey), applies in unit_applicability(store, fld).items()
        if len(set(applies.values())) >= 2
    ]
    if not found:
        return []
    # the final values of these units' records only: a dict of every unit's source and a Form for
    # every record cost the report a tenth of its reads (100k records) to settle a handful of units
    rids = {rid for _, rid, _, _ in found}
    values = coder_values(store)
    sources = final_sources(store, rids)
    forms = final_forms(store, rids)
    out: list[ApplicabilityUnit] = []
    for fld, rid, nid, applies in found:
        u = ApplicabilityUnit(
            rid,
            nid,
            fld.name,
            dict(sorted(applies.items())),
            {c: values.get(rid, {}).get(c, {}).get((nid, fld.name)) for c in sorted(applies)},
            controlling(cb, fld.name),
        )
        u.settled_as = _settled(cb, sources, forms, rid, nid, fld)
        out.append(u)
    out.sort(key=lambda u: (u.record_id, u.note_id or "", u.field))
    return out


def _settled(
    cb: Codebook,
    sources: dict[tuple[str, str, str], str],
    forms: dict[str, SharedForm],
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


def final_forms(store: Store, record_ids: set[str]) -> dict[str, SharedForm]:
    """record_id -> the Form of the record's final values (chartcode.dataset.finals), for each of
    ``record_ids`` that has final values."""
    from chartcode.dataset import finals

    shared = answers(store)
    notes = record_notes(store)
    fin = finals(store)
    fin = fin[fin["record_id"].isin(record_ids).to_numpy(dtype=bool)]
    by_record: dict[str, dict[Key, Any]] = {}
    cols = [fin[c].astype(object).tolist() for c in ("record_id", "note_key", "field", "value")]
    for rid, nkey, fname, value in zip(*cols, strict=True):
        by_record.setdefault(rid, {})[(nkey or None, fname)] = value
    return {rid: SharedForm(shared, notes.get(rid, []), vals) for rid, vals in by_record.items()}
