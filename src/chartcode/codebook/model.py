"""Codebook model: fields, their choices and how a raw value becomes a stored code.

A codebook is data (YAML); this module holds the validated, immutable form. Its hash is
taken over a canonical JSON form, so comments and layout do not make a new version but
any change of meaning does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import cached_property
from typing import Any

from chartcode.codebook import logic
from chartcode.codebook.types import (  # noqa: F401 (CodeError: re-exported)
    FIELD_TYPES,
    CodeError,
    FieldType,
    field_type,
)
from chartcode.codebook.types import (
    checkbox_codes as checkbox_codes,  # a checkbox value's ticked codes ("1|3"), re-exported
)

LEVELS = ("record", "note")
# the built-in types, for code that imported these names; what a type means is on its class in
# chartcode.codebook.types, and FIELD_TYPES also holds types registered later
TYPES = tuple(FIELD_TYPES)
CHOICE_TYPES = tuple(n for n, t in FIELD_TYPES.items() if t.has_choices)
NUMBER_TYPES = tuple(n for n, t in FIELD_TYPES.items() if t.is_number)


COLOURS = ("red", "amber", "green", "grey")
SCORINGS = ("sum", "mean", "completion")


@dataclass(frozen=True)
class Choice:
    """One code of a field. On a rating scale ``description`` is the anchor (what the rating
    point looks like in practice), ``missing`` marks the scale's "cannot rate" code and
    ``colour`` a traffic-light colour (red/amber/green/grey)."""

    code: int | str
    label: str
    description: str = ""
    missing: bool = False
    colour: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "label": self.label}
        if self.description:
            d["description"] = self.description
        if self.missing:
            d["missing"] = True
        if self.colour:
            d["colour"] = self.colour
        return d


@dataclass(frozen=True)
class Band:
    """A labelled score range: scores >= ``min`` (no min: everything below the bands above)."""

    label: str
    min: float | None = None
    colour: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"label": self.label}
        if self.min is not None:
            d["min"] = self.min
        if self.colour:
            d["colour"] = self.colour
        return d


def band_for(bands: tuple[Band, ...], score: float | None) -> Band | None:
    """The first band (highest first) whose min the score reaches; None without a score."""
    if score is None:
        return None
    for b in bands:
        if b.min is None or score >= b.min:
            return b
    return None


@dataclass(frozen=True)
class Section:
    id: str
    label: str
    bands: tuple[Band, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "label": self.label}
        if self.bands:
            d["bands"] = [b.to_dict() for b in self.bands]
        return d


@dataclass(frozen=True)
class Scale:
    """How a rating scale is scored (chartcode.fidelity applies it).

    scoring      sum: section and total scores are sums of item ratings; mean: item means;
                 completion: each item scores min(value / target, 1), sections and total are
                 the mean of that, as a percentage (delivery checklists).
    cannot_rate  the code raters use for "cannot rate" (a choice marked missing on every item);
                 such items are left out of scores and agreement.
    prorate      (sum) scores from partly rated items are scaled to all items: mean x n.
    max_unrated  more unrated items than this and the total (and its band) is not given.
    action_below items rated below this go on the action list (below_threshold).
    display      profile (item bar chart) or traffic_light (choice colours) in reports.
    """

    scoring: str
    sections: tuple[Section, ...]
    bands: tuple[Band, ...] = ()
    cannot_rate: int | None = None
    prorate: bool = True
    max_unrated: int = 0
    action_below: float | None = None
    display: str = "profile"

    def section(self, sid: str) -> Section | None:
        return next((s for s in self.sections if s.id == sid), None)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "scoring": self.scoring,
            "sections": [s.to_dict() for s in self.sections],
            "prorate": self.prorate,
            "max_unrated": self.max_unrated,
            "display": self.display,
        }
        if self.bands:
            d["bands"] = [b.to_dict() for b in self.bands]
        if self.cannot_rate is not None:
            d["cannot_rate"] = self.cannot_rate
        if self.action_below is not None:
            d["action_below"] = self.action_below
        return d


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    level: str
    type: str
    required: bool = False
    choices: tuple[Choice, ...] = ()
    rules: str = ""
    cues: tuple[str, ...] = ()
    note_types: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    identifier: bool = False
    section: str = ""  # a rating scale's item: the section it is scored in
    target: float | None = None  # completion scoring: the planned count (e.g. sessions)
    show_if: str = ""  # branching logic (chartcode.codebook.logic): the field applies only when true
    calc: str = ""  # a calculated field's expression: computed from the codes, never coded
    # REDCap data-dictionary columns chartcode does not use, kept verbatim for the way back
    # (chartcode.codebook.redcap): (API column name, original text) pairs
    redcap: tuple[tuple[str, str], ...] = ()
    line: int | None = dc_field(default=None, compare=False, repr=False)

    @property
    def kind(self) -> FieldType:
        """The field's type (chartcode.codebook.types): what its values are and how each consumer
        reads, enters, measures and exports them."""
        return field_type(self.type)

    @property
    def has_choices(self) -> bool:
        return self.kind.has_choices

    @property
    def is_calc(self) -> bool:
        """A calculated field: read-only, its value computed from other codes (``calc:``)."""
        return bool(self.calc)

    @property
    def codes(self) -> tuple[int | str, ...]:
        return tuple(c.code for c in self.choices)

    @property
    def rating_codes(self) -> tuple[int | str, ...]:
        """The codes that are ratings (all but a scale's "cannot rate" code)."""
        return tuple(c.code for c in self.choices if not c.missing)

    @property
    def missing_codes(self) -> tuple[int | str, ...]:
        return tuple(c.code for c in self.choices if c.missing)

    def choice(self, code: Any) -> Choice | None:
        for c in self.choices:
            if c.code == code:
                return c
        return None

    def label_for(self, value: Any) -> str:
        if value is None:
            return ""
        if self.kind.multiple:  # a set of ticked options ("1|3"): their labels
            ticked = checkbox_codes(value)
            return ", ".join(c.label for c in self.choices if str(c.code) in ticked) or "(none ticked)"
        c = self.choice(value)
        return c.label if c is not None else ""

    def applies_to(self, note_type: str | None) -> bool:
        """Whether a note-level field is coded on a note of this type."""
        if self.level != "note":
            return False
        return not self.note_types or (note_type or "") in self.note_types

    def describe_choices(self, limit: int = 8) -> str:
        shown = [f"{c.code} = {c.label}" for c in self.choices[:limit]]
        if len(self.choices) > limit:
            shown.append("...")
        return ", ".join(shown)

    def parse(self, raw: Any) -> Any:
        """Turn a raw value (from a CSV cell, a key press, a typed entry, a JSON value) into the
        stored code; the field's type says how (chartcode.codebook.types).

        Raises CodeError with a message naming what the field accepts.
        """
        return self.kind.parse(self, raw)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "level": self.level,
            "type": self.type,
            "required": self.required,
        }
        if self.choices:
            d["choices"] = [c.to_dict() for c in self.choices]
        if self.rules:
            d["rules"] = self.rules
        if self.cues:
            d["cues"] = list(self.cues)
        if self.note_types:
            d["note_types"] = list(self.note_types)
        if self.min is not None:
            d["min"] = self.min
        if self.max is not None:
            d["max"] = self.max
        if self.identifier:
            d["identifier"] = True
        if self.section:
            d["section"] = self.section
        if self.target is not None:
            d["target"] = self.target
        if self.show_if:  # absent unless used, so older codebooks keep their hashes
            d["show_if"] = self.show_if
        if self.calc:
            d["calc"] = self.calc
        if self.redcap:
            d["redcap"] = dict(self.redcap)
        return d


