"""Field types: one class per type, and the registry every consumer asks.

A codebook field names its type with a string (``type: ordinal``; the string stays in the
canonical JSON, so codebook hashes do not depend on this module). What the type means -- its
choices and their code rules, how a raw value is read, how it is typed in the TUI, its level
of measurement for agreement, how it maps to SPSS, Stata, pandas, REDCap and REFI-QDA -- is
declared once, on a subclass of :class:`FieldType`, and looked up with :func:`field_type` (or
``Field.kind``).

Adding a type: write one subclass here (or anywhere) and :func:`register` it. The loader, the
converters, the exports and the TUI read what they need from the class; only a consumer that
cannot work from the declared attributes needs a change.

A set-valued type is built on this base too: :class:`Checkbox` (check all that apply) sets
``multiple = True`` and overrides :meth:`FieldType.parse` to accept several codes (``"1|3"``, a
list or a set); its stored value is the canonical text of the ticked codes in choice order joined
by ``|`` (``"1|3"``; ``""`` = coded, nothing ticked; None = not coded), so the store, the history
and the hash chain keep plain text.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the model imports this module, not the other way round
    from chartcode.codebook.model import Field

_INT_RE = re.compile(r"^[+-]?\d+$")
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

AGREEMENT_LEVELS = ("nominal", "ordinal", "interval", "ratio")


class CodeError(ValueError):
    """A value that the field does not accept; the message is safe to show (no note text)."""


class InputMode(Enum):
    """How a coder enters a value in the TUI."""

    SINGLE_KEY = "single_key"  # one key press picks a choice (its digit, or 1..9, 0 by position)
    DIGITS = "digits"  # a typed whole number
    NUMBER = "number"  # a typed number (sign, decimals, exponent)
    DATE = "date"  # a typed date, YYYY-MM-DD
    FREE_TEXT = "free_text"  # typed text; never coded by a single key
    TOGGLE = "toggle"  # check all that apply: each choice's key ticks or unticks it


class Encoding(Enum):
    """How agreement reads a value as a number (see :meth:`FieldType.encode`)."""

    POSITION = "position"  # position on the field's rating codes, 0 .. K-1
    NUMBER = "number"  # the value itself
    DAY = "day"  # a date as its proleptic Gregorian day number
    OBSERVED = "observed"  # an index into the sorted distinct values coders gave (text)


@dataclass(frozen=True)
class RedcapSpec:
    """How a field is written in a REDCap data dictionary."""

    field_type: str  # Field Type: radio, yesno, text, notes ...
    validation: str = ""  # Text Validation Type
    min: float | None = None  # Text Validation Min
    max: float | None = None  # Text Validation Max
    choices: bool = False  # list the field's choices ("code, label | ...")
    tag_type: bool = False  # REDCap cannot say the type: write @chartcode-type=<name>


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _digits(x: float) -> int:
    """Characters of the whole part of ``x`` as SPSS and Stata print it (a sign counts)."""
    return len(str(int(x)))


YEAR_FORMATS = {"sav": "F4.0", "dta": "%4.0f"}
"""A date exported as its year only (de-identified with ``--dates year``): a whole number, not a
date variable (Stata's %ty would make pandas read it back as 1 January of that year)."""


class FieldType:
    """One field type. Subclasses set the class attributes and override what differs.

    The methods take the :class:`~chartcode.codebook.model.Field` (choices, min, max), since
    what a type accepts can depend on the field's definition.
    """

    name: ClassVar[str]
    # -- choices ---------------------------------------------------------------------------
    has_choices: ClassVar[bool] = False  # coded by picking from the field's choices
    integer_codes: ClassVar[bool] = False  # choice codes must be whole numbers
    exact_codes: ClassVar[tuple[int, ...] | None] = None  # the only choice codes allowed
    default_choices: ClassVar[tuple[tuple[int | str, str], ...]] = ()  # used when a codebook lists none
    ordered: ClassVar[bool] = False  # the choices are in order (rating points): scales, diff
    # -- values ----------------------------------------------------------------------------
    is_number: ClassVar[bool] = False  # the value is a number; 'min'/'max' apply
    multiple: ClassVar[bool] = False  # the value is a set of codes (a multi-select type)
    family: ClassVar[str] = ""  # types of one family may refine each other (REDCap @chartcode-type)
    # -- TUI -------------------------------------------------------------------------------
    input_mode: ClassVar[InputMode] = InputMode.FREE_TEXT
    entry_hint: ClassVar[str] = "text"  # "type <hint>, then Enter"
    # -- agreement -------------------------------------------------------------------------
    agreement_level: ClassVar[str] = "nominal"  # the field's level of measurement
    alpha_levels: ClassVar[tuple[str, ...]] = ("nominal",)  # Krippendorff levels the values allow
    categorical: ClassVar[bool] = False  # Cohen's / Fleiss' kappa and Gwet's AC1 apply
    weighted: ClassVar[bool] = False  # linear/quadratic kappa and Gwet's AC2 apply (ordered categories)
    icc: ClassVar[bool] = False  # the intraclass correlation applies
    encoding: ClassVar[Encoding] = Encoding.OBSERVED
    alpha_note: ClassVar[str] = ""  # what the agreement output says about reading the values
    # -- exports ---------------------------------------------------------------------------
    pandas_dtype: ClassVar[str] = "object"  # "Int64": whole-number codes (object if any is text)
    spss_measure: ClassVar[str] = "nominal"  # nominal, ordinal or scale (SPSS's and PSPP's measurement level)
    stat_date: ClassVar[bool] = False  # exported to SPSS/Stata as a date variable (ISO text read as a date)

    def __repr__(self) -> str:
        return f"<field type {self.name}>"

    # -- reading a value --------------------------------------------------------------------
    def parse(self, fld: Field, raw: Any) -> Any:
        """A raw value (CSV cell, key press, typed entry, JSON value) as the stored value.

        Raises CodeError with a message naming what the field accepts. A set-valued type
        overrides this (the raw value may be a list); others override :meth:`parse_text`.
        """
        if raw is None:
            raise CodeError("a value is required")
        if isinstance(raw, bool):
            raw = int(raw)
        text = str(raw).strip()
        if text == "":
            raise CodeError("a value is required")
        return self.parse_text(fld, text)

    def parse_text(self, fld: Field, text: str) -> Any:
        """The stored value for non-empty, stripped ``text``."""
        return text

    def display(self, fld: Field, value: Any) -> str:
        """A stored value as a reader sees it ("" for no value)."""
        return "" if value is None else str(value)

    def saves_itself(self, fld: Field, text: str) -> bool:
        """Whether a value being typed is complete, so the TUI saves it without Enter."""
        return False

    # -- agreement --------------------------------------------------------------------------
    def encode(self, fld: Field, value: Any) -> float | None:
        """A stored value as the number agreement works on (None: it does not fit the field).

        Types encoded as OBSERVED categories (text) are numbered from the values coders gave,
        so there is no per-value number: this raises ValueError for them (None for no value).
        """
        if value is None:
            return None
        raise ValueError(f"field type {self.name!r} is not encoded as a number")

    # -- exports ----------------------------------------------------------------------------
    def spss_format(self, fld: Field) -> str | None:
        """The SPSS print/write format of the exported column: width and decimals (``F2.0`` for
        codes up to 99); None: text, which pyreadstat sizes to the longest value (``A<bytes>``)."""
        return None

    def stata_format(self, fld: Field) -> str | None:
        """The Stata display format of the exported column (None: text, sized from the data)."""
        return None

    def to_redcap(self, fld: Field) -> RedcapSpec:
        return RedcapSpec("notes")

    def from_redcap(self, field_type: str, validation: str, vmin: str) -> bool:
        """Whether a REDCap field (type, validation, min) converts to this type.

        The text type takes what no other type claims (see :func:`from_redcap`).
        """
        return False

    def redcap_choices(self, field_type: str) -> dict[int | str, str] | None:
        """The choices a REDCap field type implies (yesno: 0 No, 1 Yes); None: read them from
        the dictionary's Choices column."""
        return None

    def qdc_codes(self, fld: Field) -> tuple[bool, list[tuple[str, str, str]]]:
        """REFI-QDA: whether the field's own code is codable, and its child codes as
        (GUID part, name, description)."""
        children = [(str(c.code), f"{c.code} = {c.label}", c.description) for c in fld.choices]
        return not fld.choices, children


# ---- choice types -------------------------------------------------------------------------


class ChoiceType(FieldType):
    """Coded by picking one of the field's choices (a single key press)."""

    has_choices = True
    family = "choice"
    input_mode = InputMode.SINGLE_KEY
    entry_hint = ""
    categorical = True
    encoding = Encoding.POSITION
    pandas_dtype = "Int64"

    def parse_text(self, fld: Field, text: str) -> Any:
        for c in fld.choices:
            if str(c.code) == text:
                return c.code
        # "3.0" from a spreadsheet means code 3
        if _NUM_RE.match(text):
            try:
                f = float(text)
            except ValueError:
                f = None
            if f is not None and f.is_integer():
                for c in fld.choices:
                    if c.code == int(f):
                        return c.code
        raise CodeError(f"{text!r} is not a code of this field (codes: {fld.describe_choices()})")

    def display(self, fld: Field, value: Any) -> str:
        return "" if value is None else f"{value} {fld.label_for(value)}".strip()

    def encode(self, fld: Field, value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        key = str(value)
        for i, code in enumerate(fld.rating_codes):  # a scale's "cannot rate" is missing, not a category
            if str(code) == key:
                return float(i)
        return None

    def _code_width(self, fld: Field) -> int | None:
        """Characters of the widest code (a "cannot rate" 9 included); None: word codes (text)."""
        codes = [c.code for c in fld.choices]
        if not codes or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            return None
        return max(_digits(int(c)) for c in codes)

    def spss_format(self, fld: Field) -> str | None:
        width = self._code_width(fld)
        return None if width is None else f"F{width}.0"

    def stata_format(self, fld: Field) -> str | None:
        width = self._code_width(fld)
        return None if width is None else f"%{width}.0f"

    def to_redcap(self, fld: Field) -> RedcapSpec:
        return RedcapSpec("radio", choices=True, tag_type=True)


class Nominal(ChoiceType):
    name = "nominal"

    def to_redcap(self, fld: Field) -> RedcapSpec:
        return RedcapSpec("radio", choices=True)

    def from_redcap(self, field_type: str, validation: str, vmin: str) -> bool:
        return field_type in ("radio", "dropdown")


class Ordinal(ChoiceType):
    name = "ordinal"
    integer_codes = True
    ordered = True
    weighted = True
    agreement_level = "ordinal"
    alpha_levels = ("nominal", "ordinal", "interval", "ratio")  # interval/ratio when the codes allow
    spss_measure = "ordinal"


class Binary(ChoiceType):
    name = "binary"
    integer_codes = True
    exact_codes = (0, 1)
    default_choices = ((0, "No"), (1, "Yes"))
    _REDCAP: ClassVar[dict[str, dict[int | str, str]]] = {
        "yesno": {0: "No", 1: "Yes"},
        "truefalse": {0: "False", 1: "True"},
    }

    def to_redcap(self, fld: Field) -> RedcapSpec:
        if [(c.code, c.label) for c in fld.choices] == list(self.default_choices):
            return RedcapSpec("yesno")
        return RedcapSpec("radio", choices=True, tag_type=True)

    def from_redcap(self, field_type: str, validation: str, vmin: str) -> bool:
        return field_type in self._REDCAP

    def redcap_choices(self, field_type: str) -> dict[int | str, str] | None:
        return dict(self._REDCAP[field_type]) if field_type in self._REDCAP else None


# ---- typed types --------------------------------------------------------------------------


class NumberType(FieldType):
    """A typed number, optionally within the field's min and max."""

    is_number = True
    family = "number"
    alpha_levels: ClassVar[tuple[str, ...]] = ("nominal", "ordinal", "interval")
    icc = True
    encoding = Encoding.NUMBER
    spss_measure = "scale"

    def check_range(self, fld: Field, value: float, text: str) -> None:
        if fld.min is not None and value < fld.min:
            raise CodeError(f"{text} is below the minimum {_num(fld.min)}")
        if fld.max is not None and value > fld.max:
            raise CodeError(f"{text} is above the maximum {_num(fld.max)}")

    def encode(self, fld: Field, value: Any) -> float | None:
        if value is None:
            return None
        try:
            x = float(value)
        except (TypeError, ValueError):
            return None
        return x if math.isfinite(x) else None


class Count(NumberType):
    name = "count"
    input_mode = InputMode.DIGITS
    entry_hint = "a whole number"
    agreement_level = "ratio"
    alpha_levels = ("nominal", "ordinal", "interval", "ratio")
    pandas_dtype = "Int64"

    def parse_text(self, fld: Field, text: str) -> Any:
        if not _INT_RE.match(text):
            if _NUM_RE.match(text) and float(text).is_integer():
                text = str(int(float(text)))
            else:
                raise CodeError(f"{text!r} is not a whole number")
        value = int(text)
        if value < 0:
            raise CodeError(f"{text!r}: a count cannot be negative")
        self.check_range(fld, value, text)
        return value

    def saves_itself(self, fld: Field, text: str) -> bool:
        """Complete once no further digit could fit (``61`` when the maximum is 110, or ``0``)."""
        if not text.isdigit():
            return False
        complete = text == "0" or (fld.max is not None and int(text) * 10 > fld.max)
        return complete and (fld.min is None or int(text) >= fld.min)

    def _width(self, fld: Field) -> int:
        """Digits of the declared maximum (a de-identified age's 90 fits any age maximum); 8 without one."""
        return 8 if fld.max is None else max(_digits(fld.max), _digits(fld.min or 0), 1)

    def spss_format(self, fld: Field) -> str | None:
        return f"F{self._width(fld)}.0"

    def stata_format(self, fld: Field) -> str | None:
        return f"%{self._width(fld)}.0f"

    def to_redcap(self, fld: Field) -> RedcapSpec:
        return RedcapSpec("text", "integer", 0 if fld.min is None else fld.min, fld.max)

    def from_redcap(self, field_type: str, validation: str, vmin: str) -> bool:
        return (
            field_type == "text" and validation == "integer" and bool(_NUM_RE.match(vmin.strip())) and float(vmin) >= 0
        )


class Numeric(NumberType):
    name = "numeric"
    input_mode = InputMode.NUMBER
    entry_hint = "a number"
    agreement_level = "interval"
    alpha_note = "numeric values read at the interval level (no true zero assumed); ratio alpha not computed"
    pandas_dtype = "Float64"

    def parse_text(self, fld: Field, text: str) -> Any:
        if not _NUM_RE.match(text):
            raise CodeError(f"{text!r} is not a number")
        value = int(text) if _INT_RE.match(text) else float(text)
        self.check_range(fld, value, text)
        return value

    def spss_format(self, fld: Field) -> str | None:
        """Two decimals; wide enough for the declared range (at least F8.2)."""
        bounds = [abs(x) for x in (fld.min, fld.max) if x is not None]
        whole = max([_digits(x) for x in bounds] + [1]) + (1 if fld.min is not None and fld.min < 0 else 0)
        return f"F{max(8, whole + 3)}.2"

    def stata_format(self, fld: Field) -> str | None:
        return "%10.0g"

    def to_redcap(self, fld: Field) -> RedcapSpec:
        return RedcapSpec("text", "number", fld.min, fld.max)

    def from_redcap(self, field_type: str, validation: str, vmin: str) -> bool:
        return field_type == "text" and (validation == "integer" or validation.startswith("number"))


class Date(FieldType):
    """A calendar date, stored as ISO text (YYYY-MM-DD); exported as that text in csv and json and
    as a date variable in SPSS (SDATE10: 2024/01/31) and Stata (%tdCCYY-NN-DD: 2024-01-31)."""

    name = "date"
    family = "date"
    input_mode = InputMode.DATE
    entry_hint = "a date YYYY-MM-DD"
    agreement_level = "interval"
    alpha_levels = ("nominal", "ordinal", "interval")
    encoding = Encoding.DAY
    alpha_note = "dates read as day numbers (interval level); ratio alpha not computed"
    spss_measure = "scale"  # SPSS and PSPP keep date variables at the scale level
    stat_date = True

    def parse_text(self, fld: Field, text: str) -> Any:
        try:
            return dt.date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text).isoformat()
        except ValueError:
            raise CodeError(f"{text!r} is not a date (write YYYY-MM-DD)") from None

    def encode(self, fld: Field, value: Any) -> float | None:
        if value is None:
            return None
        try:
            return float(dt.date.fromisoformat(str(value)[:10]).toordinal())
        except ValueError:
            return None

    def spss_format(self, fld: Field) -> str | None:
        return "SDATE10"

    def stata_format(self, fld: Field) -> str | None:
        return "%tdCCYY-NN-DD"

    def to_redcap(self, fld: Field) -> RedcapSpec:
        return RedcapSpec("text", "date_ymd")

    def from_redcap(self, field_type: str, validation: str, vmin: str) -> bool:
        return field_type == "text" and validation in ("date_ymd", "date_mdy", "date_dmy")


class Text(FieldType):
    """Free text; in agreement, the distinct values coders gave are the categories."""

    name = "text"
    family = "text"
    categorical = True

    def from_redcap(self, field_type: str, validation: str, vmin: str) -> bool:
        return field_type in ("text", "notes")


# ---- set-valued types ----------------------------------------------------------------------

CHECKBOX_CODE_RE = re.compile(r"^[A-Za-z0-9_]{1,26}$")
"""A checkbox option's code: REDCap names its export column ``<field>___<code>``, so the code is
letters, digits and ``_`` (no ``-`` or ``.``); 26 characters at most, REDCap's own limit."""

OPTION_SEP = "___"  # <field>___<code>: one 0/1 column per option (REDCap's export naming)


class Checkbox(FieldType):
    """Check all that apply: the value is the set of ticked choices.

    Stored as the canonical text of the ticked codes in choice order joined by ``|``
    (:func:`canonical`): ``"1|3"``; ``""`` when the coder ticked none; None when not coded.
    Exported as one 0/1 column per option, ``<field>___<code>`` (REDCap's convention), whose
    SPSS variable labels read "<field label>: <option label>" (ready for an MRSETS definition).
    Agreement: each option as a binary item, and the whole set with Krippendorff's alpha on the
    MASI distance (chartcode.agreement.sets).
    """

    name = "checkbox"
    has_choices = True
    multiple = True
    family = "checkbox"
    input_mode = InputMode.TOGGLE
    entry_hint = "each option's key ticks or unticks it; Enter keeps the set"
    agreement_level = "nominal"
    alpha_levels = ("nominal",)
    categorical = False  # the set is not one category: per option (binary) and MASI alpha instead
    encoding = Encoding.OBSERVED
    alpha_note = "a set of options: each option as a binary item, the whole set by MASI alpha"
    pandas_dtype = "object"

    def parse(self, fld: Field, raw: Any) -> Any:
        """``"1|3"``, ``"3|1"``, ``" 1 | 3 "``, ``[1, 3]``, ``{"3", "1"}`` -> ``"1|3"``; ``""`` or
        ``"|"`` or ``[]`` -> ``""`` (coded, none ticked). A code must be one of the options."""
        if raw is None:
            raise CodeError("a value is required")
        if isinstance(raw, (list, tuple, set, frozenset)):
            parts = [str(int(v)) if isinstance(v, bool) else str(v).strip() for v in raw]
        elif isinstance(raw, (str, int)) and not isinstance(raw, bool):
            parts = [p.strip() for p in str(raw).split("|")]
        else:
            raise CodeError(f"a checkbox value is codes joined by '|' (options: {fld.describe_choices()})")
        ticked: set[str] = set()
        known = {str(c.code) for c in fld.choices}
        for p in parts:
            if p == "":
                continue
            if p not in known:
                p = self._spreadsheet_code(p, known)
            if p not in known:
                raise CodeError(f"{p!r} is not an option of this field (options: {fld.describe_choices()})")
            ticked.add(p)
        return canonical(fld, ticked)

    @staticmethod
    def _spreadsheet_code(text: str, known: set[str]) -> str:
        """ "3.0" from a spreadsheet means code 3."""
        if _NUM_RE.match(text):
            try:
                f = float(text)
            except ValueError:
                return text
            if f.is_integer() and str(int(f)) in known:
                return str(int(f))
        return text

    def display(self, fld: Field, value: Any) -> str:
        if value is None:
            return ""
        ticked = checkbox_codes(value)
        if not ticked:
            return "(none ticked)"
        return ", ".join(f"{c.code} {c.label}" for c in fld.choices if str(c.code) in ticked)

    def encode(self, fld: Field, value: Any) -> float | None:
        if value is None:
            return None
        raise ValueError("a checkbox value is a set: agreement reads it per option and by MASI alpha")

    def to_redcap(self, fld: Field) -> RedcapSpec:
        return RedcapSpec("checkbox", choices=True)

    def from_redcap(self, field_type: str, validation: str, vmin: str) -> bool:
        return field_type == "checkbox"

    # -- the option columns ---------------------------------------------------------------
    def options(self, fld: Field) -> list[tuple[str, Any]]:
        """(export column ``<field>___<code>``, code) per option, in choice order."""
        return [(option_column(fld.name, c.code), c.code) for c in fld.choices]


def checkbox_codes(value: Any) -> frozenset[str]:
    """The ticked codes of a stored checkbox value (``"1|3"``), as code strings."""
    if value is None:
        return frozenset()
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(str(v) for v in value)
    return frozenset(p for p in str(value).split("|") if p != "")


def canonical(fld: Field, ticked: set[str] | frozenset[str]) -> str:
    """The stored text of a set of ticked codes: in the field's choice order, joined by ``|``."""
    return "|".join(str(c.code) for c in fld.choices if str(c.code) in ticked)


def option_column(field_name: str, code: Any) -> str:
    return f"{field_name}{OPTION_SEP}{code}"


# ---- the registry -------------------------------------------------------------------------

FIELD_TYPES: dict[str, FieldType] = {}
"""Type name -> type, in registration order (the order error messages list them)."""


def register(ft: FieldType | type[FieldType]) -> FieldType:
    """Add a field type (a class or an instance); its ``name`` becomes a codebook ``type``.

    Usable as a class decorator; returns the registered instance.
    """
    inst = ft() if isinstance(ft, type) else ft
    name = getattr(inst, "name", "")
    if not isinstance(name, str) or not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise ValueError(f"a field type needs a lower-case name, not {name!r}")
    if name in FIELD_TYPES:
        raise ValueError(f"field type {name!r} is already registered")
    FIELD_TYPES[name] = inst
    return ft if isinstance(ft, type) else inst  # type: ignore[return-value]


def unregister(name: str) -> None:
    FIELD_TYPES.pop(name, None)


@contextmanager
def registered(*types: FieldType | type[FieldType]) -> Iterator[list[FieldType]]:
    """Register ``types`` for the duration of a ``with`` block (tests, plug-ins tried out)."""
    added: list[str] = []
    try:
        for t in types:
            register(t)
            added.append(t.name)
        yield [FIELD_TYPES[n] for n in added]
    finally:
        for n in added:
            unregister(n)


def field_type(name: str) -> FieldType:
    """The registered type called ``name``; KeyError names the registered ones."""
    try:
        return FIELD_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown field type {name!r} (registered: {', '.join(FIELD_TYPES)})") from None


def names(pred: Callable[[FieldType], bool] | None = None) -> tuple[str, ...]:
    """Registered type names (those for which ``pred(type)`` holds)."""
    return tuple(n for n, t in FIELD_TYPES.items() if pred is None or pred(t))


def from_redcap(field_type: str, validation: str, vmin: str) -> FieldType | None:
    """The type a REDCap field converts to: the first registered type that claims it, the
    text type last (it takes any text or notes field no other type claims); None: no type
    converts it (calc, descriptive, file ... fields are skipped)."""
    v = validation.strip().lower()
    fallback = None
    for t in FIELD_TYPES.values():
        if t.from_redcap(field_type, v, vmin):
            if t.name == "text":
                fallback = t
                continue
            return t
    return fallback


def join(words: tuple[str, ...] | list[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    words = list(words)
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


for _t in (Nominal, Ordinal, Binary, Count, Numeric, Date, Text, Checkbox):
    register(_t)
del _t
