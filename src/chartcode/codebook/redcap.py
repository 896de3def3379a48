"""Convert between REDCap data dictionaries (CSV) and chartcode codebooks (YAML).

    redcap_to_yaml("dict.csv")            -> (yaml_text, warnings)
    codebook_to_redcap(codebook, "x.csv")  -> writes a data dictionary REDCap can import

REDCap to chartcode: radio/dropdown -> nominal, yesno/truefalse -> binary, checkbox ->
one binary field per option (``<var>___<code>``, REDCap's own export naming), text
with integer validation -> count (numeric when it allows negatives), other number
validations -> numeric, date validations -> date, other text and notes -> text.
Calculations, descriptive text, files, sliders and SQL fields are skipped with a
warning. REDCap's first field is the record id; it is not coded, so it is skipped.

chartcode to REDCap: what REDCap cannot say (note level, note types, ordinal, binary
with own labels, cue words) goes into the Field Annotation as ``@chartcode-...`` tags,
which redcap_to_yaml reads back, so a round trip keeps the codebook's meaning.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from chartcode.codebook.loader import CODE_RE, ID_RE, NAME_RE, load_codebook
from chartcode.codebook.model import LEVELS, Codebook, Field
from chartcode.codebook.types import FIELD_TYPES, from_redcap, join
from chartcode.errors import UserError, quote, read_bytes
from chartcode.files import atomic_write

# A data dictionary is tens of kilobytes; refuse what cannot be one before reading it as CSV.
MAX_BYTES = 16 << 20

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
    _ALIGN,
    _QNUM,
    _MATRIX,
    _RANKING,
    ANNOTATION,
) = COLUMNS
NEEDED = (VAR, FTYPE, LABEL, CHOICES)

SKIP_REASONS = {
    "calc": "chartcode stores coded values, not calculations",
    "descriptive": "they show text, they hold no data",
    "file": "chartcode does not store uploaded files",
    "slider": "chartcode has no slider; use a text field with number validation to code a number",
    "sql": "they run database queries, they hold no coded value",
}
SPLIT = "checkbox"  # one binary field per option; every other converted REDCap type is claimed by a field type
_INT_RE = re.compile(r"^-?(0|[1-9]\d*)$")
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")
_ANNOTATION_RE = re.compile(r'@chartcode-([a-z_-]+)=("(?:[^"\\]|\\.)*"|\S+)')
_PLAIN_VALUE_RE = re.compile(r'^[^\s"]+$')


# ---- REDCap -> chartcode -------------------------------------------------------------------


def redcap_to_yaml(
    dict_path: str | Path, *, codebook_id: str | None = None, title: str | None = None, version: str = "1.0"
) -> tuple[str, list[str]]:
    """Convert a REDCap data dictionary CSV to codebook YAML; return (yaml_text, warnings).

    Raises UserError naming the file and CSV line for input chartcode cannot convert.
    """
    shown = str(dict_path)
    rows = _read_rows(shown)
    warnings: list[str] = []
    fields: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, (line, row) in enumerate(rows):
        where = f"{shown}:{line}: field {quote(row[VAR].strip(), 64)}"
        if index == 0:  # REDCap's first field is the record id: an identifier, not a coded value
            if row[VAR].strip().lower() != "record_id":
                warnings.append(f"{where}: the first field is REDCap's record id; skipped")
            continue
        for f in _convert_row(where, row, warnings):
            if f["name"] in seen:
                raise UserError(
                    f"{shown}:{line}: field '{f['name']}': field name appears twice (first at line {seen[f['name']]})"
                )
            seen[f["name"]] = line
            fields.append(f)
    if not fields:
        raise UserError(f"{shown}: no field to convert (a REDCap dictionary lists the record id, then the fields)")

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
    doc.yaml_set_start_comment(
        f"Converted from the REDCap data dictionary {Path(shown).name}.\n"
        "Check the types, the required flags and the decision rules before coding."
    )
    out = io.StringIO()
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(doc, out)
    text = out.getvalue()
    try:  # a safety net: every check above mirrors the loader, so this should never fire
        load_codebook(f"{shown} (converted)", text=text)
    except UserError as e:
        raise UserError(f"{shown}: the converted codebook is not valid: {e}") from None
    return text, warnings


def _read_rows(shown: str) -> list[tuple[int, dict[str, str]]]:
    """(first CSV line of the row, row by column name) for every non-blank data row."""
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
    try:
        header = next(reader, None)
        if header is None:
            raise UserError(f"{shown}:1: the file is empty; expected a REDCap data dictionary")
        columns = [h.strip().lower() for h in header]
        dup = next((h for h in header if h.strip() and columns.count(h.strip().lower()) > 1), None)
        if dup is not None:
            raise UserError(f"{shown}:1: column {quote(dup.strip(), 64)} appears more than once in the header")
        missing = [c for c in NEEDED if c.lower() not in columns]
        if missing:
            raise UserError(
                f"{shown}:1: missing column(s) {', '.join(repr(c) for c in missing)}"
                " (is this a REDCap data dictionary?)"
            )
        index = {c: columns.index(c.lower()) for c in COLUMNS if c.lower() in columns}
        rows: list[tuple[int, dict[str, str]]] = []
        start = reader.line_num + 1
        for raw in reader:
            if any(cell.strip() for cell in raw):  # a missing optional column or cell reads as blank
                cells = {c: raw[index[c]] if index.get(c, len(raw)) < len(raw) else "" for c in COLUMNS}
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as e:
        raise UserError(f"{shown}:{reader.line_num}: not a readable CSV row ({e})") from None
    return rows


def _convert_row(where: str, row: dict[str, str], warnings: list[str]) -> list[dict[str, Any]]:
    """The codebook fields for one dictionary row (none if skipped, several for a checkbox)."""
    ftype = row[FTYPE].strip().lower()
    kind = None if ftype == SPLIT else from_redcap(ftype, row[VALIDATION], row[VMIN])
    if kind is None and ftype != SPLIT:
        reason = SKIP_REASONS.get(ftype, "not a REDCap field type chartcode converts")
        shown = quote(ftype).strip("'") if ftype else "untyped"
        warnings.append(f"{where}: {shown} fields are skipped ({reason})")
        return []
    name = _check_name(where, row[VAR].strip().lower())
    tags = _annotation(where, row[ANNOTATION], warnings)
    label = _clean(row[LABEL]) or name
    rules = _clean(row[NOTE], one_line=False)
    if row[BRANCHING].strip():
        rules = "\n".join(x for x in (rules, f"REDCap shows this field only if: {row[BRANCHING].strip()}") if x)
    base: dict[str, Any] = {
        "label": label,
        "level": tags.get("level", "record"),
        "required": row[REQUIRED].strip().lower() == "y",
        "identifier": row[IDENTIFIER].strip().lower() == "y",
        "rules": rules,
        "note_types": tags.get("note_types", []),
        "cues": tags.get("cues", []),
    }
    if base["level"] not in LEVELS:
        raise UserError(f"{where}: @chartcode-level={quote(base['level'])} must be one of: {', '.join(LEVELS)}")
    if base["note_types"] and base["level"] != "note":
        raise UserError(f"{where}: @chartcode-note-types applies only with @chartcode-level=note")

    if kind is None:  # a checkbox
        out = []
        for code, option in _parse_choices(where, row[CHOICES]):
            sub = _check_name(where, f"{name}___{re.sub(r'[^a-z0-9_]', '_', str(code).lower())}")
            out.append(
                base | {"name": sub, "label": f"{label}: {option}", "type": "binary", "choices": {0: "No", 1: "Yes"}}
            )
        return out
    choices: dict[int | str, str] = {}
    if kind.has_choices:
        fixed = kind.redcap_choices(ftype)
        choices = fixed if fixed is not None else dict(_parse_choices(where, row[CHOICES]))
    ftype_cc = kind.name
    field = base | {"name": name, "type": tags.get("type", ftype_cc), "choices": choices}
    _check_type(where, field, ftype_cc)
    if FIELD_TYPES[field["type"]].is_number:
        field["min"] = _bound(where, "min", row[VMIN], warnings)
        field["max"] = _bound(where, "max", row[VMAX], warnings)
        if field["min"] is not None and field["max"] is not None and field["min"] > field["max"]:
            raise UserError(f"{where}: Text Validation Min {field['min']} is greater than the Max {field['max']}")
    return [field]


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


def _bound(where: str, which: str, text: str, warnings: list[str]) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    if not _NUM_RE.match(text):
        warnings.append(f"{where}: Text Validation {which.capitalize()} {quote(text)} is not a number; ignored")
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
    if f["choices"]:
        m["choices"] = CommentedMap(f["choices"])
    if f["rules"]:
        m["rules"] = LiteralScalarString(f["rules"] + "\n") if "\n" in f["rules"] else f["rules"]
    if f["cues"]:
        m["cues"] = _flow(f["cues"])
    return m


def _flow(items: list[str]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()  # [a, b] on one line, as hand-written codebooks do
    return seq


# ---- chartcode -> REDCap -------------------------------------------------------------------


def codebook_to_redcap(codebook: Codebook, out_path: str | Path) -> None:
    """Write ``codebook`` as a REDCap data dictionary CSV (record_id first, then every field)."""
    form = re.sub(r"[^a-z0-9_]", "_", codebook.id.lower())
    rows = [_row({VAR: "record_id", FTYPE: "text", LABEL: "Record ID"}, form)]
    rows += [_field_row(f, form) for f in codebook.fields]
    try:
        with atomic_write(out_path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
    except OSError as e:
        raise UserError(f"{out_path}: cannot write the file ({e.strerror or e})") from None


def _row(cells: dict[str, str], form: str) -> list[str]:
    return [form if c == FORM else cells.get(c, "") for c in COLUMNS]


def _field_row(f: Field, form: str) -> list[str]:
    cells = {VAR: f.name, LABEL: f.label, NOTE: f.rules}
    tags: list[tuple[str, str]] = []
    if f.level != "record":
        tags.append(("level", f.level))
    if f.note_types:
        tags.append(("note-types", ",".join(f.note_types)))
    spec = f.kind.to_redcap(f)
    cells[FTYPE] = spec.field_type
    if spec.choices:
        cells[CHOICES] = " | ".join(f"{c.code}, {_choice_label(f, c.code, c.label)}" for c in f.choices)
    if spec.tag_type:
        tags.append(("type", f.type))
    cells[VALIDATION] = spec.validation
    cells[VMIN] = "" if spec.min is None else _num(spec.min)
    cells[VMAX] = "" if spec.max is None else _num(spec.max)
    if f.cues:
        tags.append(("cues", ",".join(f.cues)))
    cells[REQUIRED] = "y" if f.required else ""
    cells[IDENTIFIER] = "y" if f.identifier else ""
    cells[ANNOTATION] = " ".join(
        f"@chartcode-{k}={v if _PLAIN_VALUE_RE.match(v) else json.dumps(v, ensure_ascii=False)}" for k, v in tags
    )
    return _row(cells, form)


def _choice_label(f: Field, code: Any, label: str) -> str:
    if "|" in label:
        raise UserError(f"field '{f.name}': choice {code} label {label!r} has a '|', which REDCap puts between choices")
    return label


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
