"""A check-all-that-apply field's options as 0/1 items, ``<field>___<code>`` (REDCap's naming).

Exports write one column per option and agreement reads each option as a binary item; both
describe the option by the binary field these functions give (name, label "Field: option",
No/Yes choices, the field's level and note types).
"""

from __future__ import annotations

from chartcode.codebook.model import Choice, Codebook, Field
from chartcode.codebook.types import OPTION_SEP, option_column

NO_YES = (Choice(0, "No"), Choice(1, "Yes"))


def option_fields(fld: Field) -> dict[str, Field]:
    """Column name -> binary field, one per option of a checkbox field, in choice order."""
    return {
        option_column(fld.name, c.code): Field(
            option_column(fld.name, c.code),
            f"{fld.label}: {c.label}",
            fld.level,
            "binary",
            choices=NO_YES,
            note_types=fld.note_types,
            show_if=fld.show_if,  # an option applies where its field does
        )
        for c in fld.choices
    }


def option_field(cb: Codebook, column: str) -> Field | None:
    """The binary field an option column ``<field>___<code>`` stands for (None: not one)."""
    name, sep, _ = column.rpartition(OPTION_SEP)
    fld = cb.get(name) if sep else None
    if fld is None or not fld.kind.multiple:
        return None
    return option_fields(fld).get(column)
