"""REFI-QDA codebooks (.qdc), the exchange format of ATLAS.ti, MAXQDA, NVivo and QualCoder:
write a codebook as one, and read one (or the codebook inside a .qdpx project) as a codebook.

Writing: each field becomes a non-codable parent code whose description holds the decision
rules, with one codable child code per choice, named "field: code = label". A field without
choices (count, numeric, date, text) becomes a single codable code. Every code name is
unique in the file: QDA programs key codes by name (QualCoder's code_name and code_cat tables
are UNIQUE(name) and its import reuses the first code of a name), so "1 = 1" under every
item of a scale would collapse into one code. GUIDs are uuid5 of the codebook id, field name
and choice code, so writing the same codebook twice gives the same file and a QDA program sees
a re-export as the same codes. The file validates against the REFI-QDA Codebook.xsd.

Reading (:func:`qdc_to_yaml`): a .qdc that chartcode wrote gives back its fields (name,
type, level, required, choices, rules; scale blocks and min/max do not travel in a .qdc).
Any other program's codebook gives one yes/no field per codable code, labelled with its
path in the code tree ("Barriers / Cost"), its description as the rules; non-codable codes
(categories) only group. The XML is parsed with expat with any DTD refused, so entity
expansion ("billion laughs") and external entities (XXE) never happen.
"""

from __future__ import annotations

import io
import re
import unicodedata
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from chartcode import __version__
from chartcode.codebook.loader import ID_RE, load_codebook
from chartcode.codebook.model import LEVELS, Codebook, Field
from chartcode.codebook.types import FIELD_TYPES
from chartcode.errors import UserError, open_binary, printable
from chartcode.files import atomic_write

NAMESPACE = "urn:QDA-XML:codebook:1.0"
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:chartcode:refi-qda")


def codebook_to_qdc(codebook: Codebook, out_path: str | Path) -> None:
    """Write ``codebook`` to ``out_path`` as REFI-QDA codebook XML (UTF-8)."""
    ET.register_namespace("", NAMESPACE)  # write <CodeBook xmlns="..."> rather than ns0: prefixes
    root = ET.Element(_tag("CodeBook"), origin=f"chartcode {__version__}: {codebook.id} {codebook.version}")
    codes = ET.SubElement(root, _tag("Codes"))
    names = _Names()
    for f in codebook.fields:
        codable, children = f.kind.qdc_codes(f)
        parent = _code(codes, _guid(codebook, f.name), names.take(f.label or f.name, f.name), codable=codable)
        _description(parent, _field_description(f))
        for part, name, description in children:
            child = _code(parent, _guid(codebook, f.name, part), names.take(f"{f.name}: {name}", part), codable=True)
            _description(child, description)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    try:
        with atomic_write(out_path, "wb") as fh:
            tree.write(fh, encoding="UTF-8", xml_declaration=True)
    except OSError as e:
        raise UserError(f"{out_path}: cannot write the file ({e.strerror or e})") from None


