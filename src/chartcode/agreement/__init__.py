"""Inter-rater agreement per codebook field, with seeded bootstrap intervals.

Agreement is computed on SUBMITTED values (``codes`` rows with ``submitted_at`` set, their
``submitted_value``), per codebook field, over units: records for record-level fields, notes for
note-level fields. Any number of coders; missing values allowed. The output holds coefficients
and confusion counts only, never one coder's value against a named record, so it does not
break blinding.

Data orientation. Every function here takes a units x coders array (rows = units, columns =
coders, float, NaN = missing). ``krippendorff.alpha(reliability_data=...)`` wants the transpose
(coders as rows); this module transposes when it calls it. Transposed input gives a wrong number
without an error (the 4 x 12 example gives -0.055 instead of 0.743).

Which units count
    A unit enters the field's matrix when at least one coder submitted a value for it.
    ``n_units`` is the number of units coded by 2 or more coders: percent agreement, kappa,
    alpha and ICC use only those. Units coded once are kept for one purpose, as Gwet (2014) and
    irrCAC do: the chance-agreement term of Gwet's AC1/AC2 and of the generalised Fleiss kappa
    averages each unit's classification shares over every rated unit. (The irrCAC 4 x 12 example,
    AC1 0.77544 with pe 0.19032, needs this; without unit 12, pe would be 0.19137.)
    ``n_coders`` counts the coders with a value on a unit coded by 2 or more coders; Cohen's kappa
    is given when that is exactly two (a third coder who only coded units nobody else coded does
    not stop it).

Level of measurement (``level``)
    nominal for nominal, binary and text fields; ordinal for ordinal fields; interval for numeric
    and date fields; ratio for count fields. Dates are read as day numbers (proleptic Gregorian
    ordinals), so they are interval data: two coders' dates 3 days apart are 3 apart.
    Krippendorff's alpha is given at the field's level (``krippendorff_alpha``) and at every level
    the codes allow (``alpha_by_level``): nominal always; for ordinal fields also ordinal, and
    interval and ratio reading the codes as numbers when the codes are whole numbers increasing in
    codebook order (ratio only when none is negative); count fields all four; numeric and date
    fields nominal, ordinal and interval (no true zero is assumed, so no ratio).

The scale rule (weighted kappa, Gwet's AC1/AC2)
    For fields with choices, the scale is the codebook's list of choices, in codebook order.
    Weighted kappa (linear, quadratic) and Gwet's AC2 weigh a disagreement by the distance
    between the two codes' POSITIONS on that list: statsmodels ``cohens_kappa(table, wt=...)`` on
    the K x K table of positions (the same number as ``sklearn.metrics.cohen_kappa_score(y1, y2,
    labels=[0 .. K-1], weights=...)``). A choice that no coder used still counts as a
    step; Gwet's q is the number of choices. R irr (kappa2) and scikit-learn's default weigh on
    the categories actually observed instead; the two agree exactly when the codebook lists only
    the categories in use. That is how the tool reproduces the published irr anxiety values
    (codebook choices 1, 2, 3, 4, 6: linear 0.1459, quadratic 0.2520); with a codebook scale of
    1..6 the same ratings give 0.1262 and 0.2298. Each field's notes say which scale was used and
    list the choices nobody used. Text fields use the distinct values observed (nominal only).

Coefficients
    percent_agreement  share of agreeing coder pairs per unit, averaged over units coded by 2 or
                       more coders (Gwet 2014, ch. 2); for two coders it is the share of units with
                       equal values. 9/11 = 0.8182 for the 4 x 12 example.
    cohen_kappa        exactly two coders, units both coded; unweighted for every field with
                       choices or text; ``_linear`` / ``_quadratic`` for ordinal fields
                       (statsmodels ``cohens_kappa`` on the contingency table, see the
                       scale rule).
    fleiss_kappa       Fleiss (1971) via statsmodels ``fleiss_kappa(aggregate_raters(...))``
                       when every unit is rated by every coder; otherwise Gwet's (2014) generalised
                       form for missing ratings (as irrCAC ``fleiss.kappa.raw``), said in the notes.
    krippendorff_alpha Krippendorff (2011), coincidence-matrix form; point estimates by the
                       ``krippendorff`` package when its dense (units x values x values) arrays are
                       small, else by the same formula below (they agree; tests check it).
    gwet_ac1 / gwet_ac2_quadratic
                       Gwet (2014), Handbook of Inter-Rater Reliability, 4th ed., ch. 2-3,
                       multi-rater form with missing ratings as in irrCAC ``gwet.ac1.raw``:
                         pa = 1/n' sum_{i: r_i>=2} sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1)),
                              r*_ik = sum_l w_kl r_il
                         pe = (sum_kl w_kl) / (q (q - 1)) * sum_k pi_k (1 - pi_k),
                              pi_k = 1/n sum_i r_ik / r_i over all n rated units
                         AC = (pa - pe) / (1 - pe)
                       identity weights for AC1 (any field with choices or text); quadratic
                       weights w_kl = 1 - (k - l)^2 / (q - 1)^2 on codebook positions for AC2
                       (ordinal fields).
    icc                Shrout & Fleiss (1979) ICC(1,1), ICC(2,1), ICC(3,1) and their k-coder
                       means, from the two-way ANOVA mean squares (MSR rows/units, MSC columns/
                       coders, MSE residual, MSW within units), n units, k coders:
                         ICC1  = (MSR - MSW) / (MSR + (k-1) MSW)
                         ICC2  = (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)
                         ICC3  = (MSR - MSE) / (MSR + (k-1) MSE)
                         ICC1k = (MSR - MSW) / MSR
                         ICC2k = (MSR - MSE) / (MSR + (MSC - MSE) / n)
                         ICC3k = (MSR - MSE) / MSR
                       (pingouin's ICC2/ICC3 are these ICC(2,1)/ICC(3,1).) For numeric and count
                       fields, only when every unit coded by 2 or more coders was coded by all.

``ci`` keys are the JSON names of the coefficients, with ``alpha_by_level.<level>`` and
``icc.<form>`` for the nested ones (``krippendorff_alpha`` repeats the field level's interval).

Bootstrap (``bootstrap=B``): units are resampled with replacement B times and every coefficient
computed on each resample; ``ci`` holds percentile intervals. Every statistic above is a function
of how often each distinct row of codes (a "pattern") occurs, so a resample is drawn as pattern
counts -- Multinomial(n, observed pattern shares) when there are few patterns, else by drawing
unit indices -- which is the same distribution as drawing units. The coefficients are then
computed for all resamples at once from sums over patterns (coincidence, contingency and ANOVA
sums by matrix products), not by calling the libraries B times. The random stream is seeded from
(seed, field name): the same seed gives the same intervals, also for a single ``--field``.

The package
    kinds.py         what agreement reads from a field's type (the one place that reads
                     ``Field.type``): level, encoding as a number, which coefficients apply
    collect.py       submitted codes from the store as a units x coders matrix per field
    read.py          collect's read of a SQLite store: one aggregate query parsed by numpy, the
                     statistics libraries imported in a thread meanwhile, applicability once per
                     distinct combination of what a condition reads
    libraries.py     those libraries, and statsmodels' inter_rater imported without the
                     scipy.stats and scipy.linalg it imports but agreement never uses
    design.py        units grouped into patterns; the matrix helpers
    coefficients.py  the statistics: kernels over pattern counts and the one-matrix functions
    registry.py      every coefficient declared once: JSON key, label, where it applies, kernel,
                     library estimate, caveat; the CLI table and the report's summary read it
    scale.py         a field's scale (categories, their values, the levels the codes allow)
    bootstrap.py     resampled pattern counts and percentile intervals
    field.py         field_agreement (iterates the registry) and agreement_report

This package must not import Textual or the CLI.
"""

