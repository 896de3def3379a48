"""The coefficient registry: every agreement coefficient declared once.

A :class:`Coefficient` says what the rest of the tool needs to know about one coefficient:

  key        its JSON name (``gwet_ac1``; ``group.member`` for one nested under a JSON object,
             ``alpha_by_level.ordinal``, ``icc.ICC2``); also its name in ``ci``
  label      the row label of ``chartcode agreement``'s table
  term       how the notes name it ("undefined for these data: Gwet's AC1")
  kernel     ``kernel(setting, C, coefficient)``: its value for each row of pattern counts C
             (b x P: the observed counts, or one row per bootstrap resample)
  requires   the :class:`Requirement` s a field and its data must meet (the field kinds and
             measurement levels it applies to, the number of coders ...), in order; the first one
             not met is said in the notes (once, however many coefficients share it)
  weights    None, 'linear' or 'quadratic' (weighted kappa, AC2)
  level      the Krippendorff level (alpha only)
  point      ``point(setting, coefficient)``: the library's estimate (statsmodels,
             krippendorff) where the tool reports the library's number, None to use the kernel's;
             they agree (tests check it)
  caveat     ``caveat(setting)``: a note said when the coefficient is computed (None: nothing)
  chance_corrected  the CLI adds Landis & Koch's words
  bootstrap  it gets a percentile interval under ``--bootstrap``

:data:`REGISTRY` is in the order of the JSON result and of the CLI table. ``ci`` and the
"undefined" note list the top-level coefficients first, then the nested ones (registry order
within each): the order the tool has always used.

:func:`field_agreement <chartcode.agreement.field.field_agreement>` iterates the registry;
the CLI table (:func:`table_rows`), the JSON skeleton (:func:`empty_result`) and the report's
summary table (:data:`SUMMARY`, :func:`summary_headers`, :func:`summary_cells`) are read from it.

Adding a coefficient: its kernel (and library function, if any) in ``coefficients.py``, one
:class:`Coefficient` in :data:`REGISTRY` here, and tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np

from chartcode.agreement.coefficients import (
    _k_alpha,
    _k_cohen,
    _k_fleiss,
    _k_gwet,
    _k_icc,
    _k_percent,
    cohen_kappa,
    fleiss_kappa,
)
from chartcode.agreement.design import _Design
from chartcode.agreement.kinds import ALPHA_LEVELS, FieldKind
from chartcode.codebook import Field

# krippendorff.alpha builds dense (units x values x values) arrays; above this many cells the
# same coincidence formula is evaluated here instead.
_KRIPP_LIB_CELLS = 5_000_000


# ---------------------------------------------------------------------------- one field's data
@dataclass
class Setting:
    """One field's data as the coefficients see it (built by ``field_agreement``)."""

    fld: Field
    kind: FieldKind
    d: _Design  # the units' patterns
    K: int  # categories on the scale
    values: np.ndarray | None  # numeric value per category (interval, ratio, ICC)
    levels: list[str]  # Krippendorff levels the codes allow
    idx: np.ndarray  # units x coders category indices, -1 missing
    cols: np.ndarray  # the coder columns that take part (a value on a unit coded by 2 or more)
    n_units: int  # units coded by 2 or more coders
    complete: bool  # every unit rated by every coder
    pairable: np.ndarray  # coders per unit, for the units coded by 2 or more
    active: list[Coefficient] = dc_field(default_factory=list)
    _memo: dict[str, Any] = dc_field(default_factory=dict)
    _value_counts: np.ndarray | None = None

    @property
    def r(self) -> int:
        """Coders counted (``n_coders``)."""
        return len(self.cols)

    def positions(self) -> np.ndarray:
        """The category indices as a float matrix, NaN missing (what the library functions take)."""
        return np.where(self.idx >= 0, self.idx, np.nan)

    def value_counts(self) -> np.ndarray:
        """Units x categories: how many coders gave each category to each unit (int64), for the units
        coded by 2 or more coders -- what ``krippendorff.alpha`` makes of ``reliability_data`` itself,
        once for every level instead of once per level. A unit coded once adds an exact zero to the
        package's coincidence sum, so leaving those units out gives the same number, to the bit."""
        if self._value_counts is None:
            n = self.idx.shape[0]
            unit = np.repeat(np.arange(n), self.idx.shape[1]).reshape(self.idx.shape)
            ok = self.idx >= 0
            flat = unit[ok] * self.K + self.idx[ok]
            counts = np.bincount(flat, minlength=n * self.K).reshape(n, self.K)
            self._value_counts = counts[counts.sum(axis=1) >= 2]
        return self._value_counts

    def shared(self, name: str, compute: Callable[[], Any]) -> Any:
        """A result shared by a family of coefficients within one evaluation (see :meth:`evaluate`)."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    def weights(self, family: str) -> tuple:
        """The weightings of the active coefficients of a family, in registry order."""
        return tuple(c.weights for c in self.active if c.family == family)

    def evaluate(self, C: np.ndarray, coefficients: list[Coefficient]) -> dict[str, np.ndarray]:
        """Every coefficient's kernel on pattern counts C (b x P)."""
        self._memo = {}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return {c.key: c.kernel(self, C, c) for c in coefficients}