class _Names:
    """Code names unique in the file, compared ignoring case (so a program that folds case
    keeps them apart too): a repeat gets its field name or code in brackets."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def take(self, name: str, hint: str) -> str:
        candidate, n = name, 1
        while candidate.casefold() in self.seen:
            n += 1
            candidate = f"{name} ({hint})" if n == 2 else f"{name} ({hint} {n})"
        self.seen.add(candidate.casefold())
        return candidate


def _tag(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _guid(codebook: Codebook, *parts: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "/".join((codebook.id, *parts))))


def _code(parent: ET.Element, guid: str, name: str, *, codable: bool) -> ET.Element:
    return ET.SubElement(parent, _tag("Code"), guid=guid, name=name, isCodable="true" if codable else "false")


def _description(code: ET.Element, text: str) -> None:
    # the schema puts Description before any child Code; callers add it first
    if text:
        ET.SubElement(code, _tag("Description")).text = text


def _field_description(f: Field) -> str:
    where = f"note level ({', '.join(f.note_types)} notes)" if f.note_types else f"{f.level} level"
    extra = [
        *(["required"] if f.required else []),
        *([f"min {f.min:g}"] if f.min is not None else []),
        *([f"max {f.max:g}"] if f.max is not None else []),
        *(["identifier"] if f.identifier else []),
    ]
    head = f"chartcode field {f.name}: {f.type}, {where}{''.join(', ' + x for x in extra)}."
    return "\n".join(x for x in (head, f.rules) if x)


# ---- REFI-QDA -> chartcode ------------------------------------------------------------------

# A .qdc is a few hundred kilobytes; a .qdpx project's project.qde holds no source text (the
# sources are other members of the zip), so both are small. Refuse what is not one.
MAX_XML_BYTES = 32 << 20
_QDA_NS = "urn:QDA-XML:"  # codebook:1.0 (NVivo writes codebook:1:0), project:1.0 in a .qdpx
_HEAD_RE = re.compile(
    r"^chartcode field (?P<name>[a-z][a-z0-9_]{0,31}): (?P<type>[a-z_]+), "
    r"(?:note level \((?P<note_types>[^)]*) notes\)|(?P<level>record|note) level)(?P<required>, required)?"
    r"(?:, min (?P<min>-?[0-9.e+-]+))?(?:, max (?P<max>-?[0-9.e+-]+))?(?P<identifier>, identifier)?\.$"
)


@dataclass
class _Code:
    name: str
    codable: bool
    description: str
    line: int
    children: list[_Code] = field(default_factory=list)


def qdc_to_yaml(
    path: str | Path, *, codebook_id: str | None = None, title: str | None = None, level: str = "note"
) -> tuple[str, list[str]]:
    """Convert a REFI-QDA codebook (.qdc, or the codebook of a .qdpx project) to codebook
    YAML; return (yaml_text, warnings). Raises UserError naming the file (and line) for input
    that is not one."""
    shown = printable(str(path))
    if level not in LEVELS:
        raise UserError(f"level {level!r} must be one of: {', '.join(LEVELS)}")
    root, lines = _parse(shown, _read_xml(path, shown))
    codes, origin = _codes(shown, root, lines)
    warnings: list[str] = []
    ours = [c for c in codes if _HEAD_RE.match(c.description.split("\n", 1)[0])]
    if ours:
        if len(ours) < len(codes):
            warnings.append(
                f"{shown}: {len(codes) - len(ours)} top-level codes without a chartcode field description; skipped"
            )
        fields = [_chartcode_field(shown, c) for c in ours]
    else:
        fields = []
        names: set[str] = set()
        for path_, c in _codable(codes, ()):
            fields.append(_yes_no_field(c, path_, _unique_name(names, path_), level))
        if not fields:
            raise UserError(f'{shown}: no codable code in the codebook (every code is isCodable="false")')
    stem = Path(str(path)).stem
    cb_id = codebook_id or re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-_.") or "refi-qda"
    if not ID_RE.match(cb_id):
        raise UserError(f"codebook id {cb_id!r} must be letters, digits, '-', '_' or '.' (pass another id)")
    doc = CommentedMap()
    doc["id"] = cb_id
    doc["title"] = title or f"{stem} (from REFI-QDA)"
    doc["version"] = "1.0"
    made_by = f" written by {' '.join(origin.split())}" if origin else ""
    doc["description"] = f"Converted by chartcode from the REFI-QDA codebook {Path(str(path)).name}{made_by}."
    doc["fields"] = fields
    doc.yaml_set_start_comment(
        f"Converted from the REFI-QDA codebook {printable(Path(str(path)).name)}.\n"
        "Check the types, levels, required flags and decision rules before coding."
    )
    out = io.StringIO()
    yaml = YAML()
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.dump(doc, out)
    text = out.getvalue()
    load_codebook(f"{shown} (converted)", text=text)  # the same checks as any codebook; names the line
    return text, warnings


def _read_xml(path: str | Path, shown: str) -> bytes:
    with open_binary(path) as fh:
        head = fh.read(4)
        fh.seek(0)
        if head != b"PK\x03\x04":
            data = fh.read(MAX_XML_BYTES + 1)
            if len(data) > MAX_XML_BYTES:
                raise UserError(f"{shown}: larger than {MAX_XML_BYTES >> 20} MB; is it a REFI-QDA codebook?")
            return data
        try:  # a .qdpx: a zip holding project.qde (the project XML) and the sources
            with zipfile.ZipFile(fh) as z:
                member = next((i for i in z.infolist() if i.filename.lower() == "project.qde"), None)
                if member is None:
                    raise UserError(f"{shown}: a zip without project.qde; not a REFI-QDA project (.qdpx)")
                if member.file_size > MAX_XML_BYTES:
                    raise UserError(f"{shown}: project.qde is larger than {MAX_XML_BYTES >> 20} MB")
                with z.open(member) as m:
                    data = m.read(MAX_XML_BYTES + 1)  # the declared size can lie; never read more
        except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError, RuntimeError) as exc:
            raise UserError(f"{shown}: a damaged or unsupported zip ({type(exc).__name__})") from None
        if len(data) > MAX_XML_BYTES:
            raise UserError(f"{shown}: project.qde is larger than {MAX_XML_BYTES >> 20} MB")
        return data


class _Refused(Exception):
    pass


def _parse(shown: str, data: bytes) -> tuple[ET.Element, dict[int, int]]:
    """Parse with expat into an ElementTree, refusing any DTD: a DOCTYPE is where entities
    are declared, so with none there is nothing to expand and no external file to fetch.
    Returns the root and the line of every element (by id)."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = ET.TreeBuilder()
    lines: dict[int, int] = {}

    def refuse(*_: Any) -> Any:
        raise _Refused

    def start(tag: str, attrs: dict[str, str]) -> None:
        el = builder.start(_clark(tag), {_clark(k): v for k, v in attrs.items()})
        lines[id(el)] = parser.CurrentLineNumber

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(_clark(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused:
        raise UserError(
            f"{shown}:{parser.CurrentLineNumber}: a DOCTYPE or entity declaration is not allowed in a"
            " REFI-QDA file (entities can expand without bound or read other files)"
        ) from None
    except expat.ExpatError as exc:
        raise UserError(f"{shown}:{exc.lineno}: not well-formed XML ({expat.ErrorString(exc.code)})") from None
    return builder.close(), lines


def _clark(name: str) -> str:
    return "{" + name if "}" in name else name


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _ns(tag: Any) -> str:
    return str(tag)[1:].split("}", 1)[0] if str(tag).startswith("{") else ""


def _codes(shown: str, root: ET.Element, lines: dict[int, int]) -> tuple[list[_Code], str]:
    if not _ns(root.tag).startswith(_QDA_NS) or _local(root.tag) not in ("CodeBook", "Project"):
        raise UserError(f"{shown}:1: not a REFI-QDA codebook (the root is not a QDA-XML CodeBook or Project)")
    origin = root.get("origin") or ""
    book = root if _local(root.tag) == "CodeBook" else next((e for e in root if _local(e.tag) == "CodeBook"), None)
    holder = next((e for e in book if _local(e.tag) == "Codes"), None) if book is not None else None
    if holder is None:
        raise UserError(f"{shown}:1: no <Codes> in the codebook")

    def build(el: ET.Element, depth: int) -> _Code:
        line = lines.get(id(el), 1)
        if depth > 32:
            raise UserError(f"{shown}:{line}: codes nested more than 32 levels deep")
        name = " ".join((el.get("name") or "").split())
        if not name:
            raise UserError(f"{shown}:{line}: a <Code> without a name")
        desc = next((d for d in el if _local(d.tag) == "Description"), None)
        text = "\n".join(x.rstrip() for x in (desc.text or "").strip().splitlines()) if desc is not None else ""
        code = _Code(name, el.get("isCodable", "true").strip().lower() not in ("false", "0"), text, line)
        code.children = [build(c, depth + 1) for c in el if _local(c.tag) == "Code"]
        return code

    codes = [build(c, 0) for c in holder if _local(c.tag) == "Code"]
    if not codes:
        raise UserError(f"{shown}:1: the codebook has no codes")
    return codes, origin


def _codable(codes: list[_Code], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], _Code]]:
    for c in codes:
        here = (*path, c.name)
        if c.codable:
            yield here, c
        yield from _codable(c.children, here)


