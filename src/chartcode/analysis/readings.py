"""Plain-language readings of analysis results (one line per term or test), for the CLI and reports."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    if p < 0.001:
        return "< .001"
    text = f"{p:.2f}" if p >= 0.01 else f"{p:.3f}"
    return "= " + (text[1:] if text.startswith("0") else text)


def _ci_pct(ci: float) -> str:
    return f"{ci * 100:g}%"


def _verdict(p: float | None, ci: float) -> str:
    if p is None:
        return "no test"
    alpha = 1 - ci
    return f"statistically significant at the {alpha * 100:g}% level" if p < alpha else "no evidence of an association"


def reading(result: dict[str, Any]) -> list[str]:
    kind, st, ci = result["kind"], result["stats"], result["stats"].get("ci", 0.95)
    out = []
    if kind in ("linear", "logistic"):
        y = result["spec"].split("~")[0].strip()
        for t in result["terms"]:
            if t["term"] == "Intercept":
                continue
            who = t.get("label") or t["term"]
            if who.startswith("each "):
                who = "E" + who[1:]
            if kind == "logistic":
                out.append(
                    f"{who}: OR {_f(t['odds_ratio'])} ({_ci_pct(ci)} CI {_f(t['or_ci_low'])} to "
                    f"{_f(t['or_ci_high'])}), p {_p(t['p'])} -- {_verdict(t['p'], ci)}"
                    + (" (Firth estimate)" if st.get("method") == "firth" else "")
                )
            else:
                out.append(
                    f"{who}: {y} changes by {_f(t['coef'])} ({_ci_pct(ci)} CI {_f(t['ci_low'])} to "
                    f"{_f(t['ci_high'])}), p {_p(t['p'])} -- {_verdict(t['p'], ci)}"
                )
    elif kind == "welch" and st.get("t") is not None:
        g0, g1 = st["groups"]
        out.append(
            f"Mean {g1['label']} minus {g0['label']}: {_f(st['difference'])} ({_ci_pct(ci)} CI "
            f"{_f(st['ci_low'])} to {_f(st['ci_high'])}), Welch p {_p(st['p'])} -- {_verdict(st['p'], ci)}"
        )
    elif kind == "crosstab" and st.get("chi2_p") is not None:
        if "fisher_p" in st:
            out.append(f"Fisher exact p {_p(st['fisher_p'])} -- {_verdict(st['fisher_p'], ci)}")
        out.append(chi_square_words(st))
    return out


def chi_square_words(st: dict[str, Any]) -> str:
    """The chi-square test, saying whether Yates' continuity correction was applied (2 x 2: both)."""
    text = (
        f"Pearson chi-square({st['chi2_df']}) = {_f(st['chi2'])}, p {_p(st['chi2_p'])}, without continuity correction"
    )
    if st.get("chi2_yates") is not None:
        text += f"; with Yates' correction chi-square = {_f(st['chi2_yates'])}, p {_p(st['chi2_yates_p'])}"
    return text


LIBRARIES = ("scipy", "statsmodels", "numpy", "pandas", "patsy", "sklearn", "krippendorff", "matplotlib")


def library_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    """Warnings scipy / statsmodels / numpy raised during an analysis, as plain notes (once each).

    They are part of the result -- e.g. Levene's test dividing by a zero variance -- so they go
    into its warnings rather than onto the terminal (where nobody can tell which analysis they
    belong to).
    """
    out: list[str] = []
    for w in caught:
        module = (w.filename or "").replace("\\", "/")
        lib = next((name for name in LIBRARIES if f"/{name}/" in module), "")
        text = str(w.message).strip().splitlines()[0] if str(w.message).strip() else w.category.__name__
        note = f"note from {lib or 'a library'} ({w.category.__name__}): {text}"
        if note not in out:
            out.append(note)
    return out


@contextmanager
def notes_from_libraries(into: list[str]) -> Iterator[None]:
    """Collect the warnings raised inside the block as notes (library_notes) appended to ``into``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    into.extend(n for n in library_notes(caught) if n not in into)
