"""Load and validate a codebook YAML file; every problem names file, line and field.

    chartcode codebook check codebooks/x.yaml
    codebooks/x.yaml:14: field 'termination': choice code 3 appears twice
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from chartcode.codebook.model import (
    CHOICE_TYPES,
    LEVELS,
    NUMBER_TYPES,
    TYPES,
    Choice,
    Codebook,
    Field,
)
from chartcode.errors import UserError
from chartcode.yamlsrc import LList, LMap, load_located

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

TOP_KEYS = {"id", "title", "version", "description", "fields"}
FIELD_KEYS = {
    "name", "label", "level", "type", "required", "choices", "rules", "cues",
    "note_types", "min", "max", "identifier",
}
CHOICE_KEYS = {"label", "description"}


class _Problems:
    def __init__(self, path: str):
        self.path = path
        self.items: list[tuple[int, str]] = []

    def add(self, line: int | None, text: str, field: str | None = None) -> None:
        prefix = f"field '{field}': " if field else ""
        self.items.append((line or 0, f"{self.path}:{line or 1}: {prefix}{text}"))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        lines = [t for _, t in sorted(self.items, key=lambda x: x[0])]
        if len(lines) == 1:
            raise UserError(lines[0])
        raise UserError(f"{self.path}: {len(lines)} problems in the codebook", problems=lines)


def load_codebook(path: str | Path, text: str | None = None) -> Codebook:
    """Read and validate a codebook; raise UserError listing every problem found."""
    shown = str(path)
    data = load_located(shown, text)
    if text is None:
        text = Path(path).read_text(encoding="utf-8-sig")
    p = _Problems(shown)
    if not isinstance(data, LMap):
        raise UserError(f"{shown}:1: a codebook is a mapping with id, title, version and fields")
    _duplicates(p, data, None)
    for key in data:
        if key not in TOP_KEYS:
            p.add(data.line_of(key), f"unknown key {key!r} (expected one of: {', '.join(sorted(TOP_KEYS))})")
    cb_id = _req_str(p, data, "id", None)
    if cb_id and not ID_RE.match(cb_id):
        p.add(data.line_of("id"), f"id {cb_id!r} must be letters, digits, '-', '_' or '.'")
    title = _req_str(p, data, "title", None)
    version = data.get("version")
    if version is None or (isinstance(version, str) and not version.strip()):
        p.add(data.line_of("version") if "version" in data else data.line, "'version' is required (e.g. 1.0)")
    elif isinstance(version, (LMap, LList, bool)):
        p.add(data.line_of("version"), "'version' must be a plain value such as 1.0")
    description = _opt_str(p, data, "description", None)
    fields_raw = data.get("fields")
    fields: list[Field] = []
    if not isinstance(fields_raw, LList) or not fields_raw:
        p.add(data.line_of("fields") if "fields" in data else data.line, "'fields' must be a non-empty list")
    else:
        seen: dict[str, int] = {}
        for i, raw in enumerate(fields_raw):
            f = _field(p, raw, fields_raw.line_of(i), i)
            if f is None:
                continue
            if f.name in seen:
                p.add(f.line, f"field name appears twice (first at line {seen[f.name]})", f.name)
                continue
            seen[f.name] = f.line or 0
            fields.append(f)
    p.raise_if_any()
    return Codebook(
        id=cb_id or "",
        title=title or "",
        version=str(version),
        description=description or "",
        fields=tuple(fields),
        source=text,
    )


def _duplicates(p: _Problems, m: LMap, field: str | None) -> None:
    for key, line, first in m.duplicates:
        p.add(line, f"key {key!r} appears twice (first at line {first})", field)


def _req_str(p: _Problems, m: LMap, key: str, field: str | None) -> str | None:
    v = m.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        p.add(m.line_of(key) if key in m else m.line, f"{key!r} is required", field)
        return None
    if isinstance(v, (LMap, LList)):
        p.add(m.line_of(key), f"{key!r} must be text", field)
        return None
    return str(v).strip()


def _opt_str(p: _Problems, m: LMap, key: str, field: str | None) -> str | None:
    v = m.get(key)
    if v is None:
        return None
    if isinstance(v, (LMap, LList)):
        p.add(m.line_of(key), f"{key!r} must be text", field)
        return None
    return str(v).strip()


def _str_list(p: _Problems, m: LMap, key: str, field: str | None) -> tuple[str, ...]:
    v = m.get(key)
    if v is None:
        return ()
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or any(isinstance(x, (LMap, LList)) or x is None for x in v):
        p.add(m.line_of(key), f"{key!r} must be a list of words or phrases", field)
        return ()
    return tuple(str(x).strip() for x in v if str(x).strip())


def _number(p: _Problems, m: LMap, key: str, field: str | None) -> float | None:
    v = m.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        p.add(m.line_of(key), f"{key!r} must be a number", field)
        return None
    return v


def _field(p: _Problems, raw: Any, line: int, index: int) -> Field | None:
    if not isinstance(raw, LMap):
        p.add(line, f"fields item {index + 1} must be a mapping with name, label, level and type")
        return None
    name = raw.get("name")
    fname = str(name) if name is not None else f"#{index + 1}"
    if name is None:
        p.add(raw.line, "'name' is required", fname)
    elif not isinstance(name, str) or not NAME_RE.match(name):
        p.add(
            raw.line_of("name"),
            "name must start with a lower-case letter and use only a-z, 0-9 and _ (at most 32 characters,"
            " so SPSS and Stata accept it)",
            fname,
        )
    _duplicates(p, raw, fname)
    for key in raw:
        if key not in FIELD_KEYS:
            p.add(raw.line_of(key), f"unknown key {key!r} (expected one of: {', '.join(sorted(FIELD_KEYS))})", fname)
    label = _req_str(p, raw, "label", fname)
    level = raw.get("level", "record")
    if level not in LEVELS:
        p.add(raw.line_of("level"), f"level {level!r} must be one of: {', '.join(LEVELS)}", fname)
    ftype = raw.get("type")
    if ftype is None:
        p.add(raw.line, f"'type' is required (one of: {', '.join(TYPES)})", fname)
    elif ftype not in TYPES:
        p.add(raw.line_of("type"), f"type {ftype!r} must be one of: {', '.join(TYPES)}", fname)
    required = raw.get("required", False)
    if not isinstance(required, bool):
        p.add(raw.line_of("required"), "'required' must be true or false", fname)
        required = False
    identifier = raw.get("identifier", False)
    if not isinstance(identifier, bool):
        p.add(raw.line_of("identifier"), "'identifier' must be true or false", fname)
        identifier = False
    rules = _opt_str(p, raw, "rules", fname) or ""
    cues = _str_list(p, raw, "cues", fname)
    note_types = _str_list(p, raw, "note_types", fname)
    if note_types and level == "record":
        p.add(raw.line_of("note_types"), "'note_types' applies only to note-level fields", fname)
    vmin = _number(p, raw, "min", fname)
    vmax = _number(p, raw, "max", fname)
    if (vmin is not None or vmax is not None) and ftype in TYPES and ftype not in NUMBER_TYPES:
        p.add(raw.line_of("min" if "min" in raw else "max"), "'min'/'max' apply only to count and numeric fields", fname)
    if vmin is not None and vmax is not None and vmin > vmax:
        p.add(raw.line_of("min"), f"min {vmin} is greater than max {vmax}", fname)
    choices = _choices(p, raw, fname, ftype)
    return Field(
        name=fname,
        label=label or "",
        level=level if level in LEVELS else "record",
        type=ftype if ftype in TYPES else "text",
        required=required,
        choices=choices,
        rules=rules,
        cues=cues,
        note_types=note_types,
        min=vmin,
        max=vmax,
        identifier=identifier,
        line=raw.line,
    )


def _choices(p: _Problems, raw: LMap, fname: str, ftype: Any) -> tuple[Choice, ...]:
    spec = raw.get("choices")
    if ftype not in TYPES:
        return ()
    if ftype not in CHOICE_TYPES:
        if spec is not None:
            p.add(raw.line_of("choices"), f"a {ftype} field has no choices", fname)
        return ()
    if spec is None:
        if ftype == "binary":
            return (Choice(0, "No"), Choice(1, "Yes"))
        p.add(raw.line, f"a {ftype} field needs choices (code: label)", fname)
        return ()
    if not isinstance(spec, LMap) or not spec:
        p.add(raw.line_of("choices"), "choices must be a mapping of code: label", fname)
        return ()
    for code, line, first in spec.duplicates:
        p.add(line, f"choice code {code} appears twice (first at line {first})", fname)
    out: list[Choice] = []
    labels: dict[str, Any] = {}
    for code, value in spec.items():
        line = spec.line_of(code)
        if isinstance(code, bool) or not isinstance(code, (int, str)) or (
            isinstance(code, str) and not CODE_RE.match(code)
        ):
            p.add(line, f"choice code {code!r} must be a whole number or a short word", fname)
            continue
        if ftype in ("ordinal", "binary") and not isinstance(code, int):
            p.add(line, f"choice code {code!r}: {ftype} codes must be whole numbers", fname)
            continue
        description = ""
        if isinstance(value, LMap):
            _duplicates(p, value, fname)
            for k in value:
                if k not in CHOICE_KEYS:
                    p.add(value.line_of(k), f"choice {code}: unknown key {k!r} (expected label, description)", fname)
            label = value.get("label")
            description = str(value.get("description") or "").strip()
        else:
            label = value
        if label is None or isinstance(label, (LMap, LList)) or not str(label).strip():
            p.add(line, f"choice {code} needs a label", fname)
            continue
        label = str(label).strip()
        if label.lower() in labels:
            p.add(line, f"choice label {label!r} is used by codes {labels[label.lower()]} and {code}", fname)
        labels.setdefault(label.lower(), code)
        out.append(Choice(code, label, description))
    if ftype == "binary" and out and sorted(c.code for c in out) != [0, 1]:
        p.add(raw.line_of("choices"), "a binary field has exactly the codes 0 and 1", fname)
    return tuple(out)
