"""Load and validate a codebook YAML file; every problem names file, line and field.

chartcode codebook check codebooks/x.yaml
codebooks/x.yaml:14: field 'termination': choice code 3 appears twice
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from chartcode.codebook import logic
from chartcode.codebook.model import (
    COLOURS,
    LEVELS,
    SCORINGS,
    Band,
    Choice,
    Codebook,
    Field,
    Scale,
    Section,
)
from chartcode.codebook.types import CHECKBOX_CODE_RE, FIELD_TYPES, OPTION_SEP, join, names
from chartcode.errors import UserError, quote
from chartcode.yamlsrc import LList, LMap, load_located

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

TOP_KEYS = {"id", "title", "version", "description", "fields", "scale", "redcap"}
FIELD_KEYS = {
    "name",
    "label",
    "level",
    "type",
    "required",
    "choices",
    "rules",
    "cues",
    "note_types",
    "min",
    "max",
    "identifier",
    "section",
    "target",
    "missing",
    "redcap",
    "show_if",
    "calc",
}
CHOICE_KEYS = {"label", "description", "colour"}
SCALE_KEYS = {"scoring", "sections", "bands", "cannot_rate", "prorate", "max_unrated", "action_below", "display"}
SECTION_KEYS = {"id", "label", "bands"}
BAND_KEYS = {"label", "min", "colour"}
DISPLAYS = ("profile", "traffic_light")


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
            p.add(data.line_of(key), f"unknown key {quote(key)} (expected one of: {', '.join(sorted(TOP_KEYS))})")
    cb_id = _req_str(p, data, "id", None)
    if cb_id and not ID_RE.match(cb_id):
        p.add(data.line_of("id"), f"id {quote(cb_id)} must be letters, digits, '-', '_' or '.'")
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
        logic_lines: dict[str, dict[str, int]] = {}
        for i, raw in enumerate(fields_raw):
            f = _field(p, raw, fields_raw.line_of(i), i)
            if f is None:
                continue
            if f.name in seen:
                p.add(f.line, f"field name appears twice (first at line {seen[f.name]})", f.name)
                continue
            seen[f.name] = f.line or 0
            fields.append(f)
            if isinstance(raw, LMap):
                logic_lines[f.name] = {k: raw.line_of(k) for k in ("show_if", "calc") if k in raw}
        fields = _logic(p, fields, logic_lines)
        _option_names(p, fields)
    scale = None
    if "scale" in data:
        scale = _scale(p, data)
        if scale is not None:
            fields = _scale_items(p, scale, fields, data.line_of("scale"))
    else:
        for f in fields:
            if f.section or f.target is not None:
                p.add(f.line, "'section' and 'target' belong to rating scales: add a 'scale' block", f.name)
    redcap = _redcap_block(p, data)
    p.raise_if_any()
    return Codebook(
        id=cb_id or "",
        title=title or "",
        version=str(version),
        description=description or "",
        fields=tuple(fields),
        scale=scale,
        source=text,
        redcap=redcap,
    )


# What a REDCap data dictionary says that chartcode does not use (chartcode.codebook.redcap writes
# and reads it): per field, REDCap API column names with their original text; per codebook, the
# rows that are no coded field.
REDCAP_COLUMNS = (
    "field_name",
    "form_name",
    "section_header",
    "field_type",
    "field_label",
    "select_choices_or_calculations",
    "field_note",
    "text_validation_type_or_show_slider_number",
    "text_validation_min",
    "text_validation_max",
    "identifier",
    "branching_logic",
    "required_field",
    "custom_alignment",
    "question_number",
    "matrix_group_name",
    "matrix_ranking",
    "field_annotation",
)
REDCAP_FIELD_KEYS = set(REDCAP_COLUMNS) | {"checkbox"}
REDCAP_TOP_KEYS = {"header", "record_id", "rows"}


def _redcap_text(p: _Problems, m: LMap, field: str | None, allowed: set[str], what: str) -> dict[str, str]:
    """A mapping of REDCap column name -> text (kept exactly: no stripping)."""
    out: dict[str, str] = {}
    _duplicates(p, m, field)
    for k, v in m.items():
        if k not in allowed:
            p.add(
                m.line_of(k), f"{what}: unknown key {quote(k)} (expected REDCap column names such as field_type)", field
            )
        elif isinstance(v, (LMap, LList)) or v is None:
            p.add(m.line_of(k), f"{what}: {k!r} must be text", field)
        else:
            out[k] = v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
    return out


def _field_redcap(p: _Problems, raw: LMap, fname: str) -> tuple[tuple[str, str], ...]:
    v = raw.get("redcap")
    if v is None:
        return ()
    if not isinstance(v, LMap):
        p.add(raw.line_of("redcap"), "'redcap' must be a mapping of REDCap column: text", fname)
        return ()
    return tuple(_redcap_text(p, v, fname, REDCAP_FIELD_KEYS, "redcap").items())


def _redcap_block(p: _Problems, data: LMap) -> dict[str, Any]:
    raw = data.get("redcap")
    if raw is None:
        return {}
    line = data.line_of("redcap")
    if not isinstance(raw, LMap):
        p.add(line, "'redcap' must be a mapping (header, record_id, rows)")
        return {}
    _duplicates(p, raw, None)
    out: dict[str, Any] = {}
    for k in raw:
        if k not in REDCAP_TOP_KEYS:
            p.add(
                raw.line_of(k),
                f"redcap: unknown key {quote(k)} (expected one of: {', '.join(sorted(REDCAP_TOP_KEYS))})",
            )
    header = raw.get("header", "labels")
    if header not in ("labels", "api"):
        p.add(raw.line_of("header"), "redcap: 'header' must be labels or api")
    elif "header" in raw:
        out["header"] = header
    rid = raw.get("record_id")
    if isinstance(rid, LMap):
        out["record_id"] = _redcap_text(p, rid, None, set(REDCAP_COLUMNS), "redcap record_id")
    elif rid is False:
        out["record_id"] = False
    elif rid is not None:
        p.add(raw.line_of("record_id"), "redcap: 'record_id' is the record-id row (a mapping) or false (none)")
    rows = raw.get("rows")
    if rows is not None:
        if not isinstance(rows, LList) or any(not isinstance(r, LMap) for r in rows):
            p.add(raw.line_of("rows"), "redcap: 'rows' must be a list of mappings (after, then REDCap columns)")
        else:
            out["rows"] = [_redcap_text(p, r, None, set(REDCAP_COLUMNS) | {"after"}, "redcap row") for r in rows]
    return out


def _bands(p: _Problems, m: LMap, key: str, where: str | None) -> tuple[Band, ...]:
    """Bands listed highest first, each with a min below the one before; the last may omit min."""
    raw = m.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, LList) or not raw:
        p.add(m.line_of(key), f"{where + ': ' if where else ''}'bands' must be a list of {{label, min}}")
        return ()
    out: list[Band] = []
    for i, b in enumerate(raw):
        line = raw.line_of(i)
        if not isinstance(b, LMap):
            p.add(line, "a band is a mapping with label and min (e.g. {min: 100, label: good})")
            continue
        _duplicates(p, b, None)
        for k in b:
            if k not in BAND_KEYS:
                p.add(b.line_of(k), f"band: unknown key {quote(k)} (expected label, min, colour)")
        label = b.get("label")
        if label is None or isinstance(label, (LMap, LList)) or not str(label).strip():
            p.add(line, "a band needs a label")
            continue
        bname = quote(str(label).strip()) if quote(str(label).strip()).startswith("'") else i + 1
        bmin = b.get("min")
        if bmin is not None and (isinstance(bmin, bool) or not isinstance(bmin, (int, float))):
            p.add(b.line_of("min"), f"band {bname}: 'min' must be a number")
            continue
        colour = str(b.get("colour") or "").strip()
        if colour and colour not in COLOURS:
            p.add(b.line_of("colour"), f"band {bname}: colour must be one of: {', '.join(COLOURS)}")
        if out and out[-1].min is None:
            p.add(line, f"band {bname} follows a band without 'min' (that one must come last)")
        elif out and bmin is not None and bmin >= (out[-1].min or 0):
            p.add(
                line,
                f"band {bname}: min {bmin} must be below the band above it ({out[-1].min}); list bands highest first",
            )
        out.append(Band(str(label).strip(), bmin, colour if colour in COLOURS else ""))
    return tuple(out)


def _scale(p: _Problems, data: LMap) -> Scale | None:
    raw = data["scale"]
    line = data.line_of("scale")
    if not isinstance(raw, LMap):
        p.add(line, "'scale' must be a mapping with scoring and sections")
        return None
    _duplicates(p, raw, None)
    for k in raw:
        if k not in SCALE_KEYS:
            p.add(raw.line_of(k), f"scale: unknown key {quote(k)} (expected one of: {', '.join(sorted(SCALE_KEYS))})")
    scoring = raw.get("scoring")
    if scoring not in SCORINGS:
        p.add(
            raw.line_of("scoring") if "scoring" in raw else line,
            f"scale: 'scoring' must be one of: {', '.join(SCORINGS)}",
        )
        scoring = "sum"
    sections: list[Section] = []
    sraw = raw.get("sections")
    if not isinstance(sraw, LList) or not sraw:
        p.add(
            raw.line_of("sections") if "sections" in raw else line,
            "scale: 'sections' must be a non-empty list of {id, label}",
        )
    else:
        for i, s in enumerate(sraw):
            sline = sraw.line_of(i)
            if not isinstance(s, LMap):
                p.add(sline, "a section is a mapping with id and label")
                continue
            _duplicates(p, s, None)
            for k in s:
                if k not in SECTION_KEYS:
                    p.add(s.line_of(k), f"section: unknown key {quote(k)} (expected id, label, bands)")
            sid = s.get("id")
            if not isinstance(sid, str) or not NAME_RE.match(sid):
                p.add(
                    s.line_of("id") if "id" in s else sline,
                    "a section id must start with a lower-case letter and use only a-z, 0-9 and _",
                )
                continue
            if any(x.id == sid for x in sections):
                p.add(sline, f"section {sid!r} appears twice")
                continue
            label = _req_str(p, s, "label", None) or sid
            sections.append(Section(sid, label, _bands(p, s, "bands", f"section {sid!r}")))
    cannot = raw.get("cannot_rate")
    if cannot is not None and (isinstance(cannot, bool) or not isinstance(cannot, int)):
        p.add(raw.line_of("cannot_rate"), "scale: 'cannot_rate' is the whole-number code raters use (e.g. 9)")
        cannot = None
    prorate = raw.get("prorate", True)
    if not isinstance(prorate, bool):
        p.add(raw.line_of("prorate"), "scale: 'prorate' must be true or false")
        prorate = True
    max_unrated = raw.get("max_unrated", 0)
    if isinstance(max_unrated, bool) or not isinstance(max_unrated, int) or max_unrated < 0:
        p.add(raw.line_of("max_unrated"), "scale: 'max_unrated' must be a whole number >= 0")
        max_unrated = 0
    below = _number(p, raw, "action_below", None)
    display = raw.get("display", "profile")
    if display not in DISPLAYS:
        p.add(raw.line_of("display"), f"scale: 'display' must be one of: {', '.join(DISPLAYS)}")
        display = "profile"
    return Scale(
        scoring=scoring,
        sections=tuple(sections),
        bands=_bands(p, raw, "bands", "scale"),
        cannot_rate=cannot,
        prorate=prorate,
        max_unrated=max_unrated,
        action_below=below,
        display=display,
    )


def _scale_items(p: _Problems, scale: Scale, fields: list[Field], line: int) -> list[Field]:
    """Check every item against its scale and give it the scale's "cannot rate" choice."""
    out: list[Field] = []
    used: set[str] = set()
    for f in fields:
        if not f.section:
            if f.target is not None:
                p.add(f.line, "'target' applies only to scale items (give a section)", f.name)
            out.append(f)
            continue
        if scale.section(f.section) is None:
            p.add(
                f.line,
                f"section {quote(f.section)} is not one of the scale's sections "
                f"({', '.join(s.id for s in scale.sections)})",
                f.name,
            )
        used.add(f.section)
        if f.level != "record":
            p.add(f.line, "a scale item is record-level (the rated unit and period is the record)", f.name)
        if scale.scoring == "completion":
            if not f.kind.is_number:
                p.add(f.line, f"completion scoring needs {join(names(lambda t: t.is_number), 'or')} items", f.name)
            if f.target is None or f.target <= 0:
                p.add(f.line, "completion scoring needs a 'target' above 0 (e.g. planned sessions)", f.name)
        else:
            if not (f.kind.has_choices and f.kind.ordered):
                p.add(f.line, f"{scale.scoring} scoring needs ordinal items (rating points 1..5)", f.name)
            if f.target is not None:
                p.add(f.line, "'target' applies only to completion scoring", f.name)
        if scale.cannot_rate is not None and f.has_choices:
            if f.choice(scale.cannot_rate) is not None:
                p.add(f.line, f"code {scale.cannot_rate} is the scale's 'cannot rate' code: do not list it", f.name)
            else:
                f = replace(f, choices=f.choices + (Choice(scale.cannot_rate, "Cannot rate", missing=True),))
        out.append(f)
    for s in scale.sections:
        if s.id not in used:
            p.add(line, f"scale section {s.id!r} has no items (give fields 'section: {s.id}')")
    if not used:
        p.add(line, "a scale needs items: fields with 'section'")
    return out