@dataclass(frozen=True)
class Codebook:
    id: str
    title: str
    version: str
    fields: tuple[Field, ...]
    description: str = ""
    scale: Scale | None = None
    source: str = dc_field(default="", compare=False, repr=False)  # the YAML text it was read from
    # REDCap dictionary rows that are not coded fields (record id, calc, descriptive ...), kept
    # verbatim for the way back (chartcode.codebook.redcap); part of the hash through to_dict
    redcap: dict[str, Any] = dc_field(default_factory=dict, compare=False, hash=False, repr=False)

    def targets(self, notes: Iterable[tuple[str, str | None]]) -> list[tuple[str | None, Field]]:
        """(note_id, field) of every code one record takes, in coding order: on each (note_id, note_type)
        of ``notes`` the note-level fields that apply to its type, then the record-level fields (note_id
        None). Calculated fields are computed, never coded, so they are not targets. The coding screen's
        slots and the store's completeness check both start here; whether a target applies to a coder's
        record given its branching logic is :meth:`form`'s answer."""
        out: list[tuple[str | None, Field]] = []
        for note_id, note_type in notes:
            out.extend((note_id, f) for f in self.note_fields if f.applies_to(note_type) and not f.is_calc)
        out.extend((None, f) for f in self.record_fields if not f.is_calc)
        return out

    def form(
        self,
        notes: Iterable[tuple[str, str | None]],
        values: Mapping[tuple[str | None, str], Any],
        today: Any = None,
    ) -> Form:
        """One coder's record seen through the branching logic and the calculations: which targets
        apply, which coded values no longer apply, what each calculated field is."""
        return Form(self, list(notes), values, today)

    def missing_required(
        self, notes: Iterable[tuple[str, str | None]], values: Mapping[tuple[str | None, str], Any]
    ) -> list[tuple[str | None, Field]]:
        """The completeness rule: (note_id, field) of every required code the record still lacks.

        ``notes`` are the record's (note_id, note_type); ``values`` one coder's codes keyed
        (note_id or None, field name). Required note-level fields count on every note they apply
        to, record-level ones once; a field whose ``show_if`` is false for these codes is not
        required (it does not apply). A coder's record is complete, and may be submitted, only
        when this is empty: submitting is what unblinds the record, so a part-coded record must
        not count. The coding screen's done check and Store.submit both ask this, nothing else."""
        form = self.form(notes, values)
        return [(nid, f) for nid, f in form.applicable() if f.required and values.get((nid, f.name)) is None]

    @cached_property
    def parsed_logic(self) -> dict[str, tuple[logic.Expr | None, logic.Expr | None]]:
        """Field name -> (parsed show_if, parsed calc) for the fields that have either (parsed once:
        a Codebook is immutable; the loader has checked them)."""
        out: dict[str, tuple[logic.Expr | None, logic.Expr | None]] = {}
        for f in self.fields:
            if f.show_if or f.calc:
                out[f.name] = (
                    logic.parse(f.show_if) if f.show_if else None,
                    logic.parse(f.calc) if f.calc else None,
                )
        return out

    @property
    def has_logic(self) -> bool:
        return bool(self.parsed_logic)

    def depends_on(self, name: str) -> set[str]:
        """The fields whose codes decide whether ``name`` applies or what it computes to."""
        cond, calc = self.parsed_logic.get(name, (None, None))
        out: set[str] = set()
        for e in (cond, calc):
            if e is not None:
                out |= logic.fields(e)
        return out

    @property
    def calc_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.is_calc)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def get(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def record_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.level == "record")

    @property
    def note_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.level == "note")

    @property
    def items(self) -> tuple[Field, ...]:
        """A rating scale's scored items (fields with a section), in codebook order."""
        return tuple(f for f in self.fields if f.section)

    @property
    def cues(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for f in self.fields:
            for c in f.cues:
                seen.setdefault(c, None)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
        }
        if self.scale is not None:  # absent for plain codebooks, so their hashes are unchanged
            d["scale"] = self.scale.to_dict()
        if self.redcap:  # likewise absent unless converted from a REDCap dictionary
            d["redcap"] = self.redcap
        return d

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @cached_property
    def hash(self) -> str:
        """sha256 of the canonical JSON (computed once: a Codebook is immutable)."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def short_hash(self) -> str:
        return self.hash[:12]


class Form:
    """One coder's codes on one record, read through the codebook's branching logic.

    A field applies on a note (or the record) when it is coded there at all (note types) and its
    ``show_if`` is true; a field that does not apply reads as blank to the conditions and
    calculations that refer to it, so a chain of conditions switches off together. Answers are
    memoised: build a new Form after a code changes (it is cheap).
    """

    def __init__(
        self,
        codebook: Codebook,
        notes: list[tuple[str, str | None]],
        values: Mapping[tuple[str | None, str], Any],
        today: Any = None,
    ):
        self.codebook = codebook
        self.notes = notes
        self.note_types = dict(notes)
        self.values = values
        self.today = today
        self._applies: dict[tuple[str | None, str], bool] = {}
        self._calc: dict[tuple[str | None, str], Any] = {}
        self._busy: set[tuple[str | None, str]] = set()

    def applies(self, nid: str | None, f: Field | str) -> bool:
        fld = self.codebook.field(f) if isinstance(f, str) else f
        key = (nid, fld.name)
        hit = self._applies.get(key)
        if hit is not None:
            return hit
        if fld.level == "note" and (nid is None or not fld.applies_to(self.note_types.get(nid))):
            result = False
        else:
            cond = self.codebook.parsed_logic.get(fld.name, (None, None))[0]
            result = cond is None or self._guarded(key, lambda: logic.truthy(self._eval(cond, nid)), False)
        self._applies[key] = result
        return result

    def calculated(self, nid: str | None, f: Field | str) -> Any:
        """A calculated field's value (None: blank - an operand blank, a division by zero, or the
        field does not apply); whole numbers come back as int."""
        fld = self.codebook.field(f) if isinstance(f, str) else f
        key = (nid, fld.name)
        if key in self._calc:
            return self._calc[key]
        expr = self.codebook.parsed_logic.get(fld.name, (None, None))[1]
        value: Any = None
        if expr is not None and self.applies(nid, fld):
            value = self._guarded(key, lambda: self._eval(expr, nid), None)
            if isinstance(value, bool):
                value = int(value)
            if isinstance(value, float):
                value = int(value) if value.is_integer() and abs(value) < 2**53 else value
            elif not isinstance(value, int):
                value = None
        self._calc[key] = value
        return value

    def value(self, nid: str | None, name: str) -> Any:
        """What a condition sees for field ``name`` on note ``nid`` (record-level fields: nid is
        ignored): None when it is not coded, does not apply, or is a blank calculation."""
        fld = self.codebook.field(name)
        at = nid if fld.level == "note" else None
        if fld.is_calc:
            return self.calculated(at, fld)
        if not self.applies(at, fld):
            return None
        return self.values.get((at, name))

    def applicable(self) -> list[tuple[str | None, Field]]:
        """The record's targets (:meth:`Codebook.targets`) that apply, in coding order."""
        return [(nid, f) for nid, f in self.codebook.targets(self.notes) if self.applies(nid, f)]

    def inapplicable_coded(self) -> list[tuple[str | None, Field]]:
        """Targets that hold a code but no longer apply (a controlling code changed)."""
        return [
            (nid, f)
            for nid, f in self.codebook.targets(self.notes)
            if self.values.get((nid, f.name)) is not None and not self.applies(nid, f)
        ]

    def calculations(self) -> dict[tuple[str | None, str], Any]:
        """Every calculated field's value on this record: note-level ones per note they apply to."""
        out: dict[tuple[str | None, str], Any] = {}
        for f in self.codebook.calc_fields:
            if f.level == "note":
                for nid, ntype in self.notes:
                    if f.applies_to(ntype):
                        out[(nid, f.name)] = self.calculated(nid, f)
            else:
                out[(None, f.name)] = self.calculated(None, f)
        return out

    def _guarded(self, key: tuple[str | None, str], fn: Any, default: Any) -> Any:
        if key in self._busy:  # a cycle (the loader refuses them; codebooks built in code may not)
            return default
        self._busy.add(key)
        try:
            return fn()
        finally:
            self._busy.discard(key)

    def _eval(self, expr: logic.Expr, nid: str | None) -> Any:
        def lookup(r: logic.Ref) -> Any:
            if self.codebook.get(r.name) is None:
                return None
            v = self.value(nid, r.name)
            if r.option is not None:
                return "1" if r.option in checkbox_codes(v) else "0"
            return v

        return logic.evaluate(expr, lookup, self.today)


