"""Units grouped into patterns (distinct rows of category indices), the form every coefficient
is computed from; and the matrix helpers that turn a units x coders matrix into category indices."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


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


def _div(a, b):
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a / b
    return np.where(np.isfinite(out), out, np.nan)


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