# ---------------------------------------------------------------------------- declarations
@dataclass(frozen=True, eq=False)
class Requirement:
    """A condition for a coefficient; ``note`` (text, or a function of the setting) says why not."""

    test: Callable[[Setting], bool]
    note: str | Callable[[Setting], str] | None = None

    def why_not(self, s: Setting) -> str | None:
        return self.note(s) if callable(self.note) else self.note


@dataclass(frozen=True, eq=False)
class Coefficient:
    """One coefficient (see the module docstring for the attributes)."""

    key: str
    label: str
    term: str
    kernel: Callable[[Setting, np.ndarray, Coefficient], np.ndarray]
    requires: tuple[Requirement, ...] = ()
    weights: str | None = None
    level: str | None = None
    point: Callable[[Setting, Coefficient], float | None] | None = None
    caveat: Callable[[Setting], str | None] | None = None
    chance_corrected: bool = True
    bootstrap: bool = True
    family: str = ""  # coefficients computed together (Setting.shared); default: the key

    def __post_init__(self):
        if not self.family:
            object.__setattr__(self, "family", self.key)

    @property
    def group(self) -> str | None:
        """The JSON object it is nested in (``alpha_by_level``, ``icc``), None for a top-level key."""
        return self.key.split(".", 1)[0] if "." in self.key else None

    @property
    def member(self) -> str:
        return self.key.split(".", 1)[-1]


@dataclass(frozen=True)
class Group:
    """A JSON object holding several coefficients."""

    key: str
    always: bool  # present as {member: null, ...} even when none applies (else null)
    field_level_alias: str | None = None  # a top-level key repeating the member named by the field's level


# -- kernels and library estimates
def _percent(s: Setting, C, c):
    return _k_percent(s.d, C)


def _cohen(s: Setting, C, c):  # all active weightings in one pass
    res = s.shared("cohen", lambda: _k_cohen(s.d, C, s.K, s.weights(c.family), s.cols))
    return res[c.weights or "unweighted"]


def _cohen_lib(s: Setting, c) -> float:
    return cohen_kappa(s.positions()[:, s.cols], s.K, c.weights)


def _fleiss(s: Setting, C, c):
    return _k_fleiss(s.d, C)


def _fleiss_lib(s: Setting, c) -> float | None:
    return fleiss_kappa(s.positions(), s.K)[0] if s.complete else None  # statsmodels needs complete ratings


def _fleiss_caveat(s: Setting) -> str | None:
    if s.complete:
        return None
    return (
        "Fleiss' kappa: in Gwet's (2014) generalised form for missing ratings (irrCAC"
        " fleiss.kappa.raw), since not every unit was rated by every coder"
    )


def _alpha(s: Setting, C, c):
    return _k_alpha(s.d, C, c.level, s.values)


