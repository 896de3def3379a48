"""Derived variables declared in the audit file's ``derived:`` section.

A small declarative vocabulary -- nothing written in the audit file is evaluated as code.
Each item is a mapping with ``name``, exactly one *rule* key, and optionally ``label`` and
``where``. Derived variables become columns of the records frame (one row per record) and
may use codebook record fields and derived variables declared above them.

    derived:
      - name: n_conjoint_sessions            # integer: notes of the record ...
        count: {notes: session_content}      # ... with a value in a note-level field
      - name: n_followup_conjoint
        count: {notes: session_content, values: [6]}   # ... with one of these values
      - name: n_phone_notes
        count: {note_types: [phone]}         # ... of these note types (all notes if omitted)
      - name: accepted_services              # 0/1 conditions (see below)
        equals: {field: accepted_followup, value: 1}
      - name: prior_hp_any
        not_equals: {field: prior_hp_contact, value: 0}
      - name: some_services
        in: {field: followup_type, values: [1, 3]}
      - name: followed_through
        all: [{equals: {field: accepted_followup, value: 1}}, {equals: {field: followup_evident, value: 1}}]
        where: {equals: {field: accepted_followup, value: 1}}   # missing unless the condition is 1
      - name: any_dx
        any: [{equals: {field: mh_diagnosis, value: 1}}, {equals: {field: sud_diagnosis, value: 1}}]
      - name: days_in_services               # whole days
        date_difference: {from: first_note, to: last_note, note_types: [conjoint, phone]}

Conditions -- the rule keys ``equals``, ``not_equals``, ``in``, ``all``, ``any`` and the
``where`` key -- give 1, 0 or missing:

    equals: {field: F, value: V}       1 if F == V, 0 if not, missing if F is missing
    not_equals: {field: F, value: V}   1 if F != V, 0 if F == V, missing if F is missing
    in: {field: F, values: [V, ...]}   1 if F is one of the values, 0 if not, missing if F is missing
    all: [COND, ...]                   0 if any is 0, else missing if any is missing, else 1
    any: [COND, ...]                   1 if any is 1, else missing if any is missing, else 0

where each nested COND is a one-key mapping (``{equals: {...}}``, ``{all: [...]}``...).
``where: COND`` makes the variable missing on records where COND is not 1 (e.g. follow
through is undefined for those who did not accept services).

``count: {notes: FIELD, values: [..], note_types: [..]}`` counts a record's notes; ``notes``
names a note-level field and counts notes with a final value in it (one of ``values``, if
given). A count of coded notes is missing when one of the notes it counts -- the record's
notes FIELD applies to, of the given note types -- has no final value in FIELD (for an
optional FIELD: no final value in any note-level field, i.e. the note is uncoded): a record
nobody has coded, or with a disagreement not yet reconciled, is not "0 sessions". It is 0
when the record has no such note. Without ``notes`` it counts notes by their imported type
and is never missing.

``date_difference: {from: A, to: B, note_types: [..]}`` is B - A in days, where A and B are
record-level date fields or ``first_note`` / ``last_note`` (the date of the record's first or
last note, of the given note types if any). Missing when either date is missing.

The missing rule for every kind, with examples: audits/README.md.

Errors name the audit file and line: ``audits/conjoint-pain.yaml:31: derived 'x': unknown field 'y'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from chartcode.codebook import Codebook
from chartcode.codebook.types import field_type
from chartcode.dataset import distinct
from chartcode.errors import UserError
from chartcode.yamlsrc import LList, LMap, plain

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONDITIONS = ("equals", "not_equals", "in", "all", "any")
RULES = (*CONDITIONS, "count", "date_difference")
NOTE_DATES = ("first_note", "last_note")


@dataclass
class Derived:
    name: str
    rule: str
    spec: Any  # the plain data of the rule
    where: Any = None
    label: str = ""
    line: int | None = None
    # count {notes: F}: what the missing rule needs to know about F (filled from the codebook)
    applies_to: tuple[str, ...] = ()  # F's note types (empty: every note)
    required: bool = True  # F is required: a note without a final value in F is not yet known
    note_fields: tuple[str, ...] = ()  # every note-level field: a note with none of them is uncoded

    @property
    def kind(self) -> str:
        """binary (0/1 conditions), count or numeric -- how analyses and tables treat it."""
        return {"count": "count", "date_difference": "numeric"}.get(self.rule, "binary")


class _Checker:
    def __init__(self, shown: str, codebook: Codebook, known: dict[str, str]):
        self.shown = shown
        self.cb = codebook
        self.known = known  # record-level name -> type ("binary", "count", "date", ...)
        self.problems: list[str] = []

    def err(self, line: int | None, who: str, msg: str) -> None:
        self.problems.append(f"{self.shown}:{line}: {who}: {msg}" if line else f"{self.shown}: {who}: {msg}")

    def record_field(self, name: Any, line: int | None, who: str) -> bool:
        if not isinstance(name, str) or name not in self.known:
            note = self.cb.get(name) if isinstance(name, str) else None
            hint = " (a note-level field: use count)" if note is not None and note.level == "note" else ""
            self.err(line, who, f"unknown field {name!r}{hint}")
            return False
        return True

    def condition(self, key: str, body: Any, line: int | None, who: str) -> None:
        if key in ("all", "any"):
            if not isinstance(body, list) or not body:
                self.err(line, who, f"'{key}' takes a non-empty list of conditions")
                return
            for i, item in enumerate(body):
                item_line = body.line_of(i) if isinstance(body, LList) else line
                self.nested(item, item_line, who)
            return
        if not isinstance(body, dict):
            self.err(
                line, who, f"'{key}' takes a mapping: {{field: F, {'values: [..]' if key == 'in' else 'value: V'}}}"
            )
            return
        want = {"field", "values"} if key == "in" else {"field", "value"}
        for k in body:
            if k not in want:
                self.err(_line(body, k, line), who, f"'{key}': unknown key {k!r} (expected: {', '.join(sorted(want))})")
        for k in want:
            if k not in body:
                self.err(line, who, f"'{key}' needs '{k}'")
        if "field" in body:
            self.record_field(body["field"], _line(body, "field", line), who)
        if key == "in" and "values" in body and (not isinstance(body["values"], list) or not body["values"]):
            self.err(_line(body, "values", line), who, "'in': 'values' must be a non-empty list")

    def nested(self, item: Any, line: int | None, who: str) -> None:
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in CONDITIONS:
            self.err(line, who, f"a condition is a one-key mapping, one of: {', '.join(CONDITIONS)}")
            return
        key = next(iter(item))
        self.condition(key, item[key], _line(item, key, line), who)

    def count(self, body: Any, line: int | None, who: str) -> None:
        if not isinstance(body, dict):
            self.err(line, who, "'count' takes a mapping: {notes: FIELD, values: [..], note_types: [..]}")
            return
        for k in body:
            if k not in ("notes", "values", "note_types"):
                self.err(_line(body, k, line), who, f"'count': unknown key {k!r} (expected: notes, values, note_types)")
        if "notes" in body:
            f = self.cb.get(body["notes"]) if isinstance(body["notes"], str) else None
            if f is None or f.level != "note":
                self.err(_line(body, "notes", line), who, f"unknown note-level field {body['notes']!r}")
        elif "values" in body:
            self.err(line, who, "'count': 'values' needs 'notes: FIELD'")
        for k in ("values", "note_types"):
            if k in body and (not isinstance(body[k], list) or not body[k]):
                self.err(_line(body, k, line), who, f"'count': {k!r} must be a non-empty list")

    def dates(self, body: Any, line: int | None, who: str) -> None:
        if not isinstance(body, dict):
            self.err(line, who, "'date_difference' takes a mapping: {from: A, to: B, note_types: [..]}")
            return
        for k in body:
            if k not in ("from", "to", "note_types"):
                self.err(
                    _line(body, k, line), who, f"'date_difference': unknown key {k!r} (expected: from, to, note_types)"
                )
        for k in ("from", "to"):
            if k not in body:
                self.err(line, who, f"'date_difference' needs '{k}'")
                continue
            v = body[k]
            if v in NOTE_DATES:
                continue
            if not isinstance(v, str) or v not in self.known or field_type(self.known[v]).family != "date":
                self.err(
                    _line(body, k, line), who, f"{k!r}: {v!r} is not a record-level date field, first_note or last_note"
                )
        if "note_types" in body and (not isinstance(body["note_types"], list) or not body["note_types"]):
            self.err(_line(body, "note_types", line), who, "'note_types' must be a non-empty list")


def _line(m: Any, key: Any, default: int | None) -> int | None:
    return m.line_of(key) if isinstance(m, LMap) else default


def parse_derived(section: Any, codebook: Codebook, shown: str) -> list[Derived]:
    """Validate the ``derived:`` section (LList from chartcode.yamlsrc); raise UserError listing problems."""
    if section is None:
        return []
    known = {f.name: f.type for f in codebook.record_fields}
    chk = _Checker(shown, codebook, known)
    out: list[Derived] = []
    if not isinstance(section, list):
        raise UserError(f"{shown}:{getattr(section, 'line', '')}: 'derived' must be a list of variables")
    for i, item in enumerate(section):
        line = section.line_of(i) if isinstance(section, LList) else None
        if not isinstance(item, dict):
            chk.err(line, f"derived item {i + 1}", "must be a mapping with name and one rule")
            continue
        name = item.get("name")
        who = f"derived {name!r}" if isinstance(name, str) else f"derived item {i + 1}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            chk.err(_line(item, "name", line), who, "needs a 'name' made of letters, digits and _")
            continue
        if name in known or codebook.get(name) is not None or name == "record_id":
            chk.err(_line(item, "name", line), who, "the name is already a codebook field or derived variable")
            continue
        unknown = [k for k in item if k not in (*RULES, "name", "label", "where")]
        for k in unknown:
            chk.err(_line(item, k, line), who, f"unknown key {k!r} (rules: {', '.join(RULES)}; also label, where)")
        rules = [k for k in item if k in RULES]
        if unknown and not rules:
            continue
        if len(rules) != 1:
            chk.err(line, who, f"give exactly one rule, one of: {', '.join(RULES)}")
            continue
        rule = rules[0]
        before = len(chk.problems)
        rline = _line(item, rule, line)
        if rule == "count":
            chk.count(item[rule], rline, who)
        elif rule == "date_difference":
            chk.dates(item[rule], rline, who)
        else:
            chk.condition(rule, item[rule], rline, who)
        if "where" in item:
            chk.nested(item["where"], _line(item, "where", line), who)
        if len(chk.problems) > before:
            continue
        d = Derived(
            name=name,
            rule=rule,
            spec=plain(item[rule]),
            where=plain(item.get("where")),
            label=str(item.get("label") or ""),
            line=line,
        )
        if rule == "count" and d.spec.get("notes"):
            f = codebook.field(d.spec["notes"])
            d.applies_to = tuple(f.note_types)
            d.required = bool(f.required)
            d.note_fields = tuple(x.name for x in codebook.fields if x.level == "note")
        known[name] = {"binary": "binary", "count": "count", "numeric": "numeric"}[d.kind]
        out.append(d)
    if chk.problems:
        if len(chk.problems) == 1:
            raise UserError(chk.problems[0])
        raise UserError(f"{shown}: {len(chk.problems)} problems in 'derived'", problems=chk.problems)
    return out


# ------------------------------------------------------------------------------ evaluation
def _same_one(x: Any, value: Any) -> bool:
    """x == value for one present x: numbers compare by value unless ``value`` is text ("3" matches 3)."""
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(value, str):
        return float(x) == float(value)
    return str(x) == str(value)


def _same(series: pd.Series, value: Any) -> np.ndarray:
    """Elementwise series == value (numbers compare by value, "3" matches 3; missing never matches).

    Evaluated once per distinct value (see :func:`distinct`), not once per row.
    """
    codes, reps = distinct(series)
    hits = np.array([_same_one(x, value) for x in reps] + [False], dtype=bool)
    return hits[codes]


def _tri(values: np.ndarray, missing: np.ndarray) -> pd.Series:
    return pd.Series(np.where(missing, np.nan, values.astype(float))).astype("Float64").astype("Int64")


def evaluate_condition(key: str, body: Any, frame: pd.DataFrame) -> pd.Series:
    """1 / 0 / <NA> per row of ``frame`` (Int64), by the rules in this module's docstring."""
    if key in ("all", "any"):
        parts = [evaluate_condition(next(iter(c)), next(iter(c.values())), frame) for c in body]
        arr = np.vstack([p.to_numpy(dtype=float, na_value=np.nan) for p in parts])
        miss = np.isnan(arr).any(axis=0)
        if key == "all":
            zero = (arr == 0).any(axis=0)
            return _tri(~zero, ~zero & miss)
        one = (arr == 1).any(axis=0)
        return _tri(one, ~one & miss)
    col = frame[body["field"]]
    miss = col.isna().to_numpy()
    if key == "in":
        hit = np.zeros(len(col), dtype=bool)
        for v in body["values"]:
            hit |= _same(col, v)
    else:
        hit = _same(col, body["value"])
        if key == "not_equals":
            hit = ~hit
    return _tri(hit, miss)


