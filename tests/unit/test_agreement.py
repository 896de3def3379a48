"""chartcode.agreement: coefficients against published values and against the libraries.

Every function takes a units x coders matrix (NaN = missing); krippendorff.alpha wants coders as
rows, so calls to it below transpose on purpose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from chartcode import agreement as ag
from chartcode.codebook.model import Choice, Field

# Published worked examples: the copy kept in tests/data (from shared/irr-reference), or another file
# in the same format named by CHARTCODE_IRR_CASES (further published cases are checked the same way).
CASES_FILE = Path(
    os.environ.get("CHARTCODE_IRR_CASES", Path(__file__).resolve().parents[1] / "data" / "irr-reference" / "cases.json")
)

# Krippendorff (2011) section C: 4 observers x 12 units, as raters-as-rows; here transposed
KRIPP_C = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
        [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
    ]
).T
# irrCAC cac.raw4raters: the same, the lone unit-12 value under rater 3
GWET_4 = KRIPP_C.copy()
GWET_4[11] = [np.nan, np.nan, 3, np.nan]
ANXIETY = np.array(
    [
        [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4],
        [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2],
    ],
    dtype=float,
).T
SHROUT_FLEISS = np.array(
    [[9, 6, 8, 7, 10, 6], [2, 1, 4, 1, 5, 2], [5, 3, 6, 2, 6, 4], [8, 2, 8, 6, 9, 7]], dtype=float
).T


def ordinal(codes, name="score") -> Field:
    return Field(name=name, label=name, level="record", type="ordinal", choices=tuple(Choice(c, str(c)) for c in codes))


def positions(matrix, codes):
    lookup = {c: i for i, c in enumerate(codes)}
    return np.vectorize(lambda v: np.nan if np.isnan(v) else lookup[int(v)])(matrix).astype(float)


def random_ratings(rng, n_units, n_coders, n_cat, missing=0.2, agree=0.6):
    truth = rng.integers(0, n_cat, n_units)
    m = np.where(
        rng.random((n_units, n_coders)) < agree, truth[:, None], rng.integers(0, n_cat, (n_units, n_coders))
    ).astype(float)
    m[rng.random(m.shape) < missing] = np.nan
    return m


# ---------------------------------------------------------------------------- published values
@pytest.mark.parametrize(
    "level, expected",
    [
        ("nominal", 0.743421052631579),
        ("ordinal", 0.8153875037548814),
        ("interval", 0.8491071428571428),
        ("ratio", 0.7974027747116121),
    ],
)
def test_krippendorff_2011_C(level, expected):
    assert ag.krippendorff_alpha(KRIPP_C, level) == pytest.approx(expected, abs=1e-12)
    # the library agrees with coders as rows, and is wrong (without an error) when transposed
    assert krippendorff.alpha(reliability_data=KRIPP_C.T, level_of_measurement=level) == pytest.approx(expected)
    if level == "nominal":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrong = krippendorff.alpha(reliability_data=KRIPP_C, level_of_measurement=level)
        assert abs(wrong - expected) > 0.5


def test_krippendorff_2011_A_binary():
    m = np.array([[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]], dtype=float).T
    assert ag.krippendorff_alpha(m, "nominal") == pytest.approx(2 / 21, abs=1e-12)


def test_gwet_cac_raw4raters():
    pos = GWET_4 - 1  # codes 1..5 -> positions 0..4
    ac1 = ag.gwet_ac(pos, 5)
    assert ac1["coefficient"] == pytest.approx(0.7754441, abs=5e-7)
    assert ac1["pa"] == pytest.approx(9 / 11, abs=1e-12)
    assert ac1["pe"] == pytest.approx(0.1903212, abs=5e-7)  # the case's ac1_pe
    assert ag.gwet_ac(pos, 5, "quadratic")["coefficient"] == pytest.approx(0.9140007, abs=5e-7)
    value, method = ag.fleiss_kappa(pos, 5)
    assert method == "gwet-generalised" and value == pytest.approx(0.7611693, abs=5e-7)
    assert ag.percent_agreement(GWET_4) == pytest.approx(0.8181818, abs=5e-7)
    assert ag.krippendorff_alpha(GWET_4, "nominal") == pytest.approx(0.7434211, abs=5e-7)
    assert ag.krippendorff_alpha(GWET_4, "interval") == pytest.approx(0.8491071, abs=5e-7)


def test_anxiety_weighting_rule():
    """Positions on the codebook's list: the irr values with choices 1,2,3,4,6; others with 1..6."""
    used = [1, 2, 3, 4, 6]
    res = ag.field_agreement(ordinal(used), positions(ANXIETY, used), ["r2", "r3"])
    assert res["cohen_kappa"] == pytest.approx(-0.006289308, abs=5e-9)
    assert res["cohen_kappa_linear"] == pytest.approx(0.1459075, abs=5e-7)
    assert res["cohen_kappa_quadratic"] == pytest.approx(0.2520325, abs=5e-7)
    assert not any("no coder used" in n for n in res["notes"])
    full = list(range(1, 7))
    res = ag.field_agreement(ordinal(full), positions(ANXIETY, full), ["r2", "r3"])
    assert res["cohen_kappa"] == pytest.approx(-0.006289308, abs=5e-9)  # unweighted: unaffected
    assert res["cohen_kappa_linear"] == pytest.approx(0.126214, abs=5e-6)
    assert res["cohen_kappa_quadratic"] == pytest.approx(0.229798, abs=5e-6)
    assert any("choices no coder used: 5" in n for n in res["notes"])
    assert any("scale: the codebook's 6 choices in order (1, 2, 3, 4, 5, 6)" in n for n in res["notes"])


