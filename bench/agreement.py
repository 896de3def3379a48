"""Benchmark: agreement with a 1,000-resample bootstrap on 1,000,000 ratings.

    python bench/agreement.py [--units 50000] [--bootstrap 1000] [--seed 1]

Builds 2 coders x 50,000 units x 10 fields directly as arrays (not through the database) --
a chart-review mix: nominal (6, 4 and 5 categories), two binary, ordinal (5 categories; 7
categories coded -3..3), two counts (sessions 0..30, days 0..365) and a numeric field with one
decimal (weight 40-150 kg, ~1,100 distinct values) -- with about 80 % exact agreement, and runs
``chartcode.agreement.field_agreement`` on every field with the bootstrap. Prints one JSON line:

  ratings                     coder x unit x field values (2 x 50,000 x 10)
  seconds                     wall time of the 10 field_agreement calls, every coefficient and
                              its percentile interval from 1,000 resamples (target < 5 s). The
                              one-off import of numpy/scipy/scikit-learn/statsmodels/krippendorff
                              happens before the clock starts.
  peak_rss_mb                 peak resident memory of this process
  krippendorff_alpha_alone_s  one krippendorff.alpha (the package) call per field with
                              categories (7 fields, at the field's level, all 50,000 units), summed:
                              one non-bootstrapped library pass. A naive bootstrap would make about
                              1,001 such passes per level; the fields with many distinct values
                              (counts, numeric) do not fit the package's dense
                              units x values x values arrays at all.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from chartcode.codebook.model import Choice, Field  # noqa: E402


def _choices(codes):
    return tuple(Choice(c, str(c)) for c in codes)


def fields() -> list[Field]:
    def f(name, type_, codes=()):
        return Field(name=name, label=name, level="record", type=type_, choices=_choices(codes))

    return [
        f("session_content", "nominal", range(1, 7)),
        f("psychoeducation", "binary", (0, 1)),
        f("functional_assessment", "binary", (0, 1)),
        f("follow_up", "nominal", range(1, 5)),
        f("severity", "ordinal", range(1, 6)),
        f("pain_change", "ordinal", range(-3, 4)),
        f("termination", "nominal", range(1, 6)),
        f("sessions", "count"),
        f("days_to_follow_up", "count"),
        f("weight_kg", "numeric"),
    ]


def ratings(fld: Field, n_units: int, rng: np.random.Generator) -> np.ndarray:
    """units x 2 coders, in the agreement module's encoding (positions for choices, values else)."""
    agree = rng.random(n_units) < 0.8
    if fld.has_choices:
        k = len(fld.choices)
        p = rng.dirichlet(np.ones(k) * 2)
        a = rng.choice(k, n_units, p=p)
        if fld.type == "ordinal":
            b = np.clip(a + rng.choice([-1, 1], n_units), 0, k - 1)
        else:
            b = rng.choice(k, n_units, p=p)
    elif fld.name == "sessions":
        a = rng.poisson(6, n_units).clip(0, 30)
        b = (a + rng.choice([-2, -1, 1, 2], n_units)).clip(0, 30)
    elif fld.name == "days_to_follow_up":
        a = rng.gamma(2, 40, n_units).round().clip(0, 365)
        b = (a + rng.normal(0, 10, n_units).round()).clip(0, 365)
    else:
        a = rng.normal(85, 15, n_units).clip(40, 150).round(1)
        b = (a + rng.normal(0, 1.5, n_units)).clip(40, 150).round(1)
    return np.stack([a, np.where(agree, a, b)], axis=1).astype(float)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=50_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    # the one-off imports, outside the clock
    import krippendorff
    import scipy.sparse  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import statsmodels.stats.inter_rater  # noqa: F401

    from chartcode.agreement import LEVEL_OF_TYPE, field_agreement

    rng = np.random.default_rng(20240601)
    data = [(fld, ratings(fld, args.units, rng)) for fld in fields()]
    n_ratings = int(sum(np.isfinite(m).sum() for _, m in data))

    t0 = time.perf_counter()
    results = [
        field_agreement(fld, m, ["coder_a", "coder_b"], bootstrap=args.bootstrap, seed=args.seed) for fld, m in data
    ]
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert all(len(r["ci"]) >= 3 for r in results), "every field should have intervals"

    t0 = time.perf_counter()
    for fld, m in data:
        if fld.has_choices:
            krippendorff.alpha(
                reliability_data=m.T,
                value_domain=np.arange(len(fld.choices), dtype=float),
                level_of_measurement=LEVEL_OF_TYPE[fld.type],
            )
    alone = time.perf_counter() - t0

    print(
        json.dumps(
            {
                "ratings": n_ratings,
                "seconds": round(seconds, 3),
                "peak_rss_mb": round(peak, 1),
                "krippendorff_alpha_alone_s": round(alone, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
