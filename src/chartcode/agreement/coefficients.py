"""The statistics: vectorised kernels over pattern counts, and the public one-matrix functions.

Kernels (``_k_*``) take a :class:`~chartcode.agreement.design._Design` and C, a (b x P) array of
pattern counts -- the observed counts for the estimate, one row per resample for the bootstrap --
and return one value per row. The public functions compute one estimate from a units x coders
matrix; Cohen's kappa and Fleiss' kappa with complete ratings (statsmodels) and
Krippendorff's alpha (the ``krippendorff`` package, called from the registry) are thin over their
libraries, the hand-written ones cite their formulas (see the package docstring).
"""

from __future__ import annotations

import math

import numpy as np

from chartcode.agreement.design import _as_matrix, _categories, _Design, _div, _positions, _sp


# ---------------------------------------------------------------------------- kernels over C (b x P)
def _k_percent(d: _Design, C: np.ndarray) -> np.ndarray:
    agree = _div(d.sum_sq - d.m, d.m * (d.m - 1))
    agree = np.where(d.m >= 2, agree, 0.0)
    return _div(C @ agree, C @ d.pairable)


def _disagreement_weights(K: int, kind: str | None) -> np.ndarray:
    i = np.arange(K, dtype=float)
    diff = np.abs(i[:, None] - i[None, :])
    if kind is None:
        return (diff > 0).astype(float)
    if kind == "linear":
        return diff
    if kind == "quadratic":
        return diff**2
    raise ValueError(kind)


def _agreement_weights(q: int, kind: str | None) -> np.ndarray:
    """Gwet's agreement weights on positions: identity, or quadratic 1 - (k-l)^2/(q-1)^2."""
    if kind is None:
        return np.eye(q)
    i = np.arange(q, dtype=float)
    return 1.0 - (i[:, None] - i[None, :]) ** 2 / (q - 1) ** 2