def test_shrout_fleiss_1979_exact():
    res = ag.icc(SHROUT_FLEISS)
    exact = {
        "ICC1": 448 / 2703,
        "ICC2": 184 / 635,
        "ICC3": 920 / 1287,
        "ICC1k": 1792 / 4047,
        "ICC2k": 736 / 1187,
        "ICC3k": 3680 / 4047,
    }
    for key, value in exact.items():
        assert res[key] == pytest.approx(value, abs=1e-12), key


def test_feinstein_cicchetti_kappa_and_expected_agreement():
    a = [1] * 49 + [0] * 51
    b = [1] * 40 + [0] * 9 + [1] * 6 + [0] * 45
    m = np.array([a, b], dtype=float).T
    assert ag.percent_agreement(m) == pytest.approx(0.85)
    kappa = ag.cohen_kappa(m, 2)
    assert kappa == pytest.approx(0.70, abs=0.005)
    # p_expected (published 0.50): kappa = (po - pe) / (1 - pe)
    pe = (0.85 - kappa) / (1 - kappa)
    assert pe == pytest.approx(0.50, abs=0.005)


@pytest.mark.skipif(not CASES_FILE.exists(), reason="shared cases.json not found")
def test_cases_file_still_holds_the_values_used_here():
    cases = {c["name"]: c for c in json.loads(CASES_FILE.read_text())["cases"]}
    g = cases["gwet_cac_raw4raters"]
    assert np.array_equal(np.array(g["data"], dtype=float).T, GWET_4, equal_nan=True)
    assert g["expected"]["ac1_pe"] == pytest.approx(0.1903212)
    assert cases["feinstein_cicchetti_1990_tableA"]["expected"]["p_expected"] == 0.5


# ---------------------------------------------------------------------------- percent agreement forms
def test_percent_agreement_two_coders_is_share_of_equal_units():
    m = np.array([[1, 1], [1, 2], [3, 3], [2, np.nan], [np.nan, np.nan], [4, 4]], dtype=float)
    assert ag.percent_agreement(m) == pytest.approx(3 / 4)  # units both coded: 4, equal: 3


def test_percent_agreement_many_coders_is_pairwise_mean():
    m = np.array([[1, 1, 2], [1, 1, 1], [2, np.nan, 3], [5, np.nan, np.nan]], dtype=float)
    # unit 1: 1 agreeing pair of 3; unit 2: 3 of 3; unit 3: 0 of 1; unit 4 (one rating) left out
    assert ag.percent_agreement(m) == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert ag.percent_agreement(KRIPP_C) == pytest.approx(9 / 11)


