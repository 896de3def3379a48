"""Convert between REDCap data dictionaries (CSV) and chartcode codebooks (YAML), losslessly.

    redcap_to_yaml("dict.csv")            -> (yaml_text, warnings)
    codebook_to_redcap(codebook, "x.csv")  -> writes a data dictionary REDCap can import

REDCap to chartcode: radio/dropdown -> nominal, yesno/truefalse -> binary, checkbox ->
checkbox (check all that apply: one field whose value is the set of ticked options; its data
columns are ``<var>___<code>``, REDCap's own export naming), text with integer validation ->
count (numeric when it allows negatives), other number validations -> numeric, date
validations -> date, other text and notes -> text, calc -> a numeric field with ``calc:``.
Branching Logic becomes ``show_if:`` (chartcode.codebook.logic).

Lossless: what chartcode does not use is kept in the codebook, verbatim, for the way back.
Each field's ``redcap:`` mapping holds, under REDCap's API column names (``form_name``,
``section_header``, ``field_type``, ``field_annotation`` ...), every column whose text
differs from what chartcode would write for the field (dropdown rather than radio, an email
validation, a label with HTML, an action tag, a branching logic spelt otherwise ...). The
codebook's ``redcap:`` block holds the rows that are no coded field -- the record-id field, the
descriptive, file, slider and sql fields, and the calcs chartcode cannot compute -- each with
the field it came after.
codebook_to_redcap writes a kept column back only while it still fits the field (an edited
label or changed type wins over the old text), so a dictionary round-trips unchanged and an
edited codebook exports its edits.

What the conversion must change it reports line by line (warnings naming file:line): a
field name longer than chartcode's 32 characters or with capitals is renamed (and written
back under its REDCap name), an unconverted field type is kept for REDCap but not coded, a
branching logic or calc chartcode cannot represent is kept verbatim (the field shows always;
the calc is not computed).

The first field is the record id only when it is one (a text field named ``record_id``,
``study_id``, ``id`` ... or labelled "Record ID", "Study ID" ...): an instrument export that
starts with a real item keeps it as a field.

chartcode to REDCap: what REDCap cannot say (note level, note types, ordinal, binary
with own labels, cue words) goes into the Field Annotation as ``@chartcode-...`` tags,
which redcap_to_yaml reads back. Note-level fields go on their own instrument
(``<codebook>_notes``), which the REDCap data import fills as a repeating instrument
(chartcode.export.formats).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from chartcode.codebook import logic
from chartcode.codebook.loader import CODE_RE, ID_RE, NAME_RE, REDCAP_COLUMNS, load_codebook
from chartcode.codebook.model import LEVELS, Codebook, Field
from chartcode.codebook.types import CHECKBOX_CODE_RE, FIELD_TYPES, FieldType, from_redcap, join
from chartcode.errors import UserError, quote, read_bytes
from chartcode.files import atomic_write

# A data dictionary is tens of kilobytes; refuse what cannot be one before reading it as CSV.
MAX_BYTES = 16 << 20
NAME_MAX = 100  # REDCap's limit on a variable name

COLUMNS = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
(
    VAR,
    FORM,
    SECTION,
    FTYPE,
    LABEL,
    CHOICES,
    NOTE,
    VALIDATION,
    VMIN,
    VMAX,
    IDENTIFIER,
    BRANCHING,
    REQUIRED,
    ALIGN,
    QNUM,
    MATRIX,
    RANKING,
    ANNOTATION,
) = COLUMNS
NEEDED = (VAR, FTYPE, LABEL, CHOICES)
API = dict(zip(COLUMNS, REDCAP_COLUMNS, strict=True))  # "Field Type" -> "field_type", as the REDCap API names them
FROM_API = {v: k for k, v in API.items()}

SKIP_REASONS = {
    "descriptive": "they show text, they hold no data",
    "file": "chartcode does not store uploaded files",
    "slider": "chartcode has no slider; use a text field with number validation to code a number",
    "sql": "they run database queries, they hold no coded value",
}
# Codebooks converted before chartcode had a checkbox type hold a REDCap checkbox as one binary field
# per option (``<var>___<code>``, redcap: checkbox: <var>); they still load, and export as one row.
SPLIT = "checkbox"
CALC, CALC_TYPE = "calc", "numeric"  # a REDCap calc row is a numeric field with a calc:
# A branching logic chartcode cannot represent is kept verbatim and shown to coders in the rules,
# after this (codebooks converted before show_if existed have it there for every branching logic)
BRANCHING_PREFIX = "REDCap shows this field only if: "
_INT_RE = re.compile(r"^-?(0|[1-9]\d*)$")
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")
_ANNOTATION_RE = re.compile(r'@chartcode-([a-z_-]+)=("(?:[^"\\]|\\.)*"|\S+)')
_PLAIN_VALUE_RE = re.compile(r'^[^\s"]+$')
_REDCAP_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# the record-id field of a project: REDCap puts it first; instrument exports have none
_RECORD_ID_NAME_RE = re.compile(r"^((record|study|subject|subj|participant|patient|pt|case)_?)?id$", re.I)
_RECORD_ID_LABEL_RE = re.compile(r"^\s*(record|study|subject|participant|patient|case)\s*(id|number|no\.?|#)\s*$", re.I)


# ---- reading the CSV -----------------------------------------------------------------------


def _read_rows(shown: str) -> tuple[list[tuple[int, dict[str, str]]], str, list[int]]:
    """(first CSV line of the row, row by column name) for every non-blank data row, the
    header style ("labels": REDCap's download; "api": the API's field_name, form_name ...) and
    the lines whose NA cells (R's blank) were read as blank."""
    data = read_bytes(shown)
    if len(data) > MAX_BYTES:
        raise UserError(
            f"{shown}: {len(data) >> 20} MB is too large for a REDCap data dictionary (at most"
            f" {MAX_BYTES >> 20} MB); is it the right file?"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1  # e.object: the bytes after any BOM
        raise UserError(f"{shown}:{line}: the file is not UTF-8 text (save it as CSV UTF-8)") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UserError(f"{shown}:{line}: contains a NUL byte; the file is binary or corrupted")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        header = next(reader, None)
        if header is None:
            raise UserError(f"{shown}:1: the file is empty; expected a REDCap data dictionary")
        columns = [h.strip().lower() for h in header]
        dup = next((h for h in header if h.strip() and columns.count(h.strip().lower()) > 1), None)
        if dup is not None:
            raise UserError(f"{shown}:1: column {quote(dup.strip(), 64)} appears more than once in the header")
        style = "api" if "field_name" in columns else "labels"
        names = {c: (API[c] if style == "api" else c).lower() for c in COLUMNS}
        missing = [(API[c] if style == "api" else c) for c in NEEDED if names[c] not in columns]
        if missing:
            raise UserError(
                f"{shown}:1: missing column(s) {', '.join(repr(c) for c in missing)}"
                " (is this a REDCap data dictionary?)"
            )
        index = {c: columns.index(names[c]) for c in COLUMNS if names[c] in columns}
        rows: list[tuple[int, dict[str, str]]] = []
        na_lines: list[int] = []
        start = reader.line_num + 1
        for raw in reader:
            if len(raw) > len(header) and any(cell.strip() for cell in raw[len(header) :]):
                raise UserError(
                    f"{shown}:{start}: {len(raw)} cells in a row under a header of {len(header)} columns"
                    " (a stray comma or quote?)"
                )
            _check_swallowed(shown, start, raw, len(header))
            if any(cell.strip() for cell in raw):  # a missing optional column or cell reads as blank
                cells = {c: raw[index[c]] if index.get(c, len(raw)) < len(raw) else "" for c in COLUMNS}
                if style == "api" and "NA" in cells.values():  # R's write.csv writes a blank cell as NA
                    cells = {c: "" if v == "NA" else v for c, v in cells.items()}
                    na_lines.append(start)
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            raise UserError(
                f"{shown}:{start}: a quote opened on this line is never closed (it swallows the rest of the file)"
            ) from None
        raise UserError(
            f"{shown}:{start}: a quote opened on this line closes in the middle of a cell (on line"
            f' {reader.line_num}: {e}); is a " stray?'
        ) from None
    return rows, style, na_lines


def _check_swallowed(shown: str, start: int, raw: list[str], width: int) -> None:
    """A stray quote opens a cell that runs over the following rows: a cell holding a line
    break followed by what reads as a whole dictionary row. Refuse it, naming the line."""
    for cell in raw:
        if "\n" not in cell and "\r" not in cell:
            continue
        for offset, line in enumerate(cell.splitlines()[1:], start=1):
            if line.count(",") >= width - 1 and _REDCAP_NAME_RE.match(line.split(",", 1)[0].strip() or "-"):
                raise UserError(
                    f"{shown}:{start}: a quote opened on this line swallows the row on line {start + offset}"
                    ' (a stray " in a cell?)'
                )


# ---- REDCap -> chartcode -------------------------------------------------------------------


def redcap_to_yaml(
    dict_path: str | Path, *, codebook_id: str | None = None, title: str | None = None, version: str = "1.0"
) -> tuple[str, list[str]]:
    """Convert a REDCap data dictionary CSV to codebook YAML; return (yaml_text, warnings).

    Raises UserError naming the file and CSV line for input chartcode cannot convert.
    """
    shown = str(dict_path)
    rows, style, na_lines = _read_rows(shown)
    warnings: list[str] = [
        f"{shown}:{line}: cells written NA (R's blank) read as blank; export --format redcap writes them blank"
        for line in na_lines
    ]
    fields: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    redcap_names: dict[str, int] = {}
    renamed: dict[str, str] = {}  # REDCap name (lower case) -> codebook name, for the logic's references
    block: dict[str, Any] = {}
    # in dictionary order: a codebook field (a dict) or a row that is no coded field (its cells)
    items: list[dict[str, Any]] = []
    if style == "api":
        block["header"] = "api"
    for index, (line, row) in enumerate(rows):
        where = f"{shown}:{line}: field {quote(row[VAR].strip(), 64)}"
        original = row[VAR].strip()
        if original.lower() in redcap_names:
            raise UserError(
                f"{shown}:{line}: field {quote(original.lower(), 64)}: field name appears twice"
                f" (first at line {redcap_names[original.lower()]})"
            )
        redcap_names[original.lower()] = line
        if index == 0:
            if _is_record_id(row):  # the project's record id: not a coded value, kept for the way back
                block["record_id"] = _cells(row)
                continue
            block["record_id"] = False  # an instrument export: its first field is an item
        converted = _convert_row(where, row, warnings)
        if not converted:
            items.append({"_kept": _cells(row)})
            continue
        renamed[original.lower()] = _chartcode_name(where, original, None)
        for f in converted:
            if f["name"] in seen:
                raise UserError(
                    f"{shown}:{line}: field '{f['name']}': field name appears twice (first at line {seen[f['name']]})"
                )
            seen[f["name"]] = line
            f["_where"], f["_line"] = where, line
            fields.append(f)
            items.append(f)
    if not fields:
        raise UserError(f"{shown}: no field to convert (a REDCap dictionary lists the record id, then the fields)")
    _convert_logic(shown, fields, renamed, warnings)
    fields = [f for f in fields if not f.get("_drop")]
    kept: list[dict[str, str]] = []  # rows that are no coded field, with the field they follow
    last = ""
    for item in items:
        if "_kept" in item or item.get("_drop"):
            kept.append({"after": last} | (item["_kept"] if "_kept" in item else _cells(item["_row"])))
        else:
            last = item["name"]
    if kept:
        block["rows"] = kept

    stem = Path(shown).stem
    cb_id = codebook_id or re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-_.") or "redcap"
    if not ID_RE.match(cb_id):
        raise UserError(f"codebook id {cb_id!r} must be letters, digits, '-', '_' or '.' (pass another id)")
    doc = CommentedMap()
    doc["id"] = cb_id
    doc["title"] = title or f"{stem} (from REDCap)"
    doc["version"] = str(version)
    doc["description"] = f"Converted by chartcode from the REDCap data dictionary {Path(shown).name}."
    doc["fields"] = [_yaml_field(f) for f in fields]
    text = _dump(doc, Path(shown).name)
    try:  # a safety net: every check above mirrors the loader, so this should never fire
        plain_cb = load_codebook(f"{shown} (converted)", text=text)
    except UserError as e:
        raise UserError(f"{shown}: the converted codebook is not valid: {e}") from None
    # keep what the dictionary says beyond what chartcode would write for each field
    by_name = {x["name"]: x for x in fields}
    for fld, m in zip(plain_cb.fields, doc["fields"], strict=True):
        src = by_name[fld.name]
        meta = src["_redcap"] if "_redcap" in src else _difference(src["_row"], fld, plain_cb)
        if meta:
            m["redcap"] = _yaml_text_map(meta)
    if block:
        doc["redcap"] = _yaml_block(block)
    text = _dump(doc, Path(shown).name)
    try:
        load_codebook(f"{shown} (converted)", text=text)
    except UserError as e:
        raise UserError(f"{shown}: the converted codebook is not valid: {e}") from None
    return text, warnings


def _dump(doc: CommentedMap, name: str) -> str:
    doc.yaml_set_start_comment(
        f"Converted from the REDCap data dictionary {name}.\n"
        "Check the types, the required flags and the decision rules before coding.\n"
        "'redcap:' keeps what REDCap says and chartcode does not use, for export --format redcap."
    )
    out = io.StringIO()
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(doc, out)
    return out.getvalue()


def _is_record_id(row: dict[str, str]) -> bool:
    if row[FTYPE].strip().lower() != "text":
        return False
    return bool(_RECORD_ID_NAME_RE.match(row[VAR].strip()) or _RECORD_ID_LABEL_RE.match(_clean(row[LABEL])))


def _cells(row: dict[str, str]) -> dict[str, str]:
    """A row's non-blank cells under their API names, verbatim."""
    return {API[c]: row[c] for c in COLUMNS if row[c] != ""}


def _chartcode_name(where: str, original: str, warnings: list[str] | None) -> str:
    """The codebook name of a REDCap variable: lower case, at most 32 characters (SPSS and
    Stata); a longer name keeps its first 27 characters and 4 of its sha1."""
    if len(original) > NAME_MAX:
        raise UserError(f"{where}: a REDCap variable name has at most {NAME_MAX} characters, not {len(original)}")
    name = original.lower()
    if len(name) > 32:
        name = f"{name[:27]}_{hashlib.sha1(name.encode('utf-8')).hexdigest()[:4]}"
    _check_name(where, name)
    if name != original and warnings is not None:
        why = "longer than 32 characters" if len(original) > 32 else "capital letters"
        warnings.append(
            f"{where}: renamed to '{name}' ({why}: chartcode names are lower case, at most 32 characters,"
            " for SPSS and Stata); export --format redcap writes the REDCap name back"
        )
    return name


def _convert_row(where: str, row: dict[str, str], warnings: list[str]) -> list[dict[str, Any]]:
    """The codebook fields for one dictionary row (none if not coded)."""
    ftype = row[FTYPE].strip().lower()
    kind = from_redcap(ftype, row[VALIDATION], row[VMIN])
    if ftype == CALC:
        kind = FIELD_TYPES[CALC_TYPE]
    if kind is None:
        reason = SKIP_REASONS.get(ftype, "not a REDCap field type chartcode converts")
        shown = quote(ftype).strip("'") if ftype else "untyped"
        warnings.append(f"{where}: {shown} fields are not coded ({reason}); kept for export --format redcap")
        return []
    name = _chartcode_name(where, row[VAR].strip(), warnings)
    tags = _annotation(where, row[ANNOTATION], warnings)
    label = _clean(row[LABEL]) or name
    rules = _clean(row[NOTE], one_line=False)
    base: dict[str, Any] = {
        "label": label,
        "level": tags.get("level", "record"),
        "required": row[REQUIRED].strip().lower() == "y" and ftype != CALC,  # a calc is computed, never coded
        "_branching": row[BRANCHING],  # show_if, once _convert_logic has checked it against every field
        "identifier": row[IDENTIFIER].strip().lower() == "y",
        "rules": rules,
        "note_types": tags.get("note_types", []),
        "cues": tags.get("cues", []),
        "_row": row,
    }
    if base["level"] not in LEVELS:
        raise UserError(f"{where}: @chartcode-level={quote(base['level'])} must be one of: {', '.join(LEVELS)}")
    if base["note_types"] and base["level"] != "note":
        raise UserError(f"{where}: @chartcode-note-types applies only with @chartcode-level=note")

    if ftype == CALC:
        field = base | {"name": name, "type": tags.get("type", CALC_TYPE), "choices": {}, "_calc": row[CHOICES]}
        _check_type(where, field, CALC_TYPE)
        return [field]
    choices: dict[int | str, str] = {}
    if kind.has_choices:
        fixed = kind.redcap_choices(ftype)
        choices = fixed if fixed is not None else dict(_parse_choices(where, row[CHOICES]))
    ftype_cc = kind.name
    field = base | {"name": name, "type": tags.get("type", ftype_cc), "choices": choices}
    _check_type(where, field, ftype_cc)
    if kind.multiple:
        _checkbox_codes(where, field)
    if FIELD_TYPES[field["type"]].is_number:
        field["min"] = _bound(where, "min", row[VMIN], warnings)
        field["max"] = _bound(where, "max", row[VMAX], warnings)
        if field["min"] is not None and field["max"] is not None and field["min"] > field["max"]:
            raise UserError(f"{where}: Text Validation Min {field['min']} is greater than the Max {field['max']}")
    return [field]


def _convert_logic(shown: str, fields: list[dict[str, Any]], renamed: dict[str, str], warnings: list[str]) -> None:
    """Turn the fields' REDCap Branching Logic into ``show_if`` and their calculations into ``calc``
    where chartcode can represent them: the expression parses (chartcode.codebook.logic) and checks
    against the converted fields, as the codebook loader will check it. What cannot be represented
    (an event, a smart variable, a function chartcode lacks, a field that is not converted, a
    value the field never takes, a cycle) is reported line by line and kept verbatim for the way
    back: such a calc stays a row REDCap computes (not coded), such a field shows always and
    its rules say when REDCap shows it. A calc left out can leave out what depends on it, so
    this repeats until nothing changes."""
    doc = CommentedMap()
    doc["id"], doc["title"], doc["version"] = "redcap", "redcap", "1"
    doc["fields"] = [_yaml_field(f) for f in fields]
    try:  # the fields alone, each as chartcode reads it: what the expressions are checked against
        plain = {f.name: f for f in load_codebook(f"{shown} (converted)", text=_dump(doc, shown)).fields}
    except UserError as e:
        raise UserError(f"{shown}: the converted codebook is not valid: {e}") from None
    exprs: dict[tuple[str, str], logic.Expr] = {}
    failed: dict[tuple[str, str], str] = {}
    for f in fields:
        for what, text in (("show_if", f.get("_branching", "")), ("calc", f.get("_calc", ""))):
            if not text.strip():
                continue
            try:
                exprs[(f["name"], what)] = _rename(logic.parse(text), renamed)
            except logic.LogicError as exc:
                failed[(f["name"], what)] = str(exc)
    while True:
        dropped = {n for n, what in failed if what == "calc"}
        by_name = {n: fld for n, fld in plain.items() if n not in dropped}
        new: dict[tuple[str, str], str] = {}
        deps: dict[str, dict[str, set[str]]] = {}
        for (n, what), expr in exprs.items():
            if (n, what) in failed or n in dropped:
                continue
            problems = logic.check(expr, plain[n], by_name, what)
            if problems:
                new[(n, what)] = "; ".join(p.removeprefix(f"{what}: ") for p in problems)
            else:
                deps.setdefault(n, {})[what] = logic.fields(expr) & by_name.keys()
        if not new:
            graph = {n: set().union(*d.values()) for n, d in deps.items()}
            for cycle in logic.cycles(graph):
                n, nxt = cycle[0], cycle[1]
                what = next(w for w, used in deps[n].items() if nxt in used)
                new[(n, what)] = f"{' -> '.join(cycle)}: the fields depend on each other in a circle"
        if not new:
            break
        failed.update(new)
    for f in fields:
        n = f["name"]
        for what in ("show_if", "calc"):
            if (n, what) in failed:
                reason = failed[(n, what)]
                if what == "calc":
                    f["_drop"] = True
                    warnings.append(
                        f"{f['_where']}: calculation not converted: {reason}; kept for export --format redcap,"
                        " not computed by chartcode"
                    )
                else:
                    f["rules"] = "\n".join(x for x in (f["rules"], f"{BRANCHING_PREFIX}{f['_branching'].strip()}") if x)
                    warnings.append(
                        f"{f['_where']}: branching logic not converted: {reason}; the field shows always (the"
                        " condition is kept for export --format redcap and shown in its rules)"
                    )
            elif (n, what) in exprs:
                f[what] = logic.to_redcap(exprs[(n, what)])
    warnings.sort(key=_warning_line)


def _warning_line(w: str) -> int:
    m = re.match(r".*?:(\d+): ", w)
    return int(m.group(1)) if m else 0


def _rename(e: logic.Expr, names: dict[str, str]) -> logic.Expr:
    """``e`` with its field references renamed (a REDCap name -> the codebook's, or back)."""
    if isinstance(e, logic.Ref):
        return replace(e, name=names.get(e.name, e.name))
    if isinstance(e, (logic.Not, logic.Neg)):
        return replace(e, operand=_rename(e.operand, names))
    if isinstance(e, logic.Bool):
        return replace(e, items=tuple(_rename(x, names) for x in e.items))
    if isinstance(e, (logic.Cmp, logic.Arith)):
        return replace(e, left=_rename(e.left, names), right=_rename(e.right, names))
    if isinstance(e, logic.Call):
        return replace(e, args=tuple(_rename(x, names) for x in e.args))
    return e


def _difference(row: dict[str, str], f: Field, cb: Codebook) -> dict[str, str]:
    """The columns of ``row`` that differ from what codebook_to_redcap writes for ``f`` alone."""
    written = dict(zip(COLUMNS, _field_row(f, _default_form(cb, f), None, cb), strict=True))
    return {API[c]: row[c] for c in COLUMNS if row[c] != written[c]}


def _check_type(where: str, field: dict[str, Any], derived: str) -> None:
    """An @chartcode-type tag may refine the REDCap type, not contradict it."""
    ftype = field["type"]
    kind = FIELD_TYPES.get(ftype) if isinstance(ftype, str) else None
    if kind is None or kind.family != FIELD_TYPES[derived].family:
        raise UserError(
            f"{where}: @chartcode-type={quote(ftype)} does not fit this REDCap field (it converts to {derived})"
        )
    codes = list(field["choices"])
    if kind.integer_codes and not all(isinstance(c, int) for c in codes):
        raise UserError(f"{where}: {ftype} choice codes must be whole numbers")
    if kind.exact_codes is not None and sorted(codes) != sorted(kind.exact_codes):
        raise UserError(f"{where}: a {ftype} field has exactly the codes {join([str(c) for c in kind.exact_codes])}")


def _checkbox_codes(where: str, field: dict[str, Any]) -> None:
    """A checkbox's codes name its data columns (``<var>___<code>``): letters, digits and _ only."""
    for code in field["choices"]:
        if not CHECKBOX_CODE_RE.match(str(code)):
            raise UserError(
                f"{where}: checkbox option code {quote(code)} must use only letters, digits and _"
                " (REDCap names each option's data column <var>___<code>)"
            )


def _check_name(where: str, name: str) -> str:
    if not NAME_RE.match(name):
        raise UserError(
            f"{where}: name {quote(name)} must start with a letter and use only a-z, 0-9 and _"
            " (at most 32 characters); rename the variable in REDCap"
        )
    return name


def _parse_choices(where: str, spec: str) -> list[tuple[int | str, str]]:
    """`1, Yes | 0, No` -> [(1, "Yes"), (0, "No")]; labels may hold commas."""
    out: list[tuple[int | str, str]] = []
    labels: dict[str, int | str] = {}
    for entry in (e.strip() for e in spec.split("|")):
        if not entry:
            continue
        code_text, comma, label = entry.partition(",")
        code_text, label = code_text.strip(), _clean(label)
        if not comma:
            shown = repr(entry) if quote(entry.replace(" ", "_"), 32).startswith("'") else len(out) + 1
            raise UserError(f"{where}: choice {shown} must be written 'code, label'")
        if not CODE_RE.match(code_text):
            raise UserError(f"{where}: choice code {quote(code_text)} must be a whole number or a short word")
        if not label:
            raise UserError(f"{where}: choice {code_text} needs a label")
        code: int | str = int(code_text) if _INT_RE.match(code_text) else code_text
        if any(c == code for c, _ in out):
            raise UserError(f"{where}: choice code {code} appears twice")
        if label.lower() in labels:
            raise UserError(f"{where}: choice label {quote(label)} is used by codes {labels[label.lower()]} and {code}")
        labels[label.lower()] = code
        out.append((code, label))
    if not out:
        raise UserError(f"{where}: a field of this type needs choices written 'code, label | code, label'")
    return out


def _annotation(where: str, text: str, warnings: list[str]) -> dict[str, Any]:
    """Read the ``@chartcode-...`` tags that codebook_to_redcap writes; other tags are REDCap's."""
    tags: dict[str, Any] = {}
    for key, value in _ANNOTATION_RE.findall(text):
        if value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                raise UserError(f"{where}: @chartcode-{key} has a badly quoted value") from None
        if key in ("level", "type"):
            tags[key] = value
        elif key in ("note-types", "cues"):
            tags[key.replace("-", "_")] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            warnings.append(f"{where}: unknown annotation @chartcode-{key} ignored")
    return tags


def _bound(where: str, which: str, text: str, warnings: list[str] | None) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    if not _NUM_RE.match(text):
        if warnings is not None:
            warnings.append(
                f"{where}: Text Validation {which.capitalize()} {quote(text)} is not a number; not checked by"
                " chartcode (kept for export --format redcap)"
            )
        return None
    value = float(text)
    return int(value) if value.is_integer() else value


def _clean(text: str, *, one_line: bool = True) -> str:
    """Drop HTML tags and entities; labels become one line, rules keep their lines."""
    text = html.unescape(_TAG_RE.sub("", text))
    if one_line:
        return " ".join(text.split())
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _yaml_field(f: dict[str, Any]) -> CommentedMap:
    m = CommentedMap()
    m["name"] = f["name"]
    m["label"] = f["label"]
    m["level"] = f["level"]
    if f["note_types"]:
        m["note_types"] = _flow(f["note_types"])
    m["type"] = f["type"]
    m["required"] = f["required"]
    if f.get("identifier"):
        m["identifier"] = True
    for key in ("min", "max"):
        if f.get(key) is not None:
            m[key] = f[key]
    for key in ("show_if", "calc"):
        if f.get(key):
            m[key] = f[key]
    if f["choices"]:
        m["choices"] = CommentedMap(f["choices"])
    if f["rules"]:
        m["rules"] = LiteralScalarString(f["rules"] + "\n") if "\n" in f["rules"] else f["rules"]
    if f["cues"]:
        m["cues"] = _flow(f["cues"])
    return m


def _yaml_text(value: str) -> DoubleQuotedScalarString:
    # double quotes keep every character (line breaks, spaces at either end, HTML) exactly
    quoted: DoubleQuotedScalarString = DoubleQuotedScalarString(value)
    return quoted


def _yaml_text_map(cells: dict[str, str]) -> CommentedMap:
    m = CommentedMap()
    for k, v in cells.items():
        m[k] = _yaml_text(v)
    return m


def _yaml_block(block: dict[str, Any]) -> CommentedMap:
    m = CommentedMap()
    if "header" in block:
        m["header"] = block["header"]
    if "record_id" in block:
        rid = block["record_id"]
        m["record_id"] = _yaml_text_map(rid) if isinstance(rid, dict) else False
    if block.get("rows"):
        m["rows"] = CommentedSeq(_yaml_text_map(r) for r in block["rows"])
    return m


def _flow(items: list[str]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()  # [a, b] on one line, as hand-written codebooks do
    return seq


# ---- chartcode -> REDCap -------------------------------------------------------------------


def form_name(codebook: Codebook) -> str:
    """The instrument chartcode's own fields go on (record level; note level adds ``_notes``)."""
    return re.sub(r"[^a-z0-9_]", "_", codebook.id.lower())


def record_id_name(codebook: Codebook) -> str:
    """The dictionary's record-id field (the first column of a REDCap data import)."""
    rid = codebook.redcap.get("record_id")
    return rid.get("field_name", "record_id") if isinstance(rid, dict) else "record_id"


def note_forms(codebook: Codebook) -> dict[str, list[Field]]:
    """Instrument -> the note-level fields on it, in codebook order (each a repeating instrument)."""
    out: dict[str, list[Field]] = {}
    for f in codebook.note_fields:
        out.setdefault(_default_form(codebook, f), []).append(f)
    return out


def _default_form(codebook: Codebook, f: Field) -> str:
    kept = dict(f.redcap).get("form_name")
    if kept:
        return kept
    return form_name(codebook) + ("_notes" if f.level == "note" else "")


def codebook_to_redcap(codebook: Codebook, out_path: str | Path) -> None:
    """Write ``codebook`` as a REDCap data dictionary CSV: its record-id field first (the one it
    was converted with, else ``record_id``), then every field, with the rows chartcode keeps
    but does not code (calc, descriptive ...) where they were."""
    block = codebook.redcap
    header = [API[c] for c in COLUMNS] if block.get("header") == "api" else list(COLUMNS)
    rows: list[list[str]] = []
    rid = block.get("record_id")
    if isinstance(rid, dict):
        rows.append(_kept_row(rid))
    elif rid is None:
        rows.append(_row({VAR: "record_id", FTYPE: "text", LABEL: "Record ID"}, form_name(codebook)))
    kept: dict[str, list[dict[str, str]]] = {}
    for r in block.get("rows", []):
        kept.setdefault(r.get("after", ""), []).append(r)
    names = {f.name for f in codebook.fields}
    rows += [_kept_row(r) for r in kept.pop("", [])]
    fields = list(codebook.fields)
    i = 0
    while i < len(fields):
        f = fields[i]
        group = dict(f.redcap).get("checkbox")
        if group:
            j = i
            while j < len(fields) and dict(fields[j].redcap).get("checkbox") == group:
                j += 1
            rows.append(_checkbox_row(fields[i:j], _default_form(codebook, f)))
            done = fields[i:j]
            i = j
        else:
            rows.append(_field_row(f, _default_form(codebook, f), dict(f.redcap), codebook))
            done = [f]
            i += 1
        for d in done:
            rows += [_kept_row(r) for r in kept.pop(d.name, [])]
    for anchor in list(kept):  # a kept row whose field was removed from the codebook: at the end
        if anchor not in names:
            rows += [_kept_row(r) for r in kept.pop(anchor)]
    try:
        with atomic_write(out_path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
    except OSError as e:
        raise UserError(f"{out_path}: cannot write the file ({e.strerror or e})") from None


def _row(cells: dict[str, str], form: str) -> list[str]:
    return [form if c == FORM and not cells.get(c) else cells.get(c, "") for c in COLUMNS]


def _kept_row(cells: dict[str, str]) -> list[str]:
    return [cells.get(API[c], "") for c in COLUMNS]


def _field_row(f: Field, form: str, kept: dict[str, str] | None, cb: Codebook) -> list[str]:
    """The dictionary row for ``f``; ``kept``: its redcap: columns, used where they still fit."""
    k = kept or {}
    rules = f.rules
    branching = k.get("branching_logic", "")
    suffix = f"{BRANCHING_PREFIX}{branching.strip()}"
    unconverted = bool(branching.strip()) and (rules == suffix or rules.endswith("\n" + suffix))
    if unconverted:
        rules = rules[: -len(suffix)].rstrip("\n")
    cells = {VAR: f.name, LABEL: f.label, NOTE: rules}
    if "field_name" in k and _chartcode_name("", k["field_name"].strip(), None) == f.name:
        cells[VAR] = k["field_name"]
    if "field_label" in k and (_clean(k["field_label"]) or f.name) == f.label:
        cells[LABEL] = k["field_label"]
    if "field_note" in k and _clean(k["field_note"], one_line=False) == rules:
        cells[NOTE] = k["field_note"]
    tags: list[tuple[str, str]] = []
    if f.level != "record":
        tags.append(("level", f.level))
    if f.note_types:
        tags.append(("note-types", ",".join(f.note_types)))
    spec = f.kind.to_redcap(f)
    ftype, validation = spec.field_type, spec.validation
    vmin = "" if spec.min is None else _num(spec.min)
    vmax = "" if spec.max is None else _num(spec.max)
    list_choices = spec.choices
    kept_type = k.get("field_type", ftype)
    kept_validation = k.get("text_validation_type_or_show_slider_number", validation)
    kept_min = k.get("text_validation_min", vmin)
    kind = from_redcap(kept_type.strip().lower(), kept_validation, kept_min)
    if kind is not None and kind.family == f.kind.family:
        ftype, validation = kept_type, kept_validation  # dropdown, email, date_dmy ... as REDCap had it
        list_choices = kind.has_choices and kind.redcap_choices(ftype.strip().lower()) is None
        if not f.kind.is_number:  # a date's or a time's bounds are no chartcode range: kept as they were
            vmin = kept_min
            vmax = k.get("text_validation_max", vmax)
        spec_kind: FieldType | None = kind
    else:
        spec_kind = from_redcap(ftype, validation, vmin)
    if f.kind.is_number:  # the kept text of a bound ("0.0", "+5") while it says the field's bound
        for key, value, which in (("text_validation_min", f.min, "min"), ("text_validation_max", f.max, "max")):
            if key in k and _bound("", which, k[key], None) == value:
                if which == "min":
                    vmin = k[key]
                else:
                    vmax = k[key]
    cells[FTYPE] = ftype
    if list_choices:
        written = " | ".join(f"{c.code}, {_choice_label(f, c.code, c.label)}" for c in f.choices)
        cells[CHOICES] = written
        if "select_choices_or_calculations" in k:
            try:
                same = _parse_choices("", k["select_choices_or_calculations"]) == [(c.code, c.label) for c in f.choices]
            except UserError:
                same = False
            if same:
                cells[CHOICES] = k["select_choices_or_calculations"]
    if spec_kind is None or spec_kind.name != f.type:
        tags.append(("type", f.type))
    cells[VALIDATION] = validation
    cells[VMIN] = vmin
    cells[VMAX] = vmax
    if f.is_calc:
        _calc_cells(f, k, cells, tags, cb)
    if f.cues:
        tags.append(("cues", ",".join(f.cues)))
    cells[REQUIRED] = "y" if f.required else ""
    if "required_field" in k and (k["required_field"].strip().lower() == "y") == f.required:
        cells[REQUIRED] = k["required_field"]
    cells[IDENTIFIER] = "y" if f.identifier else ""
    if "identifier" in k and (k["identifier"].strip().lower() == "y") == f.identifier:
        cells[IDENTIFIER] = k["identifier"]
    ours = " ".join(
        f"@chartcode-{key}={v if _PLAIN_VALUE_RE.match(v) else json.dumps(v, ensure_ascii=False)}" for key, v in tags
    )
    cells[ANNOTATION] = ours
    if "field_annotation" in k:
        kept_annotation = k["field_annotation"]
        if _ANNOTATION_RE.findall(kept_annotation) == _ANNOTATION_RE.findall(ours):
            cells[ANNOTATION] = kept_annotation  # REDCap's action tags, and ours unchanged
        else:
            theirs = " ".join(_ANNOTATION_RE.sub("", kept_annotation).split())
            cells[ANNOTATION] = " ".join(x for x in (theirs, ours) if x)
    if f.is_calc and "required_field" in k:  # never required in chartcode (computed); as REDCap had it
        cells[REQUIRED] = k["required_field"]
    for c in (FORM, SECTION, ALIGN, QNUM, MATRIX, RANKING):
        if API[c] in k:
            cells[c] = k[API[c]]
    cells[BRANCHING] = _branching_cell(f, branching, unconverted, cb)
    return _row(cells, form)


def _redcap_names(cb: Codebook) -> dict[str, str]:
    """Codebook name -> REDCap variable name (they differ where import-redcap renamed a field)."""
    out = {}
    for f in cb.fields:
        kept = dict(f.redcap).get("field_name", "").strip()
        out[f.name] = kept if kept and _chartcode_name("", kept, None) == f.name else f.name
    return out


def _logic_cell(text: str, kept: str, cb: Codebook) -> str:
    """A show_if or calc in REDCap's spelling and names; the text REDCap had (``kept``) while it
    says the same, so a dictionary round-trips verbatim."""
    ours = logic.to_redcap(_rename(logic.parse(text), _redcap_names(cb)))
    if kept.strip():
        try:
            if logic.to_redcap(logic.parse(kept)) == ours:
                return kept
        except logic.LogicError:
            pass
    return ours


def _branching_cell(f: Field, kept: str, unconverted: bool, cb: Codebook) -> str:
    """The Branching Logic cell: the field's show_if; without one, a kept REDCap condition that
    was never converted (the rules show it, or it does not fit the codebook) goes back verbatim,
    and one that fits was removed from the codebook on purpose."""
    if f.show_if:
        return _logic_cell(f.show_if, kept, cb)
    if not kept.strip() or unconverted:
        return kept
    try:
        forward = {v.lower(): n for n, v in _redcap_names(cb).items()}
        expr = _rename(logic.parse(kept), forward)
    except logic.LogicError:
        return kept
    return "" if not logic.check(expr, f, {x.name: x for x in cb.fields}, "show_if") else kept


def _calc_cells(f: Field, k: dict[str, str], cells: dict[str, str], tags: list[tuple[str, str]], cb: Codebook) -> None:
    """A calc field's row: REDCap's calc type with the expression in the choices column."""
    kept_type = k.get("field_type", "")
    cells[FTYPE] = kept_type if kept_type.strip().lower() == CALC else CALC
    cells[CHOICES] = _logic_cell(f.calc, k.get("select_choices_or_calculations", ""), cb)
    for c in (VALIDATION, VMIN, VMAX):
        cells[c] = k.get(API[c], "")
    if f.type != CALC_TYPE and ("type", f.type) not in tags:
        tags.append(("type", f.type))


def _checkbox_row(group: list[Field], form: str) -> list[str]:
    """One REDCap checkbox row from the binary fields (``<var>___<code>``) of a codebook converted
    before chartcode had a checkbox type: the kept row, with the options the codebook still has."""
    first = dict(group[0].redcap)
    cells = {FROM_API[k]: v for k, v in first.items() if k in API.values()}
    options: list[tuple[int | str, str]] = []
    try:
        kept_options = _parse_choices("", first.get("select_choices_or_calculations", ""))
    except UserError:
        kept_options = []
    by_name = {}
    for code, option in kept_options:
        sub = f"{first.get('field_name', '').strip()}___{re.sub(r'[^A-Za-z0-9_]', '_', str(code))}"
        by_name[_chartcode_name("", sub, None)] = (code, option)
    for f in group:
        code_option = by_name.get(f.name)
        if code_option is None:  # an option added in the codebook: its code from the name, its label after ': '
            code_text = f.name.rsplit("___", 1)[-1]
            code_option = (int(code_text) if _INT_RE.match(code_text) else code_text, f.label.split(": ", 1)[-1])
        options.append(code_option)
    if options != kept_options:
        cells[CHOICES] = " | ".join(f"{c}, {o}" for c, o in options)
    cells[FTYPE] = SPLIT
    cells.setdefault(VAR, group[0].name.rsplit("___", 1)[0])
    return _row(cells, form)


def _choice_label(f: Field, code: Any, label: str) -> str:
    if "|" in label:
        raise UserError(f"field '{f.name}': choice {code} label {label!r} has a '|', which REDCap puts between choices")
    return label


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
