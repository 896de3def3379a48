"""What agreement needs to know about a field's type: the ONE place that reads ``Field.type``.

Everything else in the package asks :func:`kind_of` and reads the attributes of the
:class:`FieldKind` it returns. The attribute names follow the agreement attributes planned for
the field-type registry (``chartcode.codebook.types``: ``agreement_level``, ``alpha_levels``,
``categorical``, ``weighted``, ``icc``, ``encoding``, ``alpha_note``), so once that registry
lands, :func:`kind_of` can read them from the field's type instead of the table below.
"""

from __future__ import annotations

from dataclasses import dataclass

from chartcode.codebook import Field

ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")


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


_NUMBER_LEVELS = ("nominal", "ordinal", "interval")

_KINDS = {k.type: k for k in (
    FieldKind("nominal", "nominal", "position", ("nominal",), categorical=True),
    FieldKind("binary", "nominal", "position", ("nominal",), categorical=True, lists_unused=False),
    FieldKind("ordinal", "ordinal", "position", ALPHA_LEVELS, categorical=True, weighted=True),
    FieldKind("text", "nominal", "observed", ("nominal",), categorical=True),
    FieldKind("count", "ratio", "number", ALPHA_LEVELS, icc=True),
    FieldKind("numeric", "interval", "number", _NUMBER_LEVELS, icc=True,
              alpha_note="numeric values read at the interval level (no true zero assumed); ratio alpha not computed"),
    FieldKind("date", "interval", "day", _NUMBER_LEVELS,
              alpha_note="dates read as day numbers (interval level); ratio alpha not computed"),
)}

# level of measurement per field type (kept for the callers that read it: bench/agreement.py)
LEVEL_OF_TYPE = {t: k.level for t, k in _KINDS.items()}
# the field types with categories (kappa, AC1) and those the ICC applies to (the old tables, derived;
# tests/unit/test_field_types.py compares them with the field-type registry)
KAPPA_TYPES = tuple(t for t, k in _KINDS.items() if k.categorical)
ICC_TYPES = tuple(t for t, k in _KINDS.items() if k.icc)


def kind_of(fld: Field) -> FieldKind:
    """The :class:`FieldKind` of a codebook field (ValueError for a type agreement does not know)."""
    try:
        return _KINDS[fld.type]
    except KeyError:
        raise ValueError(f"field type {fld.type!r} is not known to agreement") from None
