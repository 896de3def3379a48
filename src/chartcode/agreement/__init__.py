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
    between the two codes' POSITIONS on that list: ``sklearn.metrics.cohen_kappa_score(y1, y2,
    labels=[0 .. K-1], weights=...)`` on positions. A choice that no coder used still counts as a
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
                       (scikit-learn ``cohen_kappa_score``, see the scale rule).
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

This module must not import Textual or the CLI.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from dataclasses import dataclass, field as dc_field
from typing import Any

import numpy as np

from chartcode.codebook import Field
from chartcode.errors import UserError

ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")
LEVEL_OF_TYPE = {
    "nominal": "nominal",
    "binary": "nominal",
    "text": "nominal",
    "ordinal": "ordinal",
    "numeric": "interval",
    "date": "interval",
    "count": "ratio",
}
ICC_KEYS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")
NO_UNITS = "no units coded by 2 or more coders"
KAPPA_TYPES = ("nominal", "binary", "ordinal", "text")  # fields with categories
ICC_TYPES = ("numeric", "count")

# krippendorff.alpha builds dense (units x values x values) arrays; above this many cells the
# same coincidence formula is evaluated here instead.
_KRIPP_LIB_CELLS = 5_000_000
# a bootstrap chunk holds about this many float64 cells per (resamples x patterns/values) array
_CHUNK_CELLS = 2_000_000