def codebook_from_canonical(canonical: str, source: str = "") -> Codebook | None:
    """The Codebook whose canonical JSON (Codebook.canonical_json, as the store keeps beside the
    YAML) this is, without parsing YAML; ``source`` is the YAML text it came from. The JSON holds
    everything a Codebook compares on but ``source`` and the loader's line numbers. None, so that
    the caller parses the YAML instead, for a codebook with REDCap columns (their order, which
    the way back to REDCap keeps, is sorted in canonical JSON) and for JSON this does not rebuild
    exactly."""
    d = json.loads(canonical)
    if "redcap" in d or any("redcap" in f for f in d["fields"]):
        return None

    def band(b: dict[str, Any]) -> Band:
        return Band(label=b["label"], min=b.get("min"), colour=b.get("colour", ""))

    def choice(c: dict[str, Any]) -> Choice:
        return Choice(
            code=c["code"],
            label=c["label"],
            description=c.get("description", ""),
            missing=c.get("missing", False),
            colour=c.get("colour", ""),
        )

    def field(f: dict[str, Any]) -> Field:
        return Field(
            name=f["name"],
            label=f["label"],
            level=f["level"],
            type=f["type"],
            required=f["required"],
            choices=tuple(choice(c) for c in f.get("choices", ())),
            rules=f.get("rules", ""),
            cues=tuple(f.get("cues", ())),
            note_types=tuple(f.get("note_types", ())),
            min=f.get("min"),
            max=f.get("max"),
            identifier=f.get("identifier", False),
            section=f.get("section", ""),
            target=f.get("target"),
            show_if=f.get("show_if", ""),
            calc=f.get("calc", ""),
        )

    scale = None
    if "scale" in d:
        sc = d["scale"]
        scale = Scale(
            scoring=sc["scoring"],
            sections=tuple(
                Section(id=x["id"], label=x["label"], bands=tuple(band(b) for b in x.get("bands", ())))
                for x in sc["sections"]
            ),
            bands=tuple(band(b) for b in sc.get("bands", ())),
            cannot_rate=sc.get("cannot_rate"),
            prorate=sc["prorate"],
            max_unrated=sc["max_unrated"],
            action_below=sc.get("action_below"),
            display=sc["display"],
        )
    built = Codebook(
        id=d["id"],
        title=d["title"],
        version=d["version"],
        description=d["description"],
        fields=tuple(field(f) for f in d["fields"]),
        scale=scale,
        source=source,
    )
    # whole or not at all: a key this does not know yet (a new Field attribute) means the YAML
    return built if built.canonical_json() == canonical else None