# ---------------------------------------------------------------------------- against the libraries
@pytest.mark.parametrize("seed", range(6))
def test_alpha_kernel_equals_krippendorff_package(seed):
    rng = np.random.default_rng(seed)
    m = random_ratings(rng, 60, 2 + seed % 3, 5, missing=0.25)
    values = np.array([0.0, 1.0, 2.0, 4.0, 7.0])  # unequal spacing matters for interval/ratio
    vm = np.where(np.isnan(m), np.nan, values[np.nan_to_num(m).astype(int)])
    for level in ag.ALPHA_LEVELS:
        lib = krippendorff.alpha(reliability_data=vm.T, level_of_measurement=level)
        assert ag.krippendorff_alpha(vm, level) == pytest.approx(lib, abs=1e-10), level
        assert ag.krippendorff_alpha(m, level, values=values) == pytest.approx(lib, abs=1e-10), level


@pytest.mark.parametrize("seed", range(4))
def test_cohen_kernel_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    m = random_ratings(rng, 80, 2, 6, missing=0.1)
    idx = np.where(np.isnan(m), -1, m).astype(int)
    d = ag._Design(idx, 6)
    got = ag._k_cohen(d, d.w0[None], 6, (None, "linear", "quadratic"))
    both = ~np.isnan(m).any(axis=1)
    for kind, value in zip((None, "linear", "quadratic"), got.values(), strict=True):
        lib = cohen_kappa_score(m[both, 0], m[both, 1], labels=list(range(6)), weights=kind)
        assert value[0] == pytest.approx(lib, abs=1e-12)
        assert ag.cohen_kappa(m, 6, kind) == pytest.approx(lib, abs=1e-12)


@pytest.mark.parametrize("n_coders", [2, 3, 5])
def test_fleiss_complete_equals_statsmodels_and_the_generalised_form(n_coders):
    rng = np.random.default_rng(n_coders)
    m = random_ratings(rng, 70, n_coders, 4, missing=0.0)
    table, _ = aggregate_raters(m.astype(int), n_cat=4)
    lib = sm_fleiss(table, method="fleiss")
    value, method = ag.fleiss_kappa(m, 4)
    assert method == "fleiss" and value == pytest.approx(lib, abs=1e-12)
    d = ag._Design(m.astype(int), 4)
    assert ag._k_fleiss(d, d.w0[None])[0] == pytest.approx(lib, abs=1e-12)