def add_derived(records: pd.DataFrame, notes: pd.DataFrame, derived: list[Derived]) -> pd.DataFrame:
    """A copy of ``records`` with one column per derived variable, in declaration order."""
    out = records.copy()
    for d in derived:
        if d.rule == "count":
            sel = pd.Series(True, index=notes.index)
            if d.spec.get("note_types"):
                sel &= notes["note_type"].isin(d.spec["note_types"])
            if d.spec.get("notes"):
                col = notes[d.spec["notes"]]
                sel &= col.notna()
                if d.spec.get("values"):
                    hit = np.zeros(len(col), dtype=bool)
                    for v in d.spec["values"]:
                        hit |= _same(col, v)
                    sel &= hit
            counts = notes.loc[sel].groupby("record_id").size()
            values = out["record_id"].map(counts).fillna(0).astype("Int64")
            if d.spec.get("notes"):
                values = values.mask(out["record_id"].isin(_unknown_counts(notes, d)).to_numpy(), pd.NA)
        elif d.rule == "date_difference":
            values = _date_difference(out, notes, d.spec)
        else:
            values = evaluate_condition(d.rule, d.spec, out)
        values = pd.Series(values.to_numpy(), index=out.index, dtype=values.dtype)
        if d.where is not None:
            cond = evaluate_condition(next(iter(d.where)), next(iter(d.where.values())), out)
            keep = (cond.fillna(0) == 1).to_numpy()
            values = values.where(keep, pd.NA)
        out[d.name] = values
    return out