@dataclass(frozen=True)
class Change:
    """One difference between two codebooks. ``severity``: info, review or breaking;
    ``code``: the stored code it is about (a choice relabelled or removed), if any;
    ``advice``: what to do instead, for a change that is refused."""

    severity: str
    field: str | None
    text: str
    code: int | str | None = None
    advice: str = ""

    def __str__(self) -> str:
        where = f"field '{self.field}': " if self.field else ""
        return f"[{self.severity}] {where}{self.text}" + (f"; {self.advice}" if self.advice else "")


def diff(old: Codebook, new: Codebook) -> list[Change]:
    """What changed from ``old`` to ``new``.

    breaking: stored codes would mean something else or no longer fit (field or choice
    removed, type or level changed, ordinal order changed, a label moved between codes -
    see :func:`_choice_meaning`); review: wording that coders see changed (labels reworded,
    required); info: additions and decision-rule edits.
    """
    changes: list[Change] = []
    for attr in ("id", "title", "version", "description"):
        a, b = getattr(old, attr), getattr(new, attr)
        if a != b:
            sev = "review" if attr == "id" else "info"
            changes.append(Change(sev, None, f"{attr} changed from {a!r} to {b!r}"))
    old_names = [f.name for f in old.fields]
    new_names = [f.name for f in new.fields]
    for name in old_names:
        if name not in new_names:
            changes.append(Change("breaking", name, "field removed"))
    for name in new_names:
        if name not in old_names:
            changes.append(Change("info", name, "field added"))
    for name in old_names:
        if name not in new_names:
            continue
        a, b = old.field(name), new.field(name)
        if a.type != b.type:
            changes.append(Change("breaking", name, f"type changed from {a.type} to {b.type}"))
        if a.level != b.level:
            changes.append(Change("breaking", name, f"level changed from {a.level} to {b.level}"))
        if a.label != b.label:
            changes.append(Change("review", name, f"label changed from {a.label!r} to {b.label!r}"))
        if a.required != b.required:
            changes.append(Change("review", name, f"required changed from {a.required} to {b.required}"))
        for ca in a.choices:
            if b.choice(ca.code) is None:
                changes.append(Change("breaking", name, f"choice {ca.code} ({ca.label}) removed", ca.code))
        changes.extend(_choice_meaning(a, b))
        for cb in b.choices:
            if a.choice(cb.code) is None:
                changes.append(Change("info", name, f"choice {cb.code} ({cb.label}) added"))
        if a.kind.ordered and b.kind.ordered:
            common_a = [c for c in a.codes if c in b.codes]
            common_b = [c for c in b.codes if c in a.codes]
            if common_a != common_b:
                changes.append(
                    Change(
                        "breaking",
                        name,
                        "order of the ordinal choices changed (stored ratings would rank differently)",
                        advice=MEANING_ADVICE,
                    )
                )
        if (a.min, a.max) != (b.min, b.max):
            changes.append(Change("review", name, f"range changed from {a.min}..{a.max} to {b.min}..{b.max}"))
        if a.note_types != b.note_types:
            changes.append(
                Change("review", name, f"note types changed from {list(a.note_types)} to {list(b.note_types)}")
            )
        if a.rules != b.rules:
            changes.append(Change("info", name, "decision rules edited"))
        if a.show_if != b.show_if:
            changes.append(Change("review", name, "branching logic (show_if) changed: which records it applies to"))
        if a.calc != b.calc:
            changes.append(Change("review", name, "calculation (calc) changed: computed values change"))
        if a.cues != b.cues:
            changes.append(Change("info", name, "cue words changed"))
        if a.redcap != b.redcap:
            changes.append(Change("info", name, "REDCap columns kept for export --format redcap changed"))
        if a.identifier != b.identifier:
            changes.append(Change("review", name, f"identifier changed from {a.identifier} to {b.identifier}"))
        if (a.section, a.target) != (b.section, b.target):
            changes.append(Change("review", name, "scale section or target changed: scores change"))
        old_missing, new_missing = list(a.missing_codes), list(b.missing_codes)
        if sorted(map(str, old_missing)) != sorted(map(str, new_missing)):  # statistics leave other codes out
            changes.append(
                Change(
                    "review",
                    name,
                    f"the missing codes (cannot rate, missing:) changed from {old_missing} to {new_missing}",
                )
            )
    old_scale = old.scale.to_dict() if old.scale else None
    new_scale = new.scale.to_dict() if new.scale else None
    if old.redcap != new.redcap:
        changes.append(Change("info", None, "REDCap rows kept for export --format redcap changed"))
    if old_scale != new_scale:
        changes.append(Change("review", None, "scale scoring, sections or bands changed: scores and bands change"))
    return changes


