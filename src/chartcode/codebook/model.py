"""Codebook model: fields, their choices and how a raw value becomes a stored code.

A codebook is data (YAML); this module holds the validated, immutable form. Its hash is
taken over a canonical JSON form, so comments and layout do not make a new version but
any change of meaning does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field as dc_field
from functools import cached_property
from typing import Any

LEVELS = ("record", "note")
TYPES = ("nominal", "ordinal", "binary", "count", "numeric", "date", "text")
CHOICE_TYPES = ("nominal", "ordinal", "binary")
NUMBER_TYPES = ("count", "numeric")

_INT_RE = re.compile(r"^[+-]?\d+$")
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class CodeError(ValueError):
    """A value that the field does not accept; the message is safe to show (no note text)."""


@dataclass(frozen=True)
class Choice:
    code: int | str
    label: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"code": self.code, "label": self.label}
        if self.description:
            d["description"] = self.description
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
    line: int | None = dc_field(default=None, compare=False, repr=False)

    @property
    def has_choices(self) -> bool:
        return self.type in CHOICE_TYPES

    @property
    def codes(self) -> tuple[int | str, ...]:
        return tuple(c.code for c in self.choices)

    def choice(self, code: Any) -> Choice | None:
        for c in self.choices:
            if c.code == code:
                return c
        return None

    def label_for(self, value: Any) -> str:
        if value is None:
            return ""
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

    def parse(self, raw: Any) -> int | float | str:
        """Turn a raw value (from a CSV cell, a key press, a typed entry) into the stored code.

        Raises CodeError with a message naming what the field accepts.
        """
        if raw is None:
            raise CodeError("a value is required")
        if isinstance(raw, bool):
            raw = int(raw)
        text = str(raw).strip()
        if text == "":
            raise CodeError("a value is required")
        if self.has_choices:
            for c in self.choices:
                if str(c.code) == text:
                    return c.code
            # "3.0" from a spreadsheet means code 3
            if _NUM_RE.match(text):
                try:
                    f = float(text)
                except ValueError:
                    f = None
                if f is not None and f.is_integer():
                    for c in self.choices:
                        if c.code == int(f):
                            return c.code
            raise CodeError(f"{text!r} is not a code of this field (codes: {self.describe_choices()})")
        if self.type == "count":
            if not _INT_RE.match(text):
                if _NUM_RE.match(text) and float(text).is_integer():
                    text = str(int(float(text)))
                else:
                    raise CodeError(f"{text!r} is not a whole number")
            value: int | float = int(text)
            if value < 0:
                raise CodeError(f"{text!r}: a count cannot be negative")
            self._check_range(value, text)
            return value
        if self.type == "numeric":
            if not _NUM_RE.match(text):
                raise CodeError(f"{text!r} is not a number")
            value = int(text) if _INT_RE.match(text) else float(text)
            self._check_range(value, text)
            return value
        if self.type == "date":
            try:
                return dt.date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text).isoformat()
            except ValueError:
                raise CodeError(f"{text!r} is not a date (write YYYY-MM-DD)") from None
        return text  # text

    def _check_range(self, value: float, text: str) -> None:
        if self.min is not None and value < self.min:
            raise CodeError(f"{text} is below the minimum {_num(self.min)}")
        if self.max is not None and value > self.max:
            raise CodeError(f"{text} is above the maximum {_num(self.max)}")

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
        return d


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class Codebook:
    id: str
    title: str
    version: str
    fields: tuple[Field, ...]
    description: str = ""
    source: str = dc_field(default="", compare=False, repr=False)  # the YAML text it was read from

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
    def cues(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for f in self.fields:
            for c in f.cues:
                seen.setdefault(c, None)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
        }

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @cached_property
    def hash(self) -> str:
        """sha256 of the canonical JSON (computed once: a Codebook is immutable)."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @property
    def short_hash(self) -> str:
        return self.hash[:12]


@dataclass(frozen=True)
class Change:
    """One difference between two codebooks. ``severity``: info, review or breaking."""

    severity: str
    field: str | None
    text: str

    def __str__(self) -> str:
        where = f"field '{self.field}': " if self.field else ""
        return f"[{self.severity}] {where}{self.text}"


def diff(old: Codebook, new: Codebook) -> list[Change]:
    """What changed from ``old`` to ``new``.

    breaking: stored codes would mean something else or no longer fit (field or choice
    removed, type or level changed, ordinal order changed); review: wording that coders
    see changed (labels, required); info: additions and decision-rule edits.
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
            cb = b.choice(ca.code)
            if cb is None:
                changes.append(Change("breaking", name, f"choice {ca.code} ({ca.label}) removed"))
            elif cb.label != ca.label:
                changes.append(
                    Change("review", name, f"choice {ca.code} relabelled from {ca.label!r} to {cb.label!r}")
                )
        for cb in b.choices:
            if a.choice(cb.code) is None:
                changes.append(Change("info", name, f"choice {cb.code} ({cb.label}) added"))
        if a.type == "ordinal" and b.type == "ordinal":
            common_a = [c for c in a.codes if c in b.codes]
            common_b = [c for c in b.codes if c in a.codes]
            if common_a != common_b:
                changes.append(Change("breaking", name, "order of the ordinal choices changed"))
        if (a.min, a.max) != (b.min, b.max):
            changes.append(Change("review", name, f"range changed from {a.min}..{a.max} to {b.min}..{b.max}"))
        if a.note_types != b.note_types:
            changes.append(Change("review", name, f"note types changed from {list(a.note_types)} to {list(b.note_types)}"))
        if a.rules != b.rules:
            changes.append(Change("info", name, "decision rules edited"))
        if a.cues != b.cues:
            changes.append(Change("info", name, "cue words changed"))
        if a.identifier != b.identifier:
            changes.append(Change("review", name, f"identifier changed from {a.identifier} to {b.identifier}"))
    return changes