def _duplicates(p: _Problems, m: LMap, field: str | None) -> None:
    for key, line, first in m.duplicates:
        p.add(line, f"key {quote(key)} appears twice (first at line {first})", field)


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
    fname = name if isinstance(name, str) and NAME_RE.match(name) else f"#{index + 1}"
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
            p.add(
                raw.line_of(key), f"unknown key {quote(key)} (expected one of: {', '.join(sorted(FIELD_KEYS))})", fname
            )
    label = _req_str(p, raw, "label", fname)
    level = raw.get("level", "record")
    if level not in LEVELS:
        p.add(raw.line_of("level"), f"level {quote(level)} must be one of: {', '.join(LEVELS)}", fname)
    ftype = raw.get("type")
    kind = FIELD_TYPES.get(ftype) if isinstance(ftype, str) else None
    if ftype is None:
        p.add(raw.line, f"'type' is required (one of: {', '.join(FIELD_TYPES)})", fname)
    elif kind is None:
        p.add(raw.line_of("type"), f"type {quote(ftype)} must be one of: {', '.join(FIELD_TYPES)}", fname)
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
    if (vmin is not None or vmax is not None) and kind is not None and not kind.is_number:
        p.add(
            raw.line_of("min" if "min" in raw else "max"),
            f"'min'/'max' apply only to {join(names(lambda t: t.is_number))} fields",
            fname,
        )
    if vmin is not None and vmax is not None and vmin > vmax:
        p.add(raw.line_of("min"), f"min {vmin} is greater than max {vmax}", fname)
    choices = _missing(p, raw, fname, _choices(p, raw, fname, ftype))
    if kind is not None and kind.multiple:
        _option_codes(p, raw, fname, choices)
    section = _opt_str(p, raw, "section", fname) or ""
    target = _number(p, raw, "target", fname)
    redcap = _field_redcap(p, raw, fname)
    show_if = _opt_str(p, raw, "show_if", fname) or ""
    calc = _opt_str(p, raw, "calc", fname) or ""
    return Field(
        name=fname,
        label=label or "",
        level=level if level in LEVELS else "record",
        type=ftype if kind is not None and isinstance(ftype, str) else "text",  # a kind is found by a str
        required=required,
        choices=choices,
        rules=rules,
        cues=cues,
        note_types=note_types,
        min=vmin,
        max=vmax,
        identifier=identifier,
        section=section,
        target=target,
        show_if=" ".join(show_if.split()),
        calc=" ".join(calc.split()),
        redcap=redcap,
        line=raw.line,
    )