def _alpha_lib(s: Setting, c) -> float | None:
    if s.idx.shape[0] * s.K * s.K > _KRIPP_LIB_CELLS:
        return None
    import krippendorff

    # the package's own input form: per unit, how many coders gave each value of the domain (the
    # reliability data, coders as rows, would be counted into this by the package on every call)
    if c.level in ("interval", "ratio"):
        assert s.values is not None  # the interval and ratio levels come with the codes' values
        domain = s.values
    else:
        domain = np.arange(s.K, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        try:
            return float(
                krippendorff.alpha(value_counts=s.value_counts(), value_domain=domain, level_of_measurement=c.level)
            )
        except ValueError:  # the package refuses a single value; the formula says undefined
            return float("nan")


def _gwet(s: Setting, C, c):
    return _k_gwet(s.d, C, s.K, c.weights)[0]


def _icc(s: Setting, C, c):  # the six forms from one set of ANOVA sums
    values = s.values
    assert values is not None  # the ICC is offered only for fields with numeric values
    return s.shared("icc", lambda: _k_icc(s.d, C, values, s.cols))[c.member]


def _icc_caveat(s: Setting) -> str:
    return (
        "ICC: Shrout & Fleiss (1979) forms; ICC1 one-way random, ICC2 two-way random absolute"
        " agreement, ICC3 two-way mixed consistency; k forms = mean of the coders"
    )


# -- requirements (field kinds, levels, data)
CATEGORIES = Requirement(
    lambda s: s.kind.categorical,
    lambda s: (
        f"Cohen's and Fleiss' kappa and Gwet's AC1/AC2: for fields with categories; this {s.kind.type}"
        " field is measured by Krippendorff's alpha" + (" and the ICC" if s.kind.icc else "")
    ),
)
WEIGHTED = Requirement(lambda s: s.kind.weighted)  # ordered categories
TWO_CODERS = Requirement(
    lambda s: s.r == 2,
    lambda s: (
        f"Cohen's kappa: for exactly two coders (this field has {s.r}); see Fleiss' kappa,"
        " Krippendorff's alpha and Gwet's AC1"
    ),
)
TWO_CATEGORIES = Requirement(lambda s: s.K >= 2, "Gwet's AC1: undefined with fewer than two categories on the scale")
QUANTITY = Requirement(lambda s: s.kind.icc)  # said by CATEGORIES' note
ALL_CODERS = Requirement(
    lambda s: s.r >= 2 and not (s.pairable < s.r).any(),
    lambda s: (
        f"ICC: needs every unit coded by 2 or more coders to be coded by all {s.r} coders;"
        f" {(s.pairable < s.r).sum()} unit(s) are not"
    ),
)
TWO_UNITS = Requirement(lambda s: s.n_units >= 2, "ICC: needs at least two units")


def _at_level(lv: str) -> Requirement:
    return Requirement(lambda s: lv in s.levels)


AT_LEVEL = {lv: _at_level(lv) for lv in ALPHA_LEVELS}  # the codes allow it

_ICC_LABELS = {
    "ICC1": "ICC(1,1) one-way random",
    "ICC2": "ICC(2,1) two-way random, absolute",
    "ICC3": "ICC(3,1) two-way mixed, consistency",
    "ICC1k": "ICC(1,k)",
    "ICC2k": "ICC(2,k)",
    "ICC3k": "ICC(3,k)",
}
ICC_KEYS = tuple(_ICC_LABELS)  # the forms, in the order of coefficients._k_icc

REGISTRY: tuple[Coefficient, ...] = (
    Coefficient("percent_agreement", "percent agreement", "percent agreement", _percent, chance_corrected=False),
    Coefficient(
        "cohen_kappa",
        "Cohen's kappa",
        "Cohen's kappa",
        _cohen,
        (CATEGORIES, TWO_CODERS),
        point=_cohen_lib,
        family="cohen",
    ),
    Coefficient(
        "cohen_kappa_linear",
        "Cohen's kappa, linear weights",
        "Cohen's kappa (linear weights)",
        _cohen,
        (CATEGORIES, TWO_CODERS, WEIGHTED),
        weights="linear",
        point=_cohen_lib,
        family="cohen",
    ),
    Coefficient(
        "cohen_kappa_quadratic",
        "Cohen's kappa, quadratic weights",
        "Cohen's kappa (quadratic weights)",
        _cohen,
        (CATEGORIES, TWO_CODERS, WEIGHTED),
        weights="quadratic",
        point=_cohen_lib,
        family="cohen",
    ),
    Coefficient(
        "fleiss_kappa",
        "Fleiss' kappa",
        "Fleiss' kappa",
        _fleiss,
        (CATEGORIES,),
        point=_fleiss_lib,
        caveat=_fleiss_caveat,
    ),
    *(
        Coefficient(
            f"alpha_by_level.{lv}",
            f"Krippendorff's alpha, {lv}",
            f"Krippendorff's alpha ({lv})",
            _alpha,
            (AT_LEVEL[lv],),
            level=lv,
            point=_alpha_lib,
        )
        for lv in ALPHA_LEVELS
    ),
    Coefficient("gwet_ac1", "Gwet's AC1", "Gwet's AC1", _gwet, (CATEGORIES, TWO_CATEGORIES)),
    Coefficient(
        "gwet_ac2_quadratic",
        "Gwet's AC2, quadratic weights",
        "Gwet's AC2 (quadratic weights)",
        _gwet,
        (CATEGORIES, TWO_CATEGORIES, WEIGHTED),
        weights="quadratic",
    ),
    *(
        Coefficient(
            f"icc.{form}",
            label,
            form,
            _icc,
            (QUANTITY, ALL_CODERS, TWO_UNITS),
            caveat=_icc_caveat,
            chance_corrected=False,
            family="icc",
        )
        for form, label in _ICC_LABELS.items()
    ),
)
GROUPS = {
    "alpha_by_level": Group("alpha_by_level", always=True, field_level_alias="krippendorff_alpha"),
    "icc": Group("icc", always=False),
}
BY_KEY = {c.key: c for c in REGISTRY}


def compute_order(coefficients) -> list[Coefficient]:
    """Top-level coefficients first, then the nested ones (the order of ``ci`` and of the notes)."""
    return sorted(coefficients, key=lambda c: c.group is not None)


def applicable(s: Setting) -> tuple[list[Coefficient], list[str]]:
    """The coefficients that apply to this field and its data, and the notes on those that do not
    (or apply with a caveat), each note once, in registry order."""
    active, notes = [], []

    def say(text):
        if text and text not in notes:
            notes.append(text)

    for c in REGISTRY:
        failed = next((req for req in c.requires if not req.test(s)), None)
        if failed is not None:
            say(failed.why_not(s))
            continue
        active.append(c)
        if c.caveat:
            say(c.caveat(s))
    return active, notes


def empty_result(name: str, level: str) -> dict[str, Any]:
    """The JSON shape of one field with nothing computed (keys in the order of :data:`REGISTRY`)."""
    out: dict[str, Any] = {"field": name, "level": level, "n_units": 0, "n_coders": 0}
    for c in REGISTRY:
        group = GROUPS.get(c.group) if c.group else None
        if group is None:
            out[c.key] = None
        elif group.key not in out:
            if group.field_level_alias:
                out[group.field_level_alias] = None
            out[group.key] = {m.member: None for m in members(group.key)} if group.always else None
    out["ci"] = {}
    out["notes"] = []
    return out


def members(group: str) -> list[Coefficient]:
    return [c for c in REGISTRY if c.group == group]


def term(key: str) -> str:
    """How the notes name a coefficient."""
    c = BY_KEY.get(key)
    return c.term if c else key


def value_of(result: dict, key: str):
    """A coefficient's value in a field's result (None when absent)."""
    if "." in key:
        head, tail = key.split(".", 1)
        inner = result.get(head)
        return None if inner is None else inner.get(tail)
    return result.get(key)


def table_rows(result: dict) -> Iterator[tuple[Coefficient, str, float]]:
    """(coefficient, label, value) for each coefficient in a field's result, in registry order; the
    member of a group that the field's level picks is labelled "(field level)"."""
    for c in REGISTRY:
        value = value_of(result, c.key)
        if value is None:
            continue
        label = c.label
        group = GROUPS.get(c.group) if c.group else None
        if group is not None and group.field_level_alias and c.member == result["level"]:
            label += " (field level)"
        yield c, label, value


# ---------------------------------------------------------------------------- the report's summary table
@dataclass(frozen=True)
class SummaryColumn:
    """A column of the report's per-field summary table: the first of ``keys`` that has a value
    (kappa: Cohen's for two coders, else Fleiss'); ``interval``: the column shows that key's CI."""

    header: str
    keys: tuple[str, ...]
    interval: bool = False


SUMMARY = (
    SummaryColumn("% agreement", ("percent_agreement",)),
    SummaryColumn("kappa", ("cohen_kappa", "fleiss_kappa")),
    SummaryColumn("alpha", ("krippendorff_alpha",)),
    SummaryColumn("alpha {level} CI", ("krippendorff_alpha",), interval=True),
    SummaryColumn("AC1", ("gwet_ac1",)),
)


def summary_headers(ci_level: float = 0.95) -> list[str]:
    return [c.header.format(level=f"{ci_level * 100:g}%") for c in SUMMARY]


def summary_numeric(first: int) -> set[int]:
    """Which table columns hold numbers, when the :data:`SUMMARY` columns start at column ``first``."""
    return {first + i for i, col in enumerate(SUMMARY) if not col.interval}


def summary_cells(result: dict, fmt: Callable[[Any], str], empty: str = "—") -> list[str]:
    """The :data:`SUMMARY` cells of one field's result, numbers formatted by ``fmt``."""
    cells = []
    for col in SUMMARY:
        if col.interval:
            ci = result["ci"].get(col.keys[0]) or [None, None]
            cells.append(f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci[0] is not None else empty)
        else:
            value = next((v for k in col.keys if (v := value_of(result, k)) is not None), None)
            cells.append(fmt(value))
    return cells


# ---------------------------------------------------------------------------- interpretation
LANDIS_KOCH = (
    (0.0, "poor"),
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
    (1.0, "almost perfect"),
)


def landis_koch(value: float | None) -> str:
    """Landis & Koch (1977) benchmark words for a kappa-type value (a convention, not a test)."""
    if value is None or not math.isfinite(value):
        return ""
    if value < 0:
        return "poor"
    for upper, word in LANDIS_KOCH[1:]:
        if value <= upper + 1e-12:
            return word
    return "almost perfect"
