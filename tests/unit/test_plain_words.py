"""Results in plain words: nominal terms, Yates' correction, Landis & Koch on few units,
intervals of no width, field labels in the report and agreement tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chartcode.agreement.wording import interval_notes, kappa_words
from chartcode.analysis.models import Spec, Variable, run_crosstab, run_linear
from chartcode.analysis.readings import reading
from chartcode.cli.agreement import format_field
from chartcode.cli.stats import format_result


def test_nominal_predictor_reads_code_vs_reference():
    rng = np.random.default_rng(3)
    rank = np.repeat([1, 2, 3], 8)
    frame = pd.DataFrame({"score": rank * 2.0 + rng.normal(size=24), "rank": rank})
    known = {"score": Variable("score", "numeric"), "rank": Variable("rank", "nominal")}
    res = run_linear(Spec("linear", "score ~ rank", "test", outcome="score", predictors=["rank"]), frame, known, 0.95)
    labels = [t["label"] for t in res["terms"]]
    assert labels == ["Intercept", "rank = 2 vs 1", "rank = 3 vs 1"]
    words = " ".join(reading(res) + format_result(res))
    assert "rank = 2 vs 1: score changes by" in words
    assert "C(rank)" not in words and "Each additional" not in words


def test_nominal_predictor_with_choices_names_them():
    frame = pd.DataFrame({"y": [1.0, 2, 3, 2, 4, 5, 3, 6, 7], "site": [0, 0, 0, 1, 1, 1, 2, 2, 2]})
    site = Variable("site", "nominal", "Site", ((0, "North"), (1, "South"), (2, "East")))
    res = run_linear(
        Spec("linear", "y ~ site", "test", outcome="y", predictors=["site"]),
        frame,
        {"y": Variable("y", "numeric"), "site": site},
        0.95,
    )
    assert [t["label"] for t in res["terms"][1:]] == ["site = 1 (South) vs 0 (North)", "site = 2 (East) vs 0 (North)"]


def test_two_by_two_chi_square_gives_both_and_says_which():
    frame = pd.DataFrame({"x": [0] * 6 + [1] * 6, "g": [0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1]})
    known = {"x": Variable("x", "binary"), "g": Variable("g", "binary")}
    res = run_crosstab(Spec("crosstab", "x by g", "test", outcome="x", by="g"), frame, known, 0.95)
    table = np.array([[5, 1], [1, 5]])
    plain, yates = stats.chi2_contingency(table, correction=False), stats.chi2_contingency(table, correction=True)
    st = res["stats"]
    assert st["chi2_correction"] == "none"
    assert st["chi2"] == pytest.approx(plain.statistic) and st["chi2_p"] == pytest.approx(plain.pvalue)
    assert st["chi2_yates"] == pytest.approx(yates.statistic) and st["chi2_yates_p"] == pytest.approx(yates.pvalue)
    text = "\n".join(format_result(res))
    assert "without continuity correction" in text and "with Yates' correction" in text


def _result(n_units: int, value: float, ci=None, percent: float = 0.8) -> dict:
    return {
        "field": "sex",
        "level": "nominal",
        "n_units": n_units,
        "n_coders": 2,
        "percent_agreement": percent,
        "cohen_kappa": value,
        "ci": {"cohen_kappa": ci} if ci else {},
        "notes": [],
    }


def test_landis_koch_words_carry_a_caution_below_ten_units():
    assert kappa_words(0.7, 6) == "substantial (Landis & Koch convention); 6 units: read with caution"
    assert kappa_words(0.7, 10) == "substantial (Landis & Koch convention)"
    few = "\n".join(format_field(_result(6, 0.7), label="Sex"))
    many = "\n".join(format_field(_result(40, 0.7), label="Sex"))
    assert "read with caution" in few and "read with caution" not in many
    assert few.startswith("Sex [sex] (nominal)")


def test_interval_of_no_width_says_why():
    agree = interval_notes(_result(6, 1.0, ci=[1.0, 1.0], percent=1.0))
    assert len(agree) == 1 and "all 6 units agree" in agree[0] and "degenerate" in agree[0]
    same = interval_notes(_result(6, 0.5, ci=[0.5, 0.5], percent=0.8))
    assert "every bootstrap resample of the 6 units gave the same value" in same[0]
    assert interval_notes(_result(6, 0.5, ci=[0.2, 0.9])) == []
    shown = "\n".join(format_field(_result(6, 1.0, ci=[1.0, 1.0], percent=1.0), ci_level=0.95))
    assert "[1.000, 1.000]" in shown and "all 6 units agree" in shown
