"""Write a codebook as a REFI-QDA codebook (.qdc), the exchange format that ATLAS.ti,
MAXQDA, NVivo and QualCoder import.

Each field becomes a non-codable parent code whose description holds the decision rules,
with one codable child code per choice ("code = label"). A field without choices (count,
numeric, date, text) becomes a single codable code. GUIDs are uuid5 of the codebook id,
field name and choice code, so writing the same codebook twice gives the same file and a
QDA program sees a re-export as the same codes.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from chartcode import __version__
from chartcode.codebook.model import Codebook, Field
from chartcode.errors import UserError
from chartcode.files import atomic_write

NAMESPACE = "urn:QDA-XML:codebook:1.0"
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:chartcode:refi-qda")


def codebook_to_qdc(codebook: Codebook, out_path: str | Path) -> None:
    """Write ``codebook`` to ``out_path`` as REFI-QDA codebook XML (UTF-8)."""
    ET.register_namespace("", NAMESPACE)  # write <CodeBook xmlns="..."> rather than ns0: prefixes
    root = ET.Element(_tag("CodeBook"), origin=f"chartcode {__version__}: {codebook.id} {codebook.version}")
    codes = ET.SubElement(root, _tag("Codes"))
    for f in codebook.fields:
        codable, children = f.kind.qdc_codes(f)
        parent = _code(codes, _guid(codebook, f.name), f.label or f.name, codable=codable)
        _description(parent, _field_description(f))
        for part, name, description in children:
            child = _code(parent, _guid(codebook, f.name, part), name, codable=True)
            _description(child, description)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    try:
        with atomic_write(out_path, "wb") as fh:
            tree.write(fh, encoding="UTF-8", xml_declaration=True)
    except OSError as e:
        raise UserError(f"{out_path}: cannot write the file ({e.strerror or e})") from None


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
    head = f"chartcode field {f.name}: {f.type}, {where}{', required' if f.required else ''}."
    return "\n".join(x for x in (head, f.rules) if x)