def _unique_name(names: set[str], path: tuple[str, ...]) -> str:
    words = unicodedata.normalize("NFKD", " ".join(path)).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "_", words).strip("_")[:32].rstrip("_") or "code"
    if not base[0].isalpha():
        base = f"c_{base}"[:32].rstrip("_")
    name, n = base, 1
    while name in names:
        n += 1
        name = f"{base[: 31 - len(str(n))]}_{n}"
    names.add(name)
    return name


def _rules(text: str) -> str | LiteralScalarString:
    return LiteralScalarString(text + "\n") if "\n" in text else text


def _yes_no_field(c: _Code, path: tuple[str, ...], name: str, level: str) -> CommentedMap:
    m = CommentedMap()
    m["name"] = name
    m["label"] = " / ".join(path)
    m["level"] = level
    m["type"] = "binary"
    if c.description:
        m["rules"] = _rules(c.description)
    return m


_CHOICE_RE = re.compile(r"^(?:[a-z][a-z0-9_]{0,31}: )?(?P<code>[A-Za-z0-9_.-]{1,32}) = (?P<label>.+)$")


def _chartcode_field(shown: str, c: _Code) -> CommentedMap:
    head, _, rules = c.description.partition("\n")
    h = _HEAD_RE.match(head)
    assert h is not None  # callers pass only codes whose description matched
    if h["type"] not in FIELD_TYPES:
        raise UserError(f"{shown}:{c.line}: field {h['name']!r}: type {h['type']!r} is not a chartcode type")
    m = CommentedMap()
    m["name"] = h["name"]
    m["label"] = re.sub(rf" \({re.escape(h['name'])}( \d+)?\)$", "", c.name)
    m["level"] = "note" if h["note_types"] is not None else h["level"]
    if h["note_types"]:
        seq = CommentedSeq(t.strip() for t in h["note_types"].split(","))
        seq.fa.set_flow_style()
        m["note_types"] = seq
    m["type"] = h["type"]
    m["required"] = bool(h["required"])
    for key in ("min", "max"):
        if h[key] is not None:
            try:
                number = float(h[key])
            except ValueError:
                raise UserError(f"{shown}:{c.line}: field {h['name']!r}: {key} is not a number") from None
            m[key] = int(number) if number.is_integer() else number
    if h["identifier"]:
        m["identifier"] = True
    if c.children:
        choices = CommentedMap()
        for child in c.children:
            x = _CHOICE_RE.match(child.name)
            if x is None:
                raise UserError(f"{shown}:{child.line}: field {h['name']!r}: a choice code not named 'code = label'")
            raw = x["code"]
            code: int | str = int(raw) if re.fullmatch(r"-?[0-9]+", raw) else raw
            if child.description:
                choices[code] = CommentedMap(label=x["label"], description=child.description)
            else:
                choices[code] = x["label"]
        m["choices"] = choices
    if rules.strip():
        m["rules"] = _rules(rules.strip())
    return m