def _logic(p: _Problems, fields: list[Field], lines: dict[str, dict[str, int]]) -> list[Field]:
    """Check every show_if and calc against the codebook (chartcode.codebook.logic): it parses,
    names fields that exist at a level it can see, compares them with values they take, does no
    arithmetic on text, and no field depends on itself through a chain. A field whose expression
    is wrong keeps it out (the problems are raised anyway)."""
    by_name = {f.name: f for f in fields}
    deps: dict[str, set[str]] = {}
    for f in fields:
        where = lines.get(f.name, {})
        if f.calc:
            if not f.kind.is_number:
                p.add(
                    where.get("calc"), f"a calc field is a number: give it type numeric or count, not {f.type}", f.name
                )
            if f.required:
                p.add(where.get("calc"), "a calc field is computed, never coded: it cannot be required", f.name)
        for what, text in (("show_if", f.show_if), ("calc", f.calc)):
            if not text:
                continue
            try:
                expr = logic.parse(text)
            except logic.LogicError as exc:
                p.add(where.get(what), f"{what}: {exc}", f.name)
                continue
            for problem in logic.check(expr, f, by_name, what):
                p.add(where.get(what), problem, f.name)
            deps.setdefault(f.name, set()).update(logic.fields(expr) & by_name.keys())
    for cycle in logic.cycles(deps):
        first = cycle[0]
        key = "show_if" if by_name[first].show_if and not by_name[first].calc else "calc"
        p.add(
            lines.get(first, {}).get(key),
            f"{' -> '.join(cycle)}: fields depend on each other in a circle (a show_if or calc chain)",
            first,
        )
    return fields