_NOT_WORD = re.compile(r"[\W_]+")
MEANING_ADVICE = "make a new field or a new audit instead"


def label_key(label: str) -> str:
    """A label as compared between codes: case, punctuation and spacing do not count."""
    return " ".join(_NOT_WORD.sub(" ", label.casefold()).split())


def _choice_meaning(a: Field, b: Field) -> list[Change]:
    """Label changes of the codes ``a`` and ``b`` share, as rewording (review) or a change of
    what a stored code means (breaking).

    Meaning cannot be read from words, so the rule is about labels moving between codes
    (labels compared by :func:`label_key`). A relabelled code is breaking when
      - its new label is another code's old label: a swap (binary 0/1 flips included), a
        permutation, or a label taken over from another code;
      - its old label now belongs to a code it did not before (a new code included);
      - it moved in the list as well (its place among the codes both versions have): a
        renumbering disguised by new wording.
    Any other label change is a rewording (review: accepted with --yes).
    """
    out: list[Change] = []
    old_owner = {label_key(c.label): c.code for c in a.choices}
    new_owner = {label_key(c.label): c.code for c in b.choices}
    shared_a = [c for c in a.codes if b.choice(c) is not None]
    shared_b = [c for c in b.codes if a.choice(c) is not None]
    for ca in a.choices:
        cb = b.choice(ca.code)
        if cb is None or cb.label == ca.label:
            continue
        was = old_owner.get(label_key(cb.label), ca.code)
        now = new_owner.get(label_key(ca.label), ca.code)
        what = f"code {ca.code} label {ca.label!r} -> {cb.label!r}"
        if was != ca.code:
            why = (
                "a swap changes what stored codes mean"
                if now == was
                else f"code {was}'s until now: moving labels between codes changes what stored codes mean"
            )
            out.append(Change("breaking", a.name, f"{what} is another code's label ({why})", ca.code, MEANING_ADVICE))
        elif now != ca.code:
            out.append(
                Change(
                    "breaking",
                    a.name,
                    f"{what}, and its old label moves to code {now} (that changes what stored codes mean)",
                    ca.code,
                    MEANING_ADVICE,
                )
            )
        elif shared_a.index(ca.code) != shared_b.index(ca.code):
            out.append(
                Change(
                    "breaking",
                    a.name,
                    f"{what}, and the code moved in the list (a relabelled code keeps"
                    f" its place, or codes are renumbered unseen)",
                    ca.code,
                    "reword and reorder in separate versions",
                )
            )
        else:
            out.append(
                Change("review", a.name, f"choice {ca.code} relabelled from {ca.label!r} to {cb.label!r}", ca.code)
            )
    return out
