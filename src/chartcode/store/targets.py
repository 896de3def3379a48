"""Where a code belongs, checked once for both backends.

    code_target(codebook, record_exists, note_of, record_id, note_id, field_name) -> (field, note_key)
    parsed(field, value) -> the stored form of value (None stays None: a clear)

A record-level field takes no note id (note key ""); a note-level field takes a note of that
record whose type the field applies to. ``note_of(note_id)`` is the backend's lookup of a
note's (record_id, note_type), None for an unknown note.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chartcode.codebook import Codebook, CodeError, Field
from chartcode.errors import UserError


def code_target(
    cb: Codebook,
    record_exists: Callable[[str], bool],
    note_of: Callable[[str], tuple[str, str | None] | None],
    record_id: str,
    note_id: str | None,
    field_name: str,
) -> tuple[Field, str]:
    """Check that a code for ``field_name`` belongs on this record/note; return (field, note_key)."""
    fld = cb.get(field_name)
    if fld is None:
        raise UserError(f"unknown field {field_name!r} (codebook {cb.id} has: {', '.join(f.name for f in cb.fields)})")
    if not record_exists(record_id):
        raise UserError(f"unknown record {record_id!r}")
    if fld.level == "record":
        if note_id:
            raise UserError(f"field {field_name!r} is coded once per record; leave note_id empty")
        return fld, ""
    if not note_id:
        raise UserError(f"field {field_name!r} is coded per note; a note_id is required")
    row = note_of(note_id)
    if row is None:
        raise UserError(f"unknown note {note_id!r}")
    if row[0] != record_id:
        raise UserError(f"note {note_id!r} belongs to record {row[0]!r}, not {record_id!r}")
    if not fld.applies_to(row[1]):
        raise UserError(
            f"field {field_name!r} is coded only on {', '.join(fld.note_types)} notes; "
            f"note {note_id!r} is of type {row[1]!r}"
        )
    return fld, note_id


def parsed(fld: Field, value: Any) -> Any:
    """The stored form of ``value`` for ``fld`` (None stays None: a clear); a UserError if it is not one."""
    if value is None:
        return None
    try:
        return fld.parse(value)
    except CodeError as exc:
        raise UserError(f"field {fld.name!r}: {exc}") from None