STAT_NAME_MAX = 32  # Stata's limit on a variable name: each option is exported as <field>___<code>


def _option_codes(p: _Problems, raw: LMap, fname: str, choices: tuple[Choice, ...]) -> None:
    """A check-all-that-apply field's codes: each option is exported as a 0/1 column
    ``<field>___<code>`` (REDCap's naming), so a code is letters, digits and _ and the column name
    fits Stata; a ``missing:`` code would be an option nobody can mean as "no value"."""
    spec = raw.get("choices")
    seen: set[str] = set()
    for c in choices:
        line = spec.line_of(c.code) if isinstance(spec, LMap) else raw.line
        column = f"{fname}{OPTION_SEP}{c.code}"
        if str(c.code) in seen:
            p.add(line, f"checkbox option code {quote(c.code)} appears twice (as a number and as text)", fname)
        seen.add(str(c.code))
        if not CHECKBOX_CODE_RE.match(str(c.code)):
            p.add(
                line,
                f"checkbox option code {quote(c.code)} must use only letters, digits and _ (REDCap names"
                f" each option's column <field>{OPTION_SEP}<code>)",
                fname,
            )
        elif len(column) > STAT_NAME_MAX:
            p.add(
                line,
                f"option column {column!r} has {len(column)} characters; Stata takes at most {STAT_NAME_MAX}"
                " (shorten the field name or the code)",
                fname,
            )
    if "missing" in raw:
        p.add(raw.line_of("missing"), "'missing' does not apply to checkbox fields (an option is ticked or not)", fname)


