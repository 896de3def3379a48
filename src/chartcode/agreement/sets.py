"""Agreement on check-all-that-apply (checkbox) fields: per option, and for the whole set.

A checkbox value is a set of ticked options (stored ``"1|3"``: chartcode.codebook.types.Checkbox).
Two readings, both reported:

Per option, as a binary item
    Each option becomes the 0/1 item ``<field>___<code>`` (ticked or not, on the units where the
    coder coded the field) and goes through the ordinary binary path (:func:`field_agreement`):
    percent agreement, Cohen's / Fleiss' kappa, Gwet's AC1, Krippendorff's alpha.

The whole set
    ``krippendorff_alpha`` / ``alpha_by_level.nominal``: the sets read as nominal categories
    (two sets agree only when equal), and ``masi_alpha``: Krippendorff's alpha with the MASI
    distance, which gives partial credit to overlapping sets (Passonneau 2006, "Measuring
    Agreement on Set-valued Items (MASI) for Semantic and Pragmatic Annotation", LREC 2006):

        MASI(A, B) = J(A, B) * M(A, B),   J = |A n B| / |A u B|  (Jaccard)
        M = 1 when A = B, 2/3 when one is a subset of the other, 1/3 when they overlap
            otherwise, 0 when they are disjoint
        distance = 1 - MASI;  two empty sets (nothing ticked by either) are equal: distance 0

    The alpha itself is the ``krippendorff`` package's (coincidence-matrix form), given the MASI
    distances between the distinct sets coders gave as its distance metric (the package takes a
    callable ``level_of_measurement``); only the distance is written here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chartcode.codebook import Field
from chartcode.codebook.model import checkbox_codes
from chartcode.codebook.options import option_fields

MASI_KEY = "masi_alpha"
MASI_NOTE = (
    "masi_alpha: Krippendorff's alpha with the MASI distance (Passonneau 2006): overlapping sets"
    " count as partial agreement; krippendorff_alpha reads each whole set as one nominal category"
)


def masi_distance(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> float:
    """1 - MASI(a, b) (Passonneau 2006; see the module docstring). Two empty sets: 0."""
    if a == b:
        return 0.0
    both, either = len(a & b), len(a | b)
    if both == 0:
        return 1.0
    monotonicity = 2 / 3 if (a <= b or b <= a) else 1 / 3
    return 1.0 - both / either * monotonicity


def masi_alpha(sets: list[list[frozenset[str] | None]]) -> float | None:
    """Krippendorff's alpha with the MASI distance for a units x coders table of sets (None: not
    coded); None when fewer than two distinct sets or no unit coded by two coders."""
    import krippendorff

    domain: list[frozenset[str]] = []
    at: dict[frozenset[str], int] = {}
    for row in sets:
        for s in row:
            if s is not None and s not in at:
                at[s] = len(domain)
                domain.append(s)
    counts = np.zeros((len(sets), len(domain)))
    for i, row in enumerate(sets):
        for s in row:
            if s is not None:
                counts[i, at[s]] += 1
    paired = counts.sum(axis=1) >= 2
    if len(domain) < 2 or not paired.any():
        return None
    distances = np.array([[masi_distance(a, b) for b in domain] for a in domain])

    def metric(v1: Any, v2: Any, i1: Any = None, i2: Any = None, n_v: Any = None, dtype: Any = float) -> Any:
        return distances[i1, i2].astype(dtype)

    value = krippendorff.alpha(
        value_counts=counts[paired], value_domain=np.arange(len(domain)), level_of_measurement=metric
    )
    value = float(value)
    return value if np.isfinite(value) else None


def _sets(categories: list[str], matrix: np.ndarray) -> list[list[frozenset[str] | None]]:
    """The units x coders matrix of category indices (collect's text encoding) as sets."""
    decoded = [checkbox_codes(c) for c in categories]
    return [[None if np.isnan(x) else decoded[int(x)] for x in row] for row in matrix]


def option_matrix(fld: Field, categories: list[str], matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Per option column name: the units x coders 0/1 matrix (NaN where the coder has no value)."""
    sets = _sets(categories, matrix)
    out: dict[str, np.ndarray] = {}
    for name, c in zip(option_fields(fld), fld.choices, strict=True):
        code = str(c.code)
        out[name] = np.array(
            [[np.nan if s is None else float(code in s) for s in row] for row in sets], dtype=float
        ).reshape(matrix.shape)
    return out


def set_agreement(ratings: Any, **options: Any) -> list[dict[str, Any]]:
    """The agreement results of one checkbox field (``ratings``: chartcode.agreement.collect.Ratings):
    the whole set first (the nominal reading and ``masi_alpha``), then one binary result per option,
    named ``<field>___<code>``. ``options``: field_agreement's bootstrap, seed, ci, confusion."""
    from chartcode.agreement.field import field_agreement

    fld = ratings.field
    whole = field_agreement(
        fld,
        ratings.matrix,
        ratings.coders,
        bootstrap=options.get("bootstrap", 0),
        seed=options.get("seed"),
        ci=options.get("ci", 0.95),
        unreadable=ratings.unreadable,
        applicability_disagreements=ratings.applicability_disagreements,
    )
    whole[MASI_KEY] = masi_alpha(_sets(ratings.categories, ratings.matrix)) if whole["n_units"] else None
    whole["options"] = list(option_fields(fld))
    whole["notes"].append(MASI_NOTE)
    if options.get("bootstrap"):
        whole["notes"].append("ci: no bootstrap interval for masi_alpha")
    out = [whole]
    fields = option_fields(fld)
    for name, m in option_matrix(fld, ratings.categories, ratings.matrix).items():
        res = field_agreement(fields[name], m, ratings.coders, **options)
        res["option_of"] = fld.name
        out.append(res)
    return out
