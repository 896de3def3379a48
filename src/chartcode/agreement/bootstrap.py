"""Bootstrap intervals: units resampled as pattern counts, every coefficient on all resamples at once.

Every statistic is a function of how often each distinct row of codes (a pattern) occurs, so a
resample is drawn as pattern counts -- Multinomial(n, observed pattern shares) when there are few
patterns, else by drawing unit indices -- which is the same distribution as drawing units. The
random stream is seeded from (seed, field name): the same seed gives the same intervals, also for
a single ``--field``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

import numpy as np

from chartcode.agreement.design import _Design

# a bootstrap chunk holds about this many float64 cells per (resamples x patterns/values) array
_CHUNK_CELLS = 2_000_000


def new_seed() -> int:
    """A fresh seed (said in the notes, so the intervals can be repeated)."""
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)  # drawn from the OS when none is given
    return int(entropy % (2**32))


def field_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of one field: from (seed, field name)."""
    return np.random.default_rng([int(seed) % (2**63), zlib.crc32(name.encode("utf-8"))])


def resamples(d: _Design, B: int, rng: np.random.Generator, width: int) -> Iterator[np.ndarray]:
    """Yield chunks (b x P) of bootstrap pattern counts, B rows in all."""
    n, P = d.n_units, d.P
    chunk = max(1, min(B, _CHUNK_CELLS // max(P, width, 1)))
    if n >= P * 8:  # few patterns: draw the counts directly
        p = d.w0 / n
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
        flat = (np.arange(b)[:, None] * P + d.inverse[units]).ravel()
        yield np.bincount(flat, minlength=b * P).reshape(b, P).astype(float)
        done += b


def percentile_intervals(
    d: _Design,
    run: Callable[[np.ndarray], dict[str, np.ndarray]],
    keys: list[str],
    B: int,
    rng: np.random.Generator,
    ci: float,
) -> tuple[dict[str, list[float]], int]:
    """Percentile intervals of ``run``'s coefficients ``keys`` over B resamples of units.

    Returns ({key: [low, high]} for the keys defined on some resample, the largest number of
    resamples on which one coefficient was undefined).
    """
    draws: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    width = max(d.V, len(d.pairs()[1]) if keys else 0)
    for C in resamples(d, int(B), rng, width):
        res = run(C)
        for k in keys:
            draws[k].append(res[k])
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    worst = 0
    out: dict[str, list[float]] = {}
    for k in keys:
        arr = np.concatenate(draws[k])
        ok = np.isfinite(arr)
        worst = max(worst, int((~ok).sum()))
        if ok.sum() == 0:
            continue
        lo, hi = np.quantile(arr[ok], [lo_q, hi_q])
        out[k] = [float(lo), float(hi)]
    return out, worst