def _unknown_counts(notes: pd.DataFrame, d: Derived) -> set[Any]:
    """Records whose ``count: {notes: F}`` is not known: one of the notes it counts (the record's
    notes F applies to, of the rule's note types) has no final value in F -- for an optional F, no
    final value in any note-level field (the note is uncoded; a coded note may leave F empty). A note
    where F does not apply on the final values (its show_if is false: source ``not_applicable``) is
    known, and not counted."""
    cand = pd.Series(True, index=notes.index)
    if d.applies_to:
        cand &= notes["note_type"].isin(d.applies_to)
    if d.spec.get("note_types"):
        cand &= notes["note_type"].isin(d.spec["note_types"])
    unknown = notes[d.spec["notes"]].isna()
    source = d.spec["notes"] + "__source"  # chartcode.dataset.SOURCE_SUFFIX (with branching logic only)
    if source in notes.columns:  # a note where F does not apply (show_if false) is known: not counted
        unknown &= (notes[source] != "not_applicable").to_numpy()
    if not d.required:
        present = [c for c in d.note_fields if c in notes.columns]
        unknown &= notes[present].isna().all(axis=1) if present else True
    return set(notes.loc[cand & unknown, "record_id"])


def _date_difference(records: pd.DataFrame, notes: pd.DataFrame, spec: dict) -> pd.Series:
    sel = notes
    if spec.get("note_types"):
        sel = notes[notes["note_type"].isin(spec["note_types"])]
    dates = pd.to_datetime(sel["note_date"], errors="coerce")
    by = dates.groupby(sel["record_id"])
    ends = {"first_note": by.min(), "last_note": by.max()}

    def side(ref: str) -> pd.Series:
        if ref in ends:
            return pd.to_datetime(records["record_id"].map(ends[ref]), errors="coerce")
        return pd.to_datetime(records[ref], errors="coerce")

    diff = (side(spec["to"]) - side(spec["from"])).dt.days
    return pd.Series(diff.to_numpy(dtype=float), index=records.index).astype("Float64")