def _k_gwet(d: _Design, C: np.ndarray, q: int, kind: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gwet's AC1 (kind None) or AC2 (kind 'quadratic'): (coefficient, pa, pe) per row of C."""
    W = _agreement_weights(q, kind)
    if kind is None:
        num = d.sum_sq - d.m
    else:
        Sd = d.S.toarray()
        num = (Sd * (Sd @ W.T - 1.0)).sum(axis=1)
    per_unit = np.where(d.m >= 2, _div(num, d.m * (d.m - 1)), 0.0)
    pa = _div(C @ per_unit, C @ d.pairable)
    pi = _div(d.mul(C, d.share()), (C @ d.rated)[:, None])
    pe = W.sum() / (q * (q - 1)) * (pi * (1 - pi)).sum(axis=1)
    return _div(pa - pe, 1 - pe), pa, pe


def _k_fleiss(d: _Design, C: np.ndarray) -> np.ndarray:
    """Fleiss' kappa in Gwet's generalised form (equals Fleiss 1971 when no rating is missing)."""
    pa = _k_percent(d, C)
    pi = _div(d.mul(C, d.share()), (C @ d.rated)[:, None])
    pe = (pi**2).sum(axis=1)
    return _div(pa - pe, 1 - pe)


def _k_cohen(d: _Design, C: np.ndarray, K: int, kinds: tuple, cols=(0, 1)) -> dict[str, np.ndarray]:
    """Cohen's kappa between coder columns ``cols`` (two) for each weighting in ``kinds``."""
    sp = _sp()
    c1, c2 = d.pat[:, cols[0]], d.pat[:, cols[1]]
    both = (c1 >= 0) & (c2 >= 0)
    p = np.nonzero(both)[0]
    R = sp.csr_matrix((np.ones(len(p)), (p, c1[both])), shape=(d.P, K))
    Cc = sp.csr_matrix((np.ones(len(p)), (p, c2[both])), shape=(d.P, K))
    n = C @ both.astype(float)
    rows, cols = d.mul(C, R), d.mul(C, Cc)
    out = {}
    for kind in kinds:
        Wd = _disagreement_weights(K, kind)
        per = np.zeros(d.P)
        per[both] = Wd[c1[both], c2[both]]
        observed = C @ per
        expected = _div(((rows @ Wd) * cols).sum(axis=1), n)
        out[kind or "unweighted"] = 1.0 - _div(observed, expected)
    return out


def _ratio_delta(values: np.ndarray) -> np.ndarray:
    s = values[:, None] + values[None, :]
    diff = values[:, None] - values[None, :]
    return np.divide(diff, s, out=np.zeros_like(s), where=s != 0) ** 2


def _k_alpha(d: _Design, C: np.ndarray, level: str, values: np.ndarray | None) -> np.ndarray:
    """Krippendorff's alpha from coincidences: 1 - (n-1) sum o_ck d_ck / sum n_c n_k d_ck."""
    T, lo, hi = d.pairs()
    n = C @ (d.m * d.pairable)
    nc = d.mul(C, d.S_pairable())  # b x V pairable values per category
    O = d.mul(C, T)  # b x G, half the off-diagonal coincidences (named as in the formula)  # noqa: E741
    # sum_ck n_c n_k (x_c - x_k)^2 = 2 n sum_c n_c (x_c - mean)^2: the centred form, free of cancellation
    if level == "nominal":
        do = 2 * O.sum(axis=1)
        de = n**2 - (nc**2).sum(axis=1)
    elif level == "ordinal":
        M = np.cumsum(nc, axis=1) - nc / 2  # ordinal distance d_ck = (M_k - M_c)^2 (Krippendorff 2011)
        do = 2 * (O * (M[:, hi] - M[:, lo]) ** 2).sum(axis=1)
        mean = _div((nc * M).sum(axis=1), n)[:, None]
        de = 2 * n * (nc * (M - mean) ** 2).sum(axis=1)
    elif level == "interval":
        assert values is not None  # the interval and ratio levels come with the codes' values
        do = 2 * O @ ((values[hi] - values[lo]) ** 2)
        mean = _div(nc @ values, n)[:, None]
        de = 2 * n * (nc * (values[None, :] - mean) ** 2).sum(axis=1)
    elif level == "ratio":
        assert values is not None
        delta = ((values[hi] - values[lo]) / np.where(values[hi] + values[lo] != 0, values[hi] + values[lo], 1)) ** 2
        do = 2 * O @ delta
        de = ((nc @ _ratio_delta(values)) * nc).sum(axis=1)
    else:
        raise ValueError(level)
    varied = (nc > 0).sum(axis=1) >= 2  # one value only: alpha is undefined (0/0)
    return np.where(varied, 1.0 - _div((n - 1) * do, de), np.nan)


def _k_icc(d: _Design, C: np.ndarray, values: np.ndarray, cols=None) -> dict[str, np.ndarray]:
    """Shrout & Fleiss (1979) ICCs from two-way ANOVA sums over units complete on coder columns ``cols``."""
    pat = d.pat if cols is None else d.pat[:, cols]
    k = pat.shape[1]
    comp = (pat >= 0).all(axis=1).astype(float)
    x = np.where(pat >= 0, values[np.maximum(pat, 0)], 0.0)
    x = x - (x[comp > 0].mean() if comp.any() else 0.0)
    x = x * comp[:, None]
    rs = x.sum(axis=1)
    n = C @ comp
    s1 = C @ rs
    ss = C @ (x**2).sum(axis=1)
    r2 = C @ rs**2
    colsum = C @ x  # b x k
    N = n * k
    cf = _div(s1**2, N)
    sst = ss - cf
    ssr = r2 / k - cf
    ssc = _div((colsum**2).sum(axis=1), n) - cf
    sse = sst - ssr - ssc
    ssw = sst - ssr
    msr = _div(ssr, n - 1)
    msw = _div(ssw, n * (k - 1))
    msc = _div(ssc, k - 1)
    mse = _div(sse, (n - 1) * (k - 1))
    return {
        "ICC1": _div(msr - msw, msr + (k - 1) * msw),
        "ICC2": _div(msr - mse, msr + (k - 1) * mse + _div(k * (msc - mse), n)),
        "ICC3": _div(msr - mse, msr + (k - 1) * mse),
        "ICC1k": _div(msr - msw, msr),
        "ICC2k": _div(msr - mse, msr + _div(msc - mse, n)),
        "ICC3k": _div(msr - mse, msr),
    }


def percent_agreement(matrix) -> float:
    """Mean over units rated by >= 2 coders of the share of agreeing coder pairs (Gwet 2014).

    With two coders this is the share of units (both coded) with equal values. Values are compared
    exactly. NaN when no unit has two ratings.
    """
    idx, values = _categories(_as_matrix(matrix))
    d = _Design(idx, len(values))
    return float(_k_percent(d, d.w0[None])[0])


def contingency(pair: np.ndarray, n_categories: int) -> np.ndarray:
    """The K x K table of counts of (first coder's position, second coder's position) over the rows
    of ``pair`` (units x 2 integer positions 0..K-1, both coded): the confusion matrix."""
    K = int(n_categories)
    return np.bincount(pair[:, 0] * K + pair[:, 1], minlength=K * K).reshape(K, K)


def cohen_kappa(matrix, n_categories: int, weights: str | None = None) -> float:
    """Cohen's kappa for a units x 2 matrix of positions 0..K-1 (statsmodels), units both coded.

    ``weights`` None, 'linear' or 'quadratic'; weights use positions on the K-category scale (the
    K x K contingency table of :func:`contingency`), so unused categories count as steps. The same
    number as ``sklearn.metrics.cohen_kappa_score(y1, y2, labels=range(K), weights=...)``; tests
    check it. statsmodels is imported for Fleiss' kappa anyway; scikit-learn would add its import.
    """
    from chartcode.agreement.libraries import inter_rater

    cohens_kappa = inter_rater().cohens_kappa
    m = _as_matrix(matrix)
    if m.shape[1] != 2:
        raise ValueError("Cohen's kappa needs exactly two coders")
    both = ~np.isnan(m).any(axis=1)
    if both.sum() == 0 or int(n_categories) < 2:
        return float("nan")
    table = contingency(m[both].astype(np.int64), n_categories)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = float(cohens_kappa(table, wt=weights, return_results=False))
    return k if math.isfinite(k) else float("nan")


def fleiss_kappa(matrix, n_categories: int | None = None) -> tuple[float, str]:
    """Fleiss' kappa for a units x coders matrix of categories: (value, method).

    method 'fleiss': no rating missing, statsmodels ``fleiss_kappa`` on the units x categories
    table of counts (what ``aggregate_raters(idx, n_cat=K)`` returns, counted here in one
    ``np.bincount``: aggregate_raters loops over units in Python, 2.5 s of a million ratings);
    'gwet-generalised': some ratings missing, Gwet's (2014) generalisation (irrCAC
    ``fleiss.kappa.raw``).
    """
    m = _as_matrix(matrix)
    m = m[~np.isnan(m).all(axis=1)]
    if n_categories is not None:
        idx, K = _positions(m, n_categories)
    else:
        idx, values = _categories(m)
        K = len(values)
    if len(m) and not np.isnan(m).any():
        from chartcode.agreement.libraries import inter_rater

        sm_fleiss = inter_rater().fleiss_kappa

        n, r = idx.shape
        table = np.bincount((np.arange(n)[:, None] * K + idx).ravel(), minlength=n * K).reshape(n, K)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = float(sm_fleiss(table, method="fleiss"))
        return (v if math.isfinite(v) else float("nan")), "fleiss"
    d = _Design(idx, K)
    return float(_k_fleiss(d, d.w0[None])[0]), "gwet-generalised"


def gwet_ac(matrix, n_categories: int, weights: str | None = None) -> dict[str, float]:
    """Gwet's AC1 (weights None) or AC2 (weights 'quadratic') with pa and pe.

    ``matrix`` is units x coders of positions 0..K-1; q = ``n_categories`` (the scale's size).
    """
    idx, K = _positions(_as_matrix(matrix), n_categories)
    if K < 2:
        return {"coefficient": float("nan"), "pa": float("nan"), "pe": float("nan")}
    d = _Design(idx, K)
    ac, pa, pe = _k_gwet(d, d.w0[None], K, weights)
    return {"coefficient": float(ac[0]), "pa": float(pa[0]), "pe": float(pe[0])}


def krippendorff_alpha(matrix, level: str = "nominal", values=None) -> float:
    """Krippendorff's alpha, coincidence-matrix form, for a units x coders matrix.

    ``values`` (optional): the numeric value of each category when the matrix holds positions
    0..K-1 (used by interval and ratio); by default the matrix entries are the values.
    Same result as ``krippendorff.alpha(reliability_data=matrix.T, level_of_measurement=level)``.
    """
    m = _as_matrix(matrix)
    if values is None:
        idx, vals = _categories(m)
    else:
        vals = np.asarray(values, dtype=float)
        idx, _ = _positions(m, len(vals))
    d = _Design(idx, len(vals))
    return float(_k_alpha(d, d.w0[None], level, vals)[0])


def icc(matrix) -> dict[str, float]:
    """Shrout & Fleiss ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k for a complete units x coders matrix."""
    m = _as_matrix(matrix)
    if np.isnan(m).any():
        raise ValueError("ICC needs every unit rated by every coder")
    idx, vals = _categories(m)
    d = _Design(idx, len(vals))
    return {k: float(v[0]) for k, v in _k_icc(d, d.w0[None], vals).items()}