# ---------------------------------------------------------------------------- labels
LANDIS_KOCH = ((0.0, "poor"), (0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial"),
               (1.0, "almost perfect"))


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


# ---------------------------------------------------------------------------- reading the store
@dataclass
class Ratings:
    """One field's submitted values as a units x coders matrix (NaN = no submitted value).

    Choice fields hold positions on the codebook's choice list (0 .. K-1); count and numeric fields
    their values; date fields day numbers; text fields indices into ``categories``.
    """

    field: Field
    units: list[tuple[str, str]]  # (record_id, note_key); note_key '' for record-level fields
    coders: list[str]
    matrix: np.ndarray
    categories: list[str] = dc_field(default_factory=list)  # text fields only
    unreadable: int = 0  # stored values that no longer fit the field (left out)


def _num(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def encode_value(fld: Field, value: Any) -> float | None:
    """A stored code as the number the agreement matrix holds (None if it does not fit the field).

    Text fields are not encoded here (see :func:`collect`).
    """
    if value is None:
        return None
    if fld.has_choices:
        key = str(_num(value))
        for i, code in enumerate(fld.rating_codes):  # a scale's "cannot rate" is missing, not a category
            if str(code) == key:
                return float(i)
        return None
    if fld.type in ("count", "numeric"):
        try:
            x = float(value)
        except (TypeError, ValueError):
            return None
        return x if math.isfinite(x) else None
    if fld.type == "date":
        try:
            return float(dt.date.fromisoformat(str(value)[:10]).toordinal())
        except ValueError:
            return None
    raise ValueError(f"field type {fld.type!r} is not encoded as a number")


def collect(store, field_name: str | None = None) -> list[Ratings]:
    """Submitted values per codebook field (all fields, or ``field_name``), as :class:`Ratings`.

    Raises UserError naming an unknown field.
    """
    cb = store.codebook
    if field_name is not None:
        fld = cb.get(field_name)
        if fld is None:
            raise UserError(f"unknown field {field_name!r} (codebook {cb.id} has: "
                            f"{', '.join(f.name for f in cb.fields)})")
        fields = [fld]
    else:
        fields = list(cb.fields)
    order = {c["name"]: i for i, c in enumerate(store.coders())}
    import pandas as pd

    from chartcode.dataset import submitted_codes

    # one read of the submitted codes per process, shared with the final values (chartcode.dataset);
    # units are numbered by sorted category codes of record_id and note_key, i.e. in sorted
    # (record_id, note_key) order
    frame = submitted_codes(store)
    rid, nkey = frame["record_id"].cat, frame["note_key"].cat
    n_keys = max(len(nkey.categories), 1)
    unit_key = rid.codes.to_numpy(np.int64) * n_keys + nkey.codes.to_numpy(np.int64)
    field_pos = frame["field"].cat.codes.to_numpy(np.int64)
    by_field = np.argsort(field_pos, kind="stable")  # rowid order within a field
    bounds = np.searchsorted(field_pos[by_field], np.arange(len(frame["field"].cat.categories) + 1))
    field_at = {name: i for i, name in enumerate(frame["field"].cat.categories)}
    rid_names = np.asarray(rid.categories, dtype=object)
    key_names = np.asarray(nkey.categories, dtype=object)
    coder_names = np.asarray(frame["coder"].cat.categories, dtype=object)
    coder_pos = frame["coder"].cat.codes.to_numpy(np.int64)
    values = frame["value"].to_numpy()
    out = []
    for fld in fields:
        i = field_at.get(fld.name)
        rows = by_field[bounds[i]:bounds[i + 1]] if i is not None else np.zeros(0, dtype=np.int64)
        present = np.unique(coder_pos[rows])
        coders = sorted(coder_names[present].tolist(), key=lambda c: (order.get(c, len(order)), c))
        ukeys, u = np.unique(unit_key[rows], return_inverse=True)
        units = list(zip(rid_names[ukeys // n_keys].tolist(), key_names[ukeys % n_keys].tolist()))
        matrix = np.full((len(units), len(coders)), np.nan)
        categories: list[str] = []
        unreadable = 0
        if len(rows):
            u = u.ravel()
            c = pd.Index(coders).get_indexer(coder_names)[coder_pos[rows]]
            g = pd.Series(values[rows], dtype=object)
            if fld.type == "text":
                text = g.map(str)
                categories = sorted(set(text))
                x = text.map({k: float(i) for i, k in enumerate(categories)}).to_numpy(dtype=float)
            elif fld.has_choices:  # positions on the codebook's list (3 and 3.0 are the same key)
                x = g.map({code: float(i) for i, code in enumerate(fld.rating_codes)}).to_numpy(dtype=float)
            elif fld.type in ("count", "numeric"):
                x = np.array(pd.to_numeric(g, errors="coerce"), dtype=float)  # a copy: pandas' may be read-only
                x[~np.isfinite(x)] = np.nan
            else:  # dates: few, per value
                x = np.array([np.nan if (e := encode_value(fld, v)) is None else e for v in g], dtype=float)
            ok = ~np.isnan(x)
            unreadable = int((~ok).sum())
            if fld.missing_codes:  # a scale's "cannot rate" is a missing rating, not an unreadable one
                unreadable -= int(g.isin(fld.missing_codes).sum())
            matrix[u[ok], c[ok]] = x[ok]
        out.append(Ratings(fld, units, coders, matrix, categories, unreadable))
    return out


# ---------------------------------------------------------------------------- patterns
def _sp():
    import scipy.sparse as sp

    return sp


class _Design:
    """Units grouped by their row of category indices (a pattern), with pattern-level sums.

    ``idx`` is units x coders, category index 0..V-1 or -1 for missing. Every statistic is a
    function of a weight vector over patterns: the observed counts ``w0`` for the estimate, the
    resampled counts for a bootstrap replicate.
    """

    def __init__(self, idx: np.ndarray, n_values: int):
        sp = _sp()
        idx = np.asarray(idx, dtype=np.int64)
        n_units, r = idx.shape
        self.n_units, self.r, self.V = n_units, r, int(n_values)
        base = self.V + 1
        if r * math.log2(base) < 62:
            key = ((idx + 1) * (base ** np.arange(r, dtype=np.int64))[None, :]).sum(axis=1)
            _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
            pat = idx[first]
        else:
            pat, inverse, counts = np.unique(idx, axis=0, return_inverse=True, return_counts=True)
        self.pat = pat
        self.inverse = inverse.ravel()
        self.w0 = counts.astype(float)
        self.P = len(pat)
        present = pat >= 0
        self.m = present.sum(axis=1).astype(float)
        self.rated = (self.m >= 1).astype(float)
        self.pairable = (self.m >= 2).astype(float)
        rows = np.repeat(np.arange(self.P), r)[present.ravel()]
        cols = pat[present]
        S = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(self.P, self.V))
        S.sum_duplicates()
        self.S = S
        self.sum_sq = np.asarray(S.multiply(S).sum(axis=1)).ravel()  # sum_k n_pk^2
        self._cache: dict[str, Any] = {}

    # -- helpers
    @staticmethod
    def mul(C: np.ndarray, M) -> np.ndarray:
        """C (b x P) times a sparse P x X matrix -> dense b x X."""
        return np.asarray((M.T @ C.T).T)

    def S_pairable(self):
        if "S2" not in self._cache:
            self._cache["S2"] = _sp().diags(self.pairable) @ self.S
        return self._cache["S2"]

    def share(self):
        """Per pattern r_pk / r_p (rows of patterns with no rating are zero)."""
        if "share" not in self._cache:
            inv_m = np.divide(1.0, self.m, out=np.zeros_like(self.m), where=self.m > 0)
            self._cache["share"] = (_sp().diags(inv_m) @ self.S).tocsr()
        return self._cache["share"]

    def pairs(self):
        """Unordered value pairs (lo < hi) met within units: sparse P x G weights 1/(m-1), lo, hi."""
        if "pairs" not in self._cache:
            sp = _sp()
            ps, gs, ws = [], [], []
            inv = np.divide(1.0, self.m - 1, out=np.zeros_like(self.m), where=self.m >= 2)
            for a in range(self.r):
                for b in range(a + 1, self.r):
                    c, k = self.pat[:, a], self.pat[:, b]
                    ok = (c >= 0) & (k >= 0) & (c != k)
                    p = np.nonzero(ok)[0]
                    lo, hi = np.minimum(c[ok], k[ok]), np.maximum(c[ok], k[ok])
                    ps.append(p)
                    gs.append(lo * self.V + hi)
                    ws.append(inv[p])
            p = np.concatenate(ps) if ps else np.zeros(0, np.int64)
            g = np.concatenate(gs) if gs else np.zeros(0, np.int64)
            w = np.concatenate(ws) if ws else np.zeros(0)
            uniq, gi = np.unique(g, return_inverse=True)
            T = sp.csr_matrix((w, (p, gi.ravel())), shape=(self.P, len(uniq)))
            T.sum_duplicates()
            self._cache["pairs"] = (T, uniq // self.V, uniq % self.V)
        return self._cache["pairs"]

    # -- bootstrap
    def resamples(self, B: int, rng: np.random.Generator, width: int):
        """Yield chunks (b x P) of bootstrap pattern counts, B rows in all."""
        n, P = self.n_units, self.P
        chunk = max(1, min(B, _CHUNK_CELLS // max(P, width, 1)))
        if P * 8 <= n:  # few patterns: draw the counts directly
            p = self.w0 / n
            done = 0
            while done < B:
                b = min(chunk, B - done)
                yield rng.multinomial(n, p, size=b).astype(float)
                done += b
            return
        chunk = max(1, min(chunk, _CHUNK_CELLS // max(n, 1)))
        done = 0
        while done < B:
            b = min(chunk, B - done)
            units = rng.integers(0, n, size=(b, n))
            flat = (np.arange(b)[:, None] * P + self.inverse[units]).ravel()
            yield np.bincount(flat, minlength=b * P).reshape(b, P).astype(float)
            done += b


def _div(a, b):
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b
    return np.where(np.isfinite(out), out, np.nan)


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
        return diff ** 2
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
    pe = (pi ** 2).sum(axis=1)
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
    O = d.mul(C, T)  # b x G, half the off-diagonal coincidences
    # sum_ck n_c n_k (x_c - x_k)^2 = 2 n sum_c n_c (x_c - mean)^2: the centred form, free of cancellation
    if level == "nominal":
        do = 2 * O.sum(axis=1)
        de = n ** 2 - (nc ** 2).sum(axis=1)
    elif level == "ordinal":
        M = np.cumsum(nc, axis=1) - nc / 2  # ordinal distance d_ck = (M_k - M_c)^2 (Krippendorff 2011)
        do = 2 * (O * (M[:, hi] - M[:, lo]) ** 2).sum(axis=1)
        mean = _div((nc * M).sum(axis=1), n)[:, None]
        de = 2 * n * (nc * (M - mean) ** 2).sum(axis=1)
    elif level == "interval":
        do = 2 * O @ ((values[hi] - values[lo]) ** 2)
        mean = _div(nc @ values, n)[:, None]
        de = 2 * n * (nc * (values[None, :] - mean) ** 2).sum(axis=1)
    elif level == "ratio":
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
    ss = C @ (x ** 2).sum(axis=1)
    r2 = C @ rs ** 2
    colsum = C @ x  # b x k
    N = n * k
    cf = _div(s1 ** 2, N)
    sst = ss - cf
    ssr = r2 / k - cf
    ssc = _div((colsum ** 2).sum(axis=1), n) - cf
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


# ---------------------------------------------------------------------------- pure functions
def _as_matrix(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError("expected a units x coders matrix")
    return m


def _categories(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(category index matrix with -1 for missing, sorted distinct values)."""
    ok = ~np.isnan(matrix)
    values = np.unique(matrix[ok])
    idx = np.full(matrix.shape, -1, dtype=np.int64)
    idx[ok] = np.searchsorted(values, matrix[ok])
    return idx, values


def _positions(matrix: np.ndarray, n_categories: int | None) -> tuple[np.ndarray, int]:
    ok = ~np.isnan(matrix)
    vals = matrix[ok]
    if vals.size and (np.any(vals < 0) or np.any(vals != np.round(vals))):
        raise ValueError("categorical matrices hold positions 0 .. K-1")
    K = int(n_categories) if n_categories is not None else (int(vals.max()) + 1 if vals.size else 0)
    if vals.size and vals.max() >= K:
        raise ValueError(f"a position is outside 0 .. {K - 1}")
    idx = np.full(matrix.shape, -1, dtype=np.int64)
    idx[ok] = vals.astype(np.int64)
    return idx, K


def percent_agreement(matrix) -> float:
    """Mean over units rated by >= 2 coders of the share of agreeing coder pairs (Gwet 2014).

    With two coders this is the share of units (both coded) with equal values. Values are compared
    exactly. NaN when no unit has two ratings.
    """
    idx, values = _categories(_as_matrix(matrix))
    d = _Design(idx, len(values))
    return float(_k_percent(d, d.w0[None])[0])


def cohen_kappa(matrix, n_categories: int, weights: str | None = None) -> float:
    """Cohen's kappa for a units x 2 matrix of positions 0..K-1 (scikit-learn), units both coded.

    ``weights`` None, 'linear' or 'quadratic'; weights use positions on the K-category scale
    (``labels=range(K)``), so unused categories count as steps.
    """
    from sklearn.metrics import cohen_kappa_score

    m = _as_matrix(matrix)
    if m.shape[1] != 2:
        raise ValueError("Cohen's kappa needs exactly two coders")
    both = ~np.isnan(m).any(axis=1)
    if both.sum() == 0:
        return float("nan")
    y1, y2 = m[both, 0].astype(int), m[both, 1].astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            k = cohen_kappa_score(y1, y2, labels=list(range(int(n_categories))), weights=weights)
    return float(k) if np.isfinite(k) else float("nan")


def fleiss_kappa(matrix, n_categories: int | None = None) -> tuple[float, str]:
    """Fleiss' kappa for a units x coders matrix of categories: (value, method).

    method 'fleiss': no rating missing, statsmodels ``fleiss_kappa(aggregate_raters(...))``;
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
        from statsmodels.stats.inter_rater import aggregate_raters
        from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

        table, _ = aggregate_raters(idx, n_cat=K)
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


# ---------------------------------------------------------------------------- one field
def _clean(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _empty_result(fld: Field) -> dict[str, Any]:
    return {
        "field": fld.name,
        "level": LEVEL_OF_TYPE[fld.type],
        "n_units": 0,
        "n_coders": 0,
        "percent_agreement": None,
        "cohen_kappa": None,
        "cohen_kappa_linear": None,
        "cohen_kappa_quadratic": None,
        "fleiss_kappa": None,
        "krippendorff_alpha": None,
        "alpha_by_level": {lv: None for lv in ALPHA_LEVELS},
        "gwet_ac1": None,
        "gwet_ac2_quadratic": None,
        "icc": None,
        "ci": {},
        "notes": [],
    }


@dataclass
class _Scale:
    idx: np.ndarray
    K: int
    values: np.ndarray | None  # numeric value per category (interval, ratio, ICC)
    levels: list[str]
    labels: list[str] | None  # shown in a confusion matrix
    notes: list[str]


def _fmt_codes(codes) -> str:
    return ", ".join(str(c) for c in codes)


def _scale(fld: Field, m: np.ndarray) -> _Scale:
    notes: list[str] = []
    if fld.has_choices:
        idx, K = _positions(m, len(fld.rating_codes))
        codes = list(fld.rating_codes)
        used = set(np.unique(idx[idx >= 0]).tolist())
        unused = [codes[i] for i in range(K) if i not in used]
        levels = ["nominal"]
        values = None
        labels = [str(c) for c in codes]
        if fld.type == "ordinal":
            levels.append("ordinal")
            notes.append(f"scale: the codebook's {K} choices in order ({_fmt_codes(codes)}); weighted kappa and AC2"
                         " weigh by position on this list (sklearn labels = codebook order), not by the categories"
                         " observed")
            if unused:
                notes.append(f"choices no coder used: {_fmt_codes(unused)} (they still count as steps on the scale;"
                             " R irr and sklearn's default, which drop them, would give other weighted values)")
            if all(isinstance(c, int) for c in codes) and all(a < b for a, b in zip(codes, codes[1:])):
                values = np.array(codes, dtype=float)
                levels.append("interval")
                if values.min() >= 0:
                    levels.append("ratio")
                else:
                    notes.append("ratio alpha: not computed, the codes include negative numbers")
            else:
                notes.append("interval and ratio alpha: not computed, the codes are not whole numbers increasing"
                             " in codebook order")
        elif unused and fld.type != "binary":
            notes.append(f"choices no coder used: {_fmt_codes(unused)}")
        return _Scale(idx, K, values, levels, labels, notes)
    if fld.type == "text":
        idx, K = _positions(m, None)
        notes.append(f"text values compared exactly as nominal categories ({K} distinct values)")
        return _Scale(idx, K, None, ["nominal"], None, notes)
    idx, values = _categories(m)
    levels = ["nominal", "ordinal", "interval"]
    if fld.type == "count":
        levels.append("ratio")
    elif fld.type == "date":
        notes.append("dates read as day numbers (interval level); ratio alpha not computed")
    else:
        notes.append("numeric values read at the interval level (no true zero assumed); ratio alpha not computed")
    return _Scale(idx, len(values), values, levels, None, notes)


def field_agreement(fld: Field, matrix, coders, *, bootstrap: int = 0, seed: int | None = None,
                    ci: float = 0.95, confusion: bool = False, unreadable: int = 0) -> dict[str, Any]:
    """Agreement for one field from its units x coders matrix (see :class:`Ratings` for encoding).

    Returns the JSON shape documented in the module (plus ``confusion`` when asked for and there are
    two coders on a field with choices).
    """
    out = _empty_result(fld)
    notes = out["notes"]
    m = _as_matrix(matrix)
    coders = list(coders)
    if m.shape[1] != len(coders):
        raise ValueError("one column per coder")
    if unreadable:
        notes.append(f"{unreadable} stored value(s) no longer fit the field's codebook definition and were left out")
    m = m[~np.isnan(m).all(axis=1)]
    per_unit = (~np.isnan(m)).sum(axis=1)
    n_units = int((per_unit >= 2).sum())
    out["n_units"] = n_units
    if n_units == 0:
        notes.append(NO_UNITS)
        return out
    # coders who take part: a value on a unit coded by 2 or more coders. Coders who only coded units
    # nobody else coded stay in the matrix (for Gwet's chance agreement) but are not counted.
    paired = (~np.isnan(m[per_unit >= 2])).any(axis=0)
    rated = (~np.isnan(m)).any(axis=0)
    keep = rated
    m, coders, paired = m[:, keep], [c for c, k in zip(coders, keep) if k], paired[keep]
    cols = np.nonzero(paired)[0]
    r = len(cols)
    out["n_coders"] = r
    single = int((per_unit == 1).sum())
    if single:
        notes.append(f"{single} unit(s) coded by one coder only: left out of every coefficient except the"
                     " chance-agreement term of Gwet's AC1/AC2 and the generalised Fleiss kappa (Gwet 2014)")
    if len(coders) > r:
        notes.append(f"{len(coders) - r} coder(s) coded only units nobody else coded; not counted in n_coders")
    scale = _scale(fld, m)
    notes.extend(scale.notes)
    d = _Design(scale.idx, scale.K)
    complete = bool((per_unit == len(coders)).all())
    categorical = fld.type in KAPPA_TYPES
    kernels: list = []  # callables C -> dict name -> array

    kernels.append(lambda C: {"percent_agreement": _k_percent(d, C)})

    cohen_kinds: tuple = ()
    if categorical and r == 2:
        cohen_kinds = (None, "linear", "quadratic") if fld.type == "ordinal" else (None,)
        names = {None: "cohen_kappa", "linear": "cohen_kappa_linear", "quadratic": "cohen_kappa_quadratic"}
        kernels.append(lambda C: {names[k]: v for k, v in
                                  zip(cohen_kinds, _k_cohen(d, C, scale.K, cohen_kinds, cols).values())})
    elif categorical:
        notes.append(f"Cohen's kappa: for exactly two coders (this field has {r}); see Fleiss' kappa,"
                     " Krippendorff's alpha and Gwet's AC1")
    fleiss_method = None
    if categorical:
        kernels.append(lambda C: {"fleiss_kappa": _k_fleiss(d, C)})
        fleiss_method = "fleiss" if complete else "gwet-generalised"
        if not complete:
            notes.append("Fleiss' kappa: in Gwet's (2014) generalised form for missing ratings (irrCAC"
                         " fleiss.kappa.raw), since not every unit was rated by every coder")
        if scale.K >= 2:
            def gwet(C):
                res = {"gwet_ac1": _k_gwet(d, C, scale.K, None)[0]}
                if fld.type == "ordinal":
                    res["gwet_ac2_quadratic"] = _k_gwet(d, C, scale.K, "quadratic")[0]
                return res
            kernels.append(gwet)
        else:
            notes.append("Gwet's AC1: undefined with fewer than two categories on the scale")
    else:
        notes.append(f"Cohen's and Fleiss' kappa and Gwet's AC1/AC2: for fields with categories; this {fld.type}"
                     " field is measured by Krippendorff's alpha" + (" and the ICC" if fld.type in ICC_TYPES else ""))

    for lv in scale.levels:
        kernels.append(lambda C, lv=lv: {f"alpha_by_level.{lv}": _k_alpha(d, C, lv, scale.values)})

    icc_on = False
    if fld.type in ICC_TYPES:
        pairable_units = per_unit[per_unit >= 2]
        if r < 2 or (pairable_units < r).any():
            notes.append(f"ICC: needs every unit coded by 2 or more coders to be coded by all {r} coders;"
                         f" {(pairable_units < r).sum()} unit(s) are not")
        elif n_units < 2:
            notes.append("ICC: needs at least two units")
        else:
            icc_on = True
            kernels.append(lambda C: {f"icc.{k}": v for k, v in _k_icc(d, C, scale.values, cols).items()})
            notes.append("ICC: Shrout & Fleiss (1979) forms; ICC1 one-way random, ICC2 two-way random absolute"
                         " agreement, ICC3 two-way mixed consistency; k forms = mean of the coders")

    def run(C: np.ndarray) -> dict[str, np.ndarray]:
        res: dict[str, np.ndarray] = {}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for kern in kernels:
                res.update(kern(C))
        return res

    point = {k: float(v[0]) for k, v in run(d.w0[None]).items()}

    # library point estimates where the issue asks for them (the kernels agree; tests check it)
    if cohen_kinds:
        for kind in cohen_kinds:
            name = {None: "cohen_kappa", "linear": "cohen_kappa_linear", "quadratic": "cohen_kappa_quadratic"}[kind]
            point[name] = cohen_kappa(np.where(scale.idx >= 0, scale.idx, np.nan)[:, cols], scale.K, kind)
    if fleiss_method == "fleiss":
        point["fleiss_kappa"] = fleiss_kappa(np.where(scale.idx >= 0, scale.idx, np.nan), scale.K)[0]
    if m.shape[0] * scale.K * scale.K <= _KRIPP_LIB_CELLS:
        import krippendorff

        rel = np.where(scale.idx >= 0, scale.idx, np.nan).T  # coders as rows
        for lv in scale.levels:
            if lv in ("interval", "ratio"):
                data = np.where(np.isnan(rel), np.nan, scale.values[np.nan_to_num(rel, nan=0).astype(int)])
                domain = scale.values
            else:
                data, domain = rel, np.arange(scale.K, dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                try:
                    point[f"alpha_by_level.{lv}"] = float(krippendorff.alpha(
                        reliability_data=data, value_domain=domain, level_of_measurement=lv))
                except ValueError:  # the package refuses a single value; the formula says undefined
                    point[f"alpha_by_level.{lv}"] = float("nan")

    # fill the result
    def put(name: str, value: float) -> None:
        v = _clean(value)
        if name.startswith("alpha_by_level."):
            out["alpha_by_level"][name.split(".", 1)[1]] = v
        elif name.startswith("icc."):
            out["icc"][name.split(".", 1)[1]] = v
        else:
            out[name] = v

    if icc_on:
        out["icc"] = {k: None for k in ICC_KEYS}
    for name, value in point.items():
        put(name, value)
    out["krippendorff_alpha"] = out["alpha_by_level"][out["level"]]

    undefined = [name for name, v in point.items() if _clean(v) is None]
    if undefined:
        distinct = len(np.unique(scale.idx[scale.idx >= 0]))
        why = "every submitted value is the same" if distinct <= 1 else "no variation for them to correct for"
        notes.append(f"undefined for these data, {why}: {', '.join(_pretty(n) for n in undefined)}")

    # bootstrap
    if bootstrap and bootstrap > 0:
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 32))
        rng = np.random.default_rng([int(seed) % (2 ** 63), zlib.crc32(fld.name.encode("utf-8"))])
        defined = [k for k, v in point.items() if _clean(v) is not None]
        draws: dict[str, list[np.ndarray]] = {k: [] for k in defined}
        width = max(d.V, len(d.pairs()[1]) if defined else 0)
        for C in d.resamples(int(bootstrap), rng, width):
            res = run(C)
            for k in defined:
                draws[k].append(res[k])
        lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
        worst = 0
        for k in defined:
            arr = np.concatenate(draws[k])
            ok = np.isfinite(arr)
            worst = max(worst, int((~ok).sum()))
            if ok.sum() == 0:
                continue
            lo, hi = np.quantile(arr[ok], [lo_q, hi_q])
            out["ci"][k] = [float(lo), float(hi)]
        if out["level"] and f"alpha_by_level.{out['level']}" in out["ci"]:
            out["ci"]["krippendorff_alpha"] = out["ci"][f"alpha_by_level.{out['level']}"]
        notes.append(f"ci: {ci:g} percentile bootstrap intervals, {int(bootstrap)} resamples of the"
                     f" {m.shape[0]} units, seed {seed}")
        if worst:
            notes.append(f"ci: up to {worst} of {int(bootstrap)} resamples left a coefficient undefined;"
                         " its interval uses the rest")

    if confusion and r == 2 and fld.has_choices and scale.K <= 30:
        from sklearn.metrics import confusion_matrix

        pair = scale.idx[:, cols]
        both = (pair >= 0).all(axis=1)
        cm = confusion_matrix(pair[both, 0], pair[both, 1], labels=list(range(scale.K)))
        out["confusion"] = {"rows": coders[cols[0]], "columns": coders[cols[1]], "labels": scale.labels,
                            "matrix": cm.astype(int).tolist()}
    return out


_PRETTY = {
    "percent_agreement": "percent agreement",
    "cohen_kappa": "Cohen's kappa",
    "cohen_kappa_linear": "Cohen's kappa (linear weights)",
    "cohen_kappa_quadratic": "Cohen's kappa (quadratic weights)",
    "fleiss_kappa": "Fleiss' kappa",
    "gwet_ac1": "Gwet's AC1",
    "gwet_ac2_quadratic": "Gwet's AC2 (quadratic weights)",
}


def _pretty(name: str) -> str:
    if name.startswith("alpha_by_level."):
        return f"Krippendorff's alpha ({name.split('.', 1)[1]})"
    if name.startswith("icc."):
        return name.split(".", 1)[1]
    return _PRETTY.get(name, name)


# ---------------------------------------------------------------------------- the report
def agreement_report(store, field: str | None = None, bootstrap: int = 0, seed: int | None = None,
                     ci: float = 0.95, confusion: bool = False) -> dict[str, Any]:
    """``{"fields": [...]}``: :func:`field_agreement` for every codebook field (or ``field``)."""
    if not 0 < ci < 1:
        raise UserError(f"--ci {ci}: the interval level must be between 0 and 1, e.g. 0.95")
    if bootstrap < 0:
        raise UserError("--bootstrap must be 0 or more")
    if bootstrap and seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 32))
    fields = []
    for rt in collect(store, field):
        fields.append(field_agreement(rt.field, rt.matrix, rt.coders, bootstrap=bootstrap, seed=seed, ci=ci,
                                      confusion=confusion, unreadable=rt.unreadable))
    return {"fields": fields}
