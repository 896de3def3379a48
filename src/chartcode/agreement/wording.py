"""Plain words around agreement results, shared by `chartcode agreement` and the report.

    kappa_words(value, n_units)   Landis & Koch's word, with a caution below SMALL_SAMPLE units
    interval_notes(result)        why an interval such as [1.000, 1.000] has no width

Landis & Koch (1977) proposed their benchmarks ("substantial" for 0.61-0.80 ...) as a
convention for large samples; on a handful of units a kappa moves a whole band when one unit
changes (on 6 units one disagreement in a 2 x 2 table takes kappa from 1.0 to about 0.67), so
the word carries a caution below 10 units. A percentile bootstrap interval has no width when
every resample gives the same value -- always so when every unit agrees -- which says the
sample has no disagreement to resample, not that agreement is certain.
"""

from __future__ import annotations

import math
from typing import Any

from chartcode.agreement.registry import landis_koch, table_rows

SMALL_SAMPLE = 10


def kappa_words(value: float | None, n_units: int) -> str:
    """ "substantial (Landis & Koch convention)", with a caution when fewer than SMALL_SAMPLE units."""
    word = landis_koch(value)
    if not word:
        return ""
    text = f"{word} (Landis & Koch convention)"
    if n_units < SMALL_SAMPLE:
        text += f"; {n_units} unit{'s' if n_units != 1 else ''}: read with caution"
    return text


def small_sample_note(result: dict[str, Any]) -> str | None:
    n = int(result.get("n_units") or 0)
    if not 0 < n < SMALL_SAMPLE:
        return None
    return (
        f"{n} unit{'s' if n != 1 else ''} coded by two or more coders: Landis & Koch's words are a convention for "
        f"larger samples (one unit more or less can move a coefficient across a band); read with caution below "
        f"{SMALL_SAMPLE} units"
    )


def degenerate(interval: Any) -> bool:
    """An interval [lo, hi] with no width."""
    if not interval or interval[0] is None or interval[1] is None:
        return False
    lo, hi = float(interval[0]), float(interval[1])
    return math.isfinite(lo) and math.isfinite(hi) and abs(hi - lo) < 1e-12


def interval_notes(result: dict[str, Any]) -> list[str]:
    """One note per field explaining its intervals of no width (none when there are none)."""
    ci = result.get("ci") or {}
    flat = [(label, ci[c.key]) for c, label, _ in table_rows(result) if degenerate(ci.get(c.key))]
    if not flat:
        return []
    n = int(result.get("n_units") or 0)
    widths = {(round(lo, 3), round(hi, 3)) for _, (lo, hi) in flat}
    if len(widths) == 1:
        lo, hi = widths.pop()
        shown = f"[{lo:.3f}, {hi:.3f}] ({', '.join(label for label, _ in flat)})"
    else:
        shown = "; ".join(f"{label} [{lo:.3f}, {hi:.3f}]" for label, (lo, hi) in flat)
    if result.get("percent_agreement") == 1.0:
        why = (
            f"all {n} units agree, so every bootstrap resample agrees too: the interval is degenerate "
            "(it shows no disagreement to resample, not certainty)"
        )
    else:
        why = (
            f"every bootstrap resample of the {n} units gave the same value (too few units or distinct "
            "patterns of codes to vary): the interval is degenerate"
        )
    return [f"{shown}: {why}"]
