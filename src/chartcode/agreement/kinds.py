"""What agreement needs to know about a field's type, read from the field-type registry.

Each type declares its agreement attributes once, in ``chartcode.codebook.types``
(``agreement_level``, ``alpha_levels``, ``categorical``, ``weighted``, ``icc``, ``encoding``,
``alpha_note``); the rest of this package asks :func:`kind_of` and reads the
:class:`FieldKind` it returns, never the type's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from chartcode.codebook import Field
from chartcode.codebook.types import AGREEMENT_LEVELS, FIELD_TYPES, FieldType

ALPHA_LEVELS = AGREEMENT_LEVELS


@dataclass(frozen=True)
class FieldKind:
    """How agreement treats the values of one field type."""

    type: str  # the codebook type string (shown in notes)
    level: str  # level of measurement of the field: one of ALPHA_LEVELS
    # how a stored value becomes a number in the units x coders matrix:
    #   position  position on the field's rating codes, 0 .. K-1 (choice fields)
    #   number    the value itself (count, numeric)
    #   day       a date as its proleptic Gregorian day number
    #   observed  an index into the sorted distinct values coders gave (text)
    encoding: str
    alpha_levels: tuple[str, ...]  # Krippendorff levels the values allow (choice fields: when the codes allow)
    categorical: bool = False  # Cohen's / Fleiss' kappa and Gwet's AC1 apply
    weighted: bool = False  # linear/quadratic kappa and Gwet's AC2 apply (ordered categories)
    icc: bool = False  # the intraclass correlation applies
    alpha_note: str = ""  # what the notes say about reading the values
    lists_unused: bool = True  # a field with choices says which choices nobody used


def _kind(ft: FieldType) -> FieldKind:
    return FieldKind(
        ft.name,
        ft.agreement_level,
        ft.encoding.value,
        tuple(ft.alpha_levels),
        categorical=ft.categorical,
        weighted=ft.weighted,
        icc=ft.icc,
        alpha_note=ft.alpha_note,
        lists_unused=ft.exact_codes is None,
    )


def kind_of(fld: Field) -> FieldKind:
    """The :class:`FieldKind` of a codebook field, read from its registered field type."""
    return _kind(fld.kind)


# level of measurement per field type (kept for the callers that read it: bench/agreement.py), and the
# field types with categories (kappa, AC1) and those the ICC applies to: views of the type registry
LEVEL_OF_TYPE = {name: ft.agreement_level for name, ft in FIELD_TYPES.items()}
KAPPA_TYPES = tuple(name for name, ft in FIELD_TYPES.items() if ft.categorical)
ICC_TYPES = tuple(name for name, ft in FIELD_TYPES.items() if ft.icc)