@pytest.mark.parametrize("used", [1, 2, 4])
def test_library_kappas_count_unused_choices_as_steps_on_the_scale(used):
    """Cohen's kappa (statsmodels on the contingency table) and Fleiss' kappa (statsmodels on the
    counts table) give scikit-learn's and aggregate_raters' numbers on a 6-choice scale of which
    only ``used`` choices occur (one choice only: undefined, as scikit-learn says)."""
    rng = np.random.default_rng(used)
    m = rng.integers(0, used, size=(60, 2)).astype(float)
    m[:40, 1] = m[:40, 0]  # mostly agreeing
    for kind in (None, "linear", "quadratic"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lib = cohen_kappa_score(m[:, 0], m[:, 1], labels=list(range(6)), weights=kind)
        got = ag.cohen_kappa(m, 6, kind)
        assert (np.isnan(got) and np.isnan(lib)) or got == pytest.approx(lib, abs=1e-12), kind
    table, _ = aggregate_raters(m.astype(int), n_cat=6)
    with np.errstate(divide="ignore", invalid="ignore"):
        lib = sm_fleiss(table, method="fleiss")
    value, method = ag.fleiss_kappa(m, 6)
    assert method == "fleiss"
    assert (np.isnan(value) and np.isnan(lib)) or value == pytest.approx(lib, abs=1e-12)


def test_kernels_on_resample_weights_equal_the_libraries_on_the_resample():
    """A bootstrap replicate = pattern counts; the kernels on those counts = the library on the units."""
    rng = np.random.default_rng(42)
    m = random_ratings(rng, 50, 3, 4, missing=0.3)
    idx = np.where(np.isnan(m), -1, m).astype(int)
    d = ag._Design(idx, 4)
    draw = rng.integers(0, len(m), len(m))
    C = np.bincount(d.inverse[draw], minlength=d.P).astype(float)[None]
    resampled = m[draw]
    for level in ag.ALPHA_LEVELS:
        lib = krippendorff.alpha(
            reliability_data=resampled.T, level_of_measurement=level, value_domain=[0.0, 1.0, 2.0, 3.0]
        )
        got = ag._k_alpha(d, C, level, np.arange(4, dtype=float))[0]
        assert got == pytest.approx(lib, abs=1e-10), level
    assert ag._k_percent(d, C)[0] == pytest.approx(ag.percent_agreement(resampled), abs=1e-12)
    assert ag._k_gwet(d, C, 4, None)[0][0] == pytest.approx(ag.gwet_ac(resampled, 4)["coefficient"], abs=1e-12)
    assert ag._k_fleiss(d, C)[0] == pytest.approx(ag.fleiss_kappa(resampled, 4)[0], abs=1e-12)
    sf = ag._Design(np.argsort(np.argsort(SHROUT_FLEISS.ravel())).reshape(SHROUT_FLEISS.shape), 24)
    vals = np.sort(SHROUT_FLEISS.ravel())
    draw = np.array([0, 0, 1, 3, 4, 5])
    C = np.bincount(sf.inverse[draw], minlength=sf.P).astype(float)[None]
    got = {k: v[0] for k, v in ag._k_icc(sf, C, vals).items()}
    want = ag.icc(SHROUT_FLEISS[draw])
    for k in ag.ICC_KEYS:
        assert got[k] == pytest.approx(want[k], abs=1e-10), k


def test_field_alpha_point_equals_package_for_large_value_sets():
    """Above the package's memory limit the same formula is evaluated here; both agree."""
    rng = np.random.default_rng(3)
    truth = rng.normal(120, 8, 2000).round()
    m = np.stack([truth, truth + rng.normal(0, 2, 2000).round()], axis=1)
    m[rng.random(m.shape) < 0.1] = np.nan
    assert len(m) * len(np.unique(m[~np.isnan(m)])) ** 2 > ag._KRIPP_LIB_CELLS
    fld = Field(name="bp", label="bp", level="record", type="numeric")
    res = ag.field_agreement(fld, m, ["a", "b"])
    for level in ("nominal", "ordinal", "interval"):
        lib = krippendorff.alpha(reliability_data=m.T, level_of_measurement=level)
        assert res["alpha_by_level"][level] == pytest.approx(lib, abs=1e-9), level
    assert res["alpha_by_level"]["ratio"] is None and res["krippendorff_alpha"] == res["alpha_by_level"]["interval"]


# ---------------------------------------------------------------------------- field_agreement
def test_bootstrap_reproducible_and_contains_estimate():
    rng = np.random.default_rng(0)
    m = random_ratings(rng, 200, 2, 4, missing=0.05, agree=0.7)
    fld = ordinal([1, 2, 3, 4])
    a = ag.field_agreement(fld, m, ["a", "b"], bootstrap=500, seed=7)
    b = ag.field_agreement(fld, m, ["a", "b"], bootstrap=500, seed=7)
    c = ag.field_agreement(fld, m, ["a", "b"], bootstrap=500, seed=8)
    assert a == b and a["ci"] != c["ci"]
    names = {
        "percent_agreement",
        "cohen_kappa",
        "cohen_kappa_linear",
        "cohen_kappa_quadratic",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "gwet_ac2_quadratic",
    } | {f"alpha_by_level.{lv}" for lv in ag.ALPHA_LEVELS}
    assert set(a["ci"]) == names
    for name, (lo, hi) in a["ci"].items():
        point = a["alpha_by_level"][name.split(".")[1]] if "." in name else a[name]
        assert lo < point < hi, name
    wide = ag.field_agreement(fld, m, ["a", "b"], bootstrap=500, seed=7, ci=0.99)["ci"]["cohen_kappa"]
    assert wide[0] <= a["ci"]["cohen_kappa"][0] and wide[1] >= a["ci"]["cohen_kappa"][1]


def test_bootstrap_with_many_patterns_draws_units():
    """Continuous values: almost every unit is its own pattern, so unit indices are drawn."""
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 1, 300)
    m = np.stack([truth, truth + rng.normal(0, 0.3, 300), truth + rng.normal(0.2, 0.3, 300)], axis=1).round(1)
    fld = Field(name="x", label="x", level="record", type="numeric")
    d = ag._Design(ag._categories(m)[0], len(np.unique(m)))
    assert d.n_units < d.P * 8
    a = ag.field_agreement(fld, m, ["a", "b", "c"], bootstrap=300, seed=3)
    assert a == ag.field_agreement(fld, m, ["a", "b", "c"], bootstrap=300, seed=3)
    assert set(a["icc"]) == set(ag.ICC_KEYS)
    for k in ag.ICC_KEYS:
        lo, hi = a["ci"][f"icc.{k}"]
        assert lo <= a["icc"][k] <= hi
    lib = krippendorff.alpha(reliability_data=m.T, level_of_measurement="interval")
    assert a["krippendorff_alpha"] == pytest.approx(lib, abs=1e-10)