from __future__ import annotations

from chartcode.agreement.bootstrap import _CHUNK_CELLS
from chartcode.agreement.coefficients import (
    _agreement_weights,
    _disagreement_weights,
    _k_alpha,
    _k_cohen,
    _k_fleiss,
    _k_gwet,
    _k_icc,
    _k_percent,
    _ratio_delta,
    cohen_kappa,
    fleiss_kappa,
    gwet_ac,
    icc,
    krippendorff_alpha,
    percent_agreement,
)
from chartcode.agreement.collect import Ratings, collect, encode_value
from chartcode.agreement.design import _as_matrix, _categories, _Design, _div, _positions
from chartcode.agreement.field import NO_UNITS, agreement_report, field_agreement
from chartcode.agreement.kinds import ALPHA_LEVELS, ICC_TYPES, KAPPA_TYPES, LEVEL_OF_TYPE, FieldKind, kind_of
from chartcode.agreement.registry import (
    _KRIPP_LIB_CELLS,
    GROUPS,
    ICC_KEYS,
    LANDIS_KOCH,
    REGISTRY,
    SUMMARY,
    Coefficient,
    Requirement,
    landis_koch,
    summary_cells,
    summary_headers,
    summary_numeric,
    table_rows,
)


def _scale(fld, m):
    """A field's scale from its matrix (:func:`chartcode.agreement.scale._scale` for the field's kind)."""
    from chartcode.agreement.scale import _scale as scale_of

    return scale_of(fld, kind_of(fld), m)


__all__ = [
    "ALPHA_LEVELS",
    "GROUPS",
    "ICC_KEYS",
    "ICC_TYPES",
    "KAPPA_TYPES",
    "LANDIS_KOCH",
    "LEVEL_OF_TYPE",
    "NO_UNITS",
    "REGISTRY",
    "SUMMARY",
    "Coefficient",
    "FieldKind",
    "Ratings",
    "Requirement",
    "agreement_report",
    "cohen_kappa",
    "collect",
    "encode_value",
    "field_agreement",
    "fleiss_kappa",
    "gwet_ac",
    "icc",
    "kind_of",
    "krippendorff_alpha",
    "landis_koch",
    "percent_agreement",
    "summary_cells",
    "summary_headers",
    "summary_numeric",
    "table_rows",
    # used by the tests
    "_CHUNK_CELLS",
    "_KRIPP_LIB_CELLS",
    "_Design",
    "_agreement_weights",
    "_as_matrix",
    "_categories",
    "_disagreement_weights",
    "_div",
    "_k_alpha",
    "_k_cohen",
    "_k_fleiss",
    "_k_gwet",
    "_k_icc",
    "_k_percent",
    "_positions",
    "_ratio_delta",
    "_scale",
]