def _option_names(p: _Problems, fields: list[Field]) -> None:
    """No field may be named like a checkbox option's export column (``<field>___<code>``)."""
    columns = {f"{f.name}{OPTION_SEP}{c.code}": f.name for f in fields if f.kind.multiple for c in f.choices}
    for f in fields:
        if f.name in columns:
            p.add(f.line, f"the name is the export column of an option of checkbox field '{columns[f.name]}'", f.name)


def _missing(p: _Problems, raw: LMap, fname: str, choices: tuple[Choice, ...]) -> tuple[Choice, ...]:
    """``missing: [9]``: codes of the field's choices that mean "no value" (Not documented, Not
    disclosed): marked missing like a scale's "cannot rate", so statistics leave them out and SPSS
    and Stata exports declare them missing values."""
    spec = raw.get("missing")
    if spec is None:
        return choices
    line = raw.line_of("missing")
    if not isinstance(spec, LList) or not spec:
        p.add(line, "'missing' takes a list of the field's choice codes, e.g. missing: [9]", fname)
        return choices
    codes = {c.code for c in choices}
    chosen = set()
    for code in spec:
        if isinstance(code, bool) or code not in codes:
            p.add(line, f"missing code {quote(code)} is not one of the field's choices", fname)
        else:
            chosen.add(code)
    if chosen and chosen == codes:
        p.add(line, "'missing' cannot hold every choice (nothing would be left to code)", fname)
    return tuple(replace(c, missing=True) if c.code in chosen else c for c in choices)