def test_no_double_coded_units():
    m = np.array([[1, np.nan], [np.nan, 2], [0, np.nan]], dtype=float)
    res = ag.field_agreement(ordinal([1, 2, 3]), m, ["a", "b"], bootstrap=100, seed=1)
    assert res["n_units"] == 0 and res["n_coders"] == 0
    assert res["notes"] == [ag.NO_UNITS]
    assert res["percent_agreement"] is None and res["cohen_kappa"] is None and res["ci"] == {}
    empty = ag.field_agreement(ordinal([1, 2]), np.zeros((0, 0)), [])
    assert empty["n_units"] == 0 and empty["notes"] == [ag.NO_UNITS]


def test_a_third_coder_with_only_single_coded_units_does_not_block_the_pair():
    """a and b double-code 40 units; c codes 30 other units alone (kept only for Gwet's pe)."""
    rng = np.random.default_rng(5)
    pair = random_ratings(rng, 40, 2, 3, missing=0.0, agree=0.7)
    m = np.full((70, 3), np.nan)
    m[:40, :2] = pair
    m[40:, 2] = rng.integers(0, 3, 30)
    res = ag.field_agreement(ordinal([1, 2, 3]), m, ["a", "b", "c"], confusion=True)
    assert res["n_coders"] == 2 and res["n_units"] == 40
    assert res["cohen_kappa"] == pytest.approx(cohen_kappa_score(pair[:, 0], pair[:, 1]), abs=1e-12)
    assert res["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=pair.T, level_of_measurement="ordinal"), abs=1e-12
    )
    assert res["confusion"]["rows"] == "a" and res["confusion"]["columns"] == "b"
    assert any("1 coder(s) coded only units nobody else coded" in n for n in res["notes"])
    # Gwet's chance agreement does use c's ratings
    assert res["gwet_ac1"] == pytest.approx(ag.gwet_ac(m, 3)["coefficient"], abs=1e-12)
    assert res["gwet_ac1"] != pytest.approx(ag.gwet_ac(pair, 3)["coefficient"], abs=1e-6)
    num = Field(name="n", label="n", level="record", type="numeric")
    res = ag.field_agreement(num, m, ["a", "b", "c"])
    assert res["icc"]["ICC3"] == pytest.approx(ag.icc(pair)["ICC3"], abs=1e-12)


def test_kappa_only_for_two_coders_and_icc_only_for_complete_numeric():
    res = ag.field_agreement(ordinal([1, 2, 3, 4, 5]), GWET_4 - 1, list("abcd"))
    assert res["cohen_kappa"] is None and any("exactly two coders" in n for n in res["notes"])
    assert res["icc"] is None
    num = Field(name="n", label="n", level="record", type="count")
    m = SHROUT_FLEISS.copy()
    m[0, 0] = np.nan
    res = ag.field_agreement(num, m, list("abcd"))
    assert res["icc"] is None and any(n.startswith("ICC: needs every unit") for n in res["notes"])
    assert res["level"] == "ratio" and res["alpha_by_level"]["ratio"] is not None
    assert res["gwet_ac1"] is None and res["fleiss_kappa"] is None
    res = ag.field_agreement(num, SHROUT_FLEISS, list("abcd"))
    assert res["icc"]["ICC3"] == pytest.approx(920 / 1287)


def test_undefined_coefficients_are_null_with_a_reason():
    m = np.array([[1, 1], [1, 1], [1, 1]], dtype=float)  # everybody always says 2
    res = ag.field_agreement(ordinal([1, 2, 3]), m, ["a", "b"], bootstrap=50, seed=1)
    assert res["percent_agreement"] == 1.0
    assert res["cohen_kappa"] is None and res["krippendorff_alpha"] is None
    assert any(n.startswith("undefined for these data") for n in res["notes"])
    json.dumps(res, allow_nan=False)


def test_text_and_date_fields():
    text = Field(name="t", label="t", level="record", type="text")
    m = np.array([[0, 0], [1, 1], [2, 1], [0, 0]], dtype=float)
    res = ag.field_agreement(text, m, ["a", "b"])
    assert res["level"] == "nominal" and res["cohen_kappa"] is not None
    assert res["alpha_by_level"]["ordinal"] is None and res["cohen_kappa_linear"] is None
    date = Field(name="d", label="d", level="record", type="date")
    assert ag.encode_value(date, "2024-03-05") - ag.encode_value(date, "2024-03-02") == 3
    days = np.array([[0, 0], [10, 12], [20, 20], [31, 30]], dtype=float) + 738000
    res = ag.field_agreement(date, days, ["a", "b"])
    assert res["level"] == "interval" and res["alpha_by_level"]["ratio"] is None
    assert res["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(reliability_data=days.T, level_of_measurement="interval")
    )


def test_confusion_only_when_asked_and_for_two_coders():
    fld = Field(name="b", label="b", level="record", type="binary", choices=(Choice(0, "No"), Choice(1, "Yes")))
    m = np.array([[1, 1], [1, 0], [0, 0], [0, np.nan]], dtype=float)
    assert "confusion" not in ag.field_agreement(fld, m, ["a", "b"])
    conf = ag.field_agreement(fld, m, ["a", "b"], confusion=True)["confusion"]
    assert conf == {"rows": "a", "columns": "b", "labels": ["0", "1"], "matrix": [[1, 0], [1, 1]]}


def test_landis_koch():
    assert [ag.landis_koch(x) for x in (-0.1, 0.0, 0.2, 0.21, 0.4, 0.6, 0.61, 0.8, 0.81, 1.0)] == [
        "poor",
        "slight",
        "slight",
        "fair",
        "fair",
        "moderate",
        "substantial",
        "substantial",
        "almost perfect",
        "almost perfect",
    ]
    assert ag.landis_koch(None) == ""


def test_encode_value():
    fld = ordinal([1, 2, 4])
    assert ag.encode_value(fld, 4) == 2.0 and ag.encode_value(fld, 4.0) == 2.0 and ag.encode_value(fld, 3) is None
    assert ag.encode_value(Field(name="c", label="c", level="record", type="count"), 7) == 7.0


def test_agreement_does_not_import_textual_or_the_cli():
    code = (
        "import sys, chartcode.agreement; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'textual' or m.startswith('chartcode.cli')]; "
        "assert not bad, bad; "
        "import chartcode.cli.agreement; "
        "bad = [m for m in sys.modules if m.split('.')[0] == 'textual' or m.startswith('chartcode.tui')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