def _choices(p: _Problems, raw: LMap, fname: str, ftype: Any) -> tuple[Choice, ...]:
    spec = raw.get("choices")
    kind = FIELD_TYPES.get(ftype) if isinstance(ftype, str) else None
    if kind is None:
        return ()
    if not kind.has_choices:
        if spec is not None:
            p.add(raw.line_of("choices"), f"a {ftype} field has no choices", fname)
        return ()
    if spec is None:
        if kind.default_choices:
            return tuple(Choice(code, label) for code, label in kind.default_choices)
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
        if (
            isinstance(code, bool)
            or not isinstance(code, (int, str))
            or (isinstance(code, str) and not CODE_RE.match(code))
        ):
            p.add(line, f"choice code {quote(code)} must be a whole number or a short word", fname)
            continue
        if kind.integer_codes and not isinstance(code, int):
            p.add(line, f"choice code {quote(code)}: {ftype} codes must be whole numbers", fname)
            continue
        description = colour = ""
        if isinstance(value, LMap):
            _duplicates(p, value, fname)
            for k in value:
                if k not in CHOICE_KEYS:
                    p.add(
                        value.line_of(k),
                        f"choice {code}: unknown key {quote(k)} (expected label, description, colour)",
                        fname,
                    )
            label = value.get("label")
            description = str(value.get("description") or "").strip()
            colour = str(value.get("colour") or "").strip()
            if colour and colour not in COLOURS:
                p.add(value.line_of("colour"), f"choice {code}: colour must be one of: {', '.join(COLOURS)}", fname)
                colour = ""
        else:
            label = value
        if label is None or isinstance(label, (LMap, LList)) or not str(label).strip():
            p.add(line, f"choice {code} needs a label", fname)
            continue
        label = str(label).strip()
        if label.lower() in labels:
            p.add(line, f"choice label {quote(label)} is used by codes {labels[label.lower()]} and {code}", fname)
        labels.setdefault(label.lower(), code)
        out.append(Choice(code, label, description, colour=colour))
    if kind.exact_codes is not None and out and sorted(c.code for c in out) != sorted(kind.exact_codes):
        p.add(
            raw.line_of("choices"),
            f"a {ftype} field has exactly the codes {join([str(c) for c in kind.exact_codes])}",
            fname,
        )
    return tuple(out)
