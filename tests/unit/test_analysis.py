"""chartcode.analysis: derived variables and every number against statsmodels / scipy run directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import optimize, stats

from chartcode.analysis import analysis_frame, load_plan, parse_analyses, run_stats
from chartcode.analysis.derived import add_derived, parse_derived
from chartcode.analysis.firth import _penalised, firth_logit
from chartcode.analysis.models import Spec, Variable, run_logistic, separation
from chartcode.codebook import load_codebook
from chartcode.dataset import notes_frame, records_frame
from chartcode.demo import build_demo
from chartcode.errors import UserError
from chartcode.store import Store
from chartcode.yamlsrc import load_located


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = Store.open(build_demo(tmp_path_factory.mktemp("demo"), complete=True))
    yield s
    s.close()


@pytest.fixture(scope="module")
def frame(store):
    """Records frame + the audit's derived variables, computed here by hand."""
    r = records_frame(store)
    n = notes_frame(store)
    counts = n[n["session_content"].notna()].groupby("record_id").size()
    r["n_conjoint_sessions"] = r["record_id"].map(counts).fillna(0)
    # missing where a conjoint note (session_content applies to those) has no final value
    unknown = n.loc[(n["note_type"] == "conjoint") & n["session_content"].isna(), "record_id"]
    r.loc[r["record_id"].isin(unknown), "n_conjoint_sessions"] = np.nan
    r["prior_hp_any"] = (r["prior_hp_contact"] != 0).astype(float)
    acc = r["accepted_followup"] == 1
    r["followed_through"] = np.where(acc, (acc & (r["followup_evident"] == 1)).astype(float), np.nan)
    return r.astype({c: "float64" for c in r.columns if c != "record_id"})


def one(store, **kw):
    ci = kw.pop("ci", 0.95)
    where = kw.pop("where", ())
    return run_stats(store, options=kw, where=where, ci=ci)["analyses"][0]


def terms(result):
    return {t["term"]: t for t in result["terms"]}


# ------------------------------------------------------------------------------ derived
def test_derived_columns_match_hand_computation(store, frame):
    got, known = analysis_frame(store)
    for name in ("n_conjoint_sessions", "prior_hp_any", "followed_through"):
        assert known[name].type in ("count", "binary")
        np.testing.assert_array_equal(got[name].astype("float64").to_numpy(na_value=np.nan), frame[name].to_numpy())
    assert got["followed_through"].isna().sum() == (frame["accepted_followup"] == 0).sum()


CB = load_codebook("codebooks/conjoint-pain.yaml")


def derive(text, records=None, notes=None):
    section = load_located("audits/x.yaml", text=text)["derived"]
    d = parse_derived(section, CB, "audits/x.yaml")
    return add_derived(records, notes, d) if records is not None else d


def test_conditions_are_three_valued_and_count_dates():
    records = pd.DataFrame(
        {
            "record_id": ["A", "B", "C"],
            "mh_diagnosis": pd.array([1, 0, None], dtype="Int64"),
            "sud_diagnosis": pd.array([0, 0, 1], dtype="Int64"),
            "followup_type": pd.array([1, 4, None], dtype="Int64"),
        }
    )
    notes = pd.DataFrame(
        {
            "record_id": ["A", "A", "B", "C"],
            "note_date": ["2024-01-01", "2024-01-11", "2024-02-01", None],
            "note_type": ["conjoint", "phone", "conjoint", "conjoint"],
            "session_content": pd.array([6, None, 2, 6], dtype="Int64"),
        }
    )
    out = derive(
        """
derived:
  - name: both
    all: [{equals: {field: mh_diagnosis, value: 1}}, {equals: {field: sud_diagnosis, value: 1}}]
  - name: either
    any: [{equals: {field: mh_diagnosis, value: 1}}, {equals: {field: sud_diagnosis, value: 1}}]
  - name: indiv
    in: {field: followup_type, values: [1, 3]}
  - name: n6
    count: {notes: session_content, values: [6]}
  - name: n_conj
    count: {note_types: [conjoint]}
  - name: days
    date_difference: {from: first_note, to: last_note}
  - name: only_mh
    equals: {field: sud_diagnosis, value: 0}
    where: {equals: {field: mh_diagnosis, value: 1}}
""",
        records,
        notes,
    )

    def as_list(c):
        return [None if pd.isna(v) else v for v in out[c]]

    assert as_list("both") == [0, 0, None]  # C: missing and 1 -> missing
    assert as_list("either") == [1, 0, 1]  # C: 1 wins over missing
    assert as_list("indiv") == [1, 0, None]
    assert as_list("n6") == [1, 0, 1]
    assert as_list("n_conj") == [1, 1, 1]
    assert as_list("days") == [10, 0, None]
    assert as_list("only_mh") == [1, None, None]


@pytest.mark.parametrize(
    "body, message",
    [
        ("  - name: x\n    equals: {field: nope, value: 1}\n", "audits/x.yaml:4: derived 'x': unknown field 'nope'"),
        ("  - name: x\n    count: {notes: age}\n", "audits/x.yaml:4: derived 'x': unknown note-level field 'age'"),
        ("  - name: x\n    sum: [age]\n", "audits/x.yaml:4: derived 'x': unknown key 'sum'"),
        ("  - name: age\n    equals: {field: sex, value: 1}\n", "audits/x.yaml:3: derived 'age': the name is already"),
        ("  - name: x\n    equals: {field: session_content, value: 1}\n", "(a note-level field: use count)"),
        ("  - name: x\n    all: [{bogus: 1}]\n", "audits/x.yaml:4: derived 'x': a condition is a one-key mapping"),
    ],
)
def test_derived_errors_name_the_line(body, message):
    with pytest.raises(UserError) as exc:
        derive("id: x\nderived:\n" + body)
    assert message in str(exc.value)


def test_declared_analyses_parse_and_bad_item_names_line(store):
    plan = load_plan(store)
    _, known = analysis_frame(store, plan)
    specs = parse_analyses(plan.analyses, known, plan.shown)
    kinds = [s.kind for s in specs]
    assert kinds.count("logistic") == 3 and kinds.count("welch") == 3 and "linear" in kinds and "describe" in kinds
    bad = load_located("audits/y.yaml", text="analyses:\n  - describe: [age]\n  - logistic: accepted_followup ~ zz\n")
    with pytest.raises(UserError, match=r"audits/y.yaml:3: logistic .*unknown field 'zz'"):
        parse_analyses(bad["analyses"], known, "audits/y.yaml")


# ------------------------------------------------------------------------------ models vs statsmodels / scipy
@pytest.mark.parametrize("ci", [0.95, 0.90])
def test_linear_matches_statsmodels(store, frame, ci):
    res = one(store, linear=["last_note_outcome ~ n_conjoint_sessions + mh_diagnosis"], ci=ci)
    data = frame[["last_note_outcome", "n_conjoint_sessions", "mh_diagnosis"]].dropna()
    fit = smf.ols("last_note_outcome ~ n_conjoint_sessions + mh_diagnosis", data).fit()
    conf = fit.conf_int(alpha=1 - ci)
    assert res["n"] == len(data) == 21  # 2 records have a conjoint note with no final session_content
    for name, t in terms(res).items():
        assert t["coef"] == pytest.approx(fit.params[name])
        assert t["se"] == pytest.approx(fit.bse[name])
        assert t["p"] == pytest.approx(fit.pvalues[name])
        assert (t["ci_low"], t["ci_high"]) == pytest.approx((conf.loc[name, 0], conf.loc[name, 1]))
        assert t["odds_ratio"] is None
    assert res["stats"]["r2"] == pytest.approx(fit.rsquared)
    assert res["stats"]["adj_r2"] == pytest.approx(fit.rsquared_adj)


def test_ci_level_changes_intervals(store):
    a = terms(one(store, logistic=["accepted_followup ~ mh_diagnosis"]))["mh_diagnosis"]
    b = terms(one(store, logistic=["accepted_followup ~ mh_diagnosis"], ci=0.90))["mh_diagnosis"]
    assert a["coef"] == b["coef"]
    assert a["ci_low"] < b["ci_low"] < b["ci_high"] < a["ci_high"]
    assert a["or_ci_low"] < b["or_ci_low"]


@pytest.mark.parametrize("ci", [0.95, 0.90])
def test_logistic_matches_statsmodels(store, frame, ci):
    res = one(store, logistic=["accepted_followup ~ mh_diagnosis"], ci=ci)
    fit = smf.logit("accepted_followup ~ mh_diagnosis", frame).fit(disp=0)
    conf = fit.conf_int(alpha=1 - ci)
    assert res["stats"]["method"] == "maximum likelihood"
    for name, t in terms(res).items():
        assert t["coef"] == pytest.approx(fit.params[name])
        assert t["se"] == pytest.approx(fit.bse[name])
        assert t["p"] == pytest.approx(fit.pvalues[name])
        assert (t["ci_low"], t["ci_high"]) == pytest.approx((conf.loc[name, 0], conf.loc[name, 1]))
        assert t["odds_ratio"] == pytest.approx(np.exp(fit.params[name]))
        assert (t["or_ci_low"], t["or_ci_high"]) == pytest.approx(tuple(np.exp(conf.loc[name])))
    assert res["stats"]["llr_p"] == pytest.approx(fit.llr_pvalue)
    assert res["stats"]["pseudo_r2"] == pytest.approx(fit.prsquared)


def test_logistic_small_subgroup_warns_events_per_variable(store, frame):
    res = one(store, logistic=["followed_through ~ n_conjoint_sessions"])
    data = frame[["followed_through", "n_conjoint_sessions"]].dropna()
    fit = smf.logit("followed_through ~ n_conjoint_sessions", data).fit(disp=0)
    assert res["n"] == 12
    assert terms(res)["n_conjoint_sessions"]["coef"] == pytest.approx(fit.params["n_conjoint_sessions"], abs=1e-8)
    assert any("events per predictor" in w for w in res["warnings"])


def test_welch_and_levene_match_scipy(store, frame):
    res = one(store, welch=["mh_diagnosis by accepted_followup"], ci=0.9)
    a = frame.loc[frame["accepted_followup"] == 1, "mh_diagnosis"]
    b = frame.loc[frame["accepted_followup"] == 0, "mh_diagnosis"]
    t = stats.ttest_ind(a, b, equal_var=False)
    lev = stats.levene(a, b, center="mean")
    st = res["stats"]
    assert st["t"] == pytest.approx(t.statistic) and st["p"] == pytest.approx(t.pvalue)
    assert st["df"] == pytest.approx(t.df)
    lo, hi = t.confidence_interval(0.9)
    assert (st["ci_low"], st["ci_high"]) == pytest.approx((lo, hi))
    assert st["levene_F"] == pytest.approx(lev.statistic) and st["levene_p"] == pytest.approx(lev.pvalue)
    assert [g["n"] for g in st["groups"]] == [len(b), len(a)]
    assert st["groups"][1]["mean"] == pytest.approx(a.mean()) and st["groups"][1]["sd"] == pytest.approx(a.std())


def test_crosstab_matches_scipy(store, frame):
    res = one(store, crosstab=["mh_diagnosis by accepted_followup"])
    table = pd.crosstab(frame["mh_diagnosis"], frame["accepted_followup"]).to_numpy()
    assert res["stats"]["table"] == table.tolist()
    fisher = stats.fisher_exact(table)
    chi2 = stats.chi2_contingency(table, correction=False)
    assert res["stats"]["fisher_p"] == pytest.approx(fisher.pvalue)
    assert res["stats"]["fisher_odds_ratio"] == pytest.approx(fisher.statistic)
    assert res["stats"]["chi2_p"] == pytest.approx(chi2.pvalue)


def test_describe_counts_and_moments(store, frame):
    res = one(store, describe=["age sex", "n_conjoint_sessions"], by="accepted_followup")
    st = res["stats"]
    assert [c["label"] for c in st["columns"]] == ["All", "No", "Yes"]
    age, sex, nconj = st["variables"]
    assert age["cells"][0]["mean"] == pytest.approx(frame["age"].mean())
    assert age["cells"][0]["sd"] == pytest.approx(frame["age"].std())
    assert (age["cells"][0]["min"], age["cells"][0]["max"]) == (frame["age"].min(), frame["age"].max())
    yes = frame[frame["accepted_followup"] == 1]
    assert age["cells"][2]["mean"] == pytest.approx(yes["age"].mean())
    male = sex["cells"][0]["counts"][0]
    assert male["label"] == "Male" and male["n"] == (frame["sex"] == 1).sum()
    assert male["pct"] == pytest.approx(100 * (frame["sex"] == 1).mean())
    assert nconj["type"] == "numeric" and nconj["cells"][1]["mean"] == pytest.approx(
        frame.loc[frame["accepted_followup"] == 0, "n_conjoint_sessions"].mean()
    )


def test_where_filters_rows(store, frame):
    res = one(store, linear=["last_note_outcome ~ age"], where=["sex == 1", "mh_diagnosis != 0"])
    data = frame[(frame["sex"] == 1) & (frame["mh_diagnosis"] != 0)][["last_note_outcome", "age"]].dropna()
    fit = smf.ols("last_note_outcome ~ age", data).fit()
    assert res["n"] == len(data)
    assert terms(res)["age"]["coef"] == pytest.approx(fit.params["age"])
    assert res["stats"]["where"] == ["sex == 1", "mh_diagnosis != 0"]


@pytest.mark.parametrize(
    "opts, message",
    [
        (
            {"logistic": ["accepted_followup ~ nonexistent"]},
            "--logistic \"accepted_followup ~ nonexistent\": unknown field 'nonexistent'",
        ),
        ({"logistic": ["age ~ sex"]}, "is not binary"),
        ({"linear": ["age ~ sex; import os"]}, "is not a field name"),
        ({"linear": ["age sex"]}, "malformed formula"),
        ({"linear": ["age ~ __import__('os')"]}, "is not a field name"),
        ({"welch": ["age by prior_hp_contact"]}, "has 4 values; two are needed"),
        ({"welch": ["age versus sex"]}, "expected 'FIELD by GROUP'"),
    ],
)
def test_bad_specs_are_user_errors(store, opts, message):
    with pytest.raises(UserError) as exc:
        run_stats(store, options=opts)
    assert message in str(exc.value)


def test_bad_where_is_user_error(store):
    with pytest.raises(UserError, match='--where "age > 3"'):
        run_stats(store, options={"linear": ["last_note_outcome ~ age"]}, where=["age > 3"])


# ------------------------------------------------------------------------------ separation, constants, Firth
def _spec(formula):
    y, xs = formula.split("~")
    return Spec("logistic", formula, "--logistic", outcome=y.strip(), predictors=[x.strip() for x in xs.split("+")])


KNOWN = {
    "y": Variable("y", "binary"),
    "x": Variable("x", "count"),
    "z": Variable("z", "binary"),
    "c": Variable("c", "count"),
}


def test_complete_separation_gives_firth_estimate_with_warning():
    df = pd.DataFrame(
        {"y": [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1], "x": [1, 1, 2, 2, 2, 3, 4, 4, 5, 5, 6, 6], "c": [1] * 12}
    )
    res = run_logistic(_spec("y ~ x"), df, KNOWN, 0.95)
    assert res["stats"]["method"] == "firth" and res["stats"]["separation"] == "complete"
    assert any("Firth" in w and "separation" in w for w in res["warnings"])
    t = terms(res)["x"]
    assert np.isfinite(t["coef"]) and t["odds_ratio"] > 1 and t["p"] < 0.05
    # the estimate maximises the penalised likelihood (checked with a general optimiser)
    X = np.column_stack([np.ones(12), df["x"]])
    opt = optimize.minimize(
        lambda b: -_penalised(X, df["y"].to_numpy(float), b)[0],
        np.zeros(2),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    assert [terms(res)["Intercept"]["coef"], t["coef"]] == pytest.approx(opt.x, abs=1e-4)
    # profile CI: the penalised likelihood drops by chi2(0.95)/2 at each bound
    fr = firth_logit(X, df["y"].to_numpy(float))
    assert fr.ci_low[1] < fr.coef[1] < fr.ci_high[1]
    assert t["ci_low"] == pytest.approx(fr.ci_low[1])


def test_quasi_separation_by_binary_predictor_and_constant_predictor():
    df = pd.DataFrame({"y": [1, 1, 1, 1, 0, 0, 0, 1, 0, 0], "z": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], "c": [2] * 10})
    assert separation(np.column_stack([np.ones(10), df["z"]]), df["y"].to_numpy(float)) == "quasi-complete"
    res = run_logistic(_spec("y ~ z + c"), df, KNOWN, 0.95)
    assert res["stats"]["method"] == "firth"
    assert any("constant" in w and "'c'" in w for w in res["warnings"])
    assert set(terms(res)) == {"Intercept", "z"}
    assert terms(res)["z"]["odds_ratio"] > 1


def test_no_separation_for_overlapping_data(frame):
    X = np.column_stack([np.ones(len(frame)), frame["mh_diagnosis"]])
    assert separation(X, frame["accepted_followup"].to_numpy()) is None


def _separation_on_every_row(X: np.ndarray, y: np.ndarray) -> str | None:
    """Konis's programme on every record's row, as separation posed it before it took the distinct
    rows (the reference the distinct-row programme must agree with)."""
    A = (2 * y - 1)[:, None] * X
    A = A / (np.max(np.abs(A)) or 1.0)
    res = optimize.linprog(-A.sum(axis=0), A_ub=-A, b_ub=np.zeros(len(y)), bounds=[(-1, 1)] * X.shape[1])
    if res.status != 0 or -res.fun <= 1e-7:
        return None
    k = X.shape[1]
    res2 = optimize.linprog(
        np.r_[np.zeros(k), -1.0],
        A_ub=np.c_[-A, np.ones(len(y))],
        b_ub=np.zeros(len(y)),
        bounds=[(-1, 1)] * k + [(None, 1)],
    )
    return "complete" if res2.status == 0 and -res2.fun > 1e-7 else "quasi-complete"


@pytest.mark.parametrize("seed", range(40))
def test_separation_on_distinct_rows_is_separation_on_every_row(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 400))
    z = rng.integers(0, 2, n)
    c = rng.integers(0, 5, n)
    X = np.column_stack([np.ones(n), z, c]).astype(float)
    kind = seed % 4
    if kind == 0:  # overlapping outcomes
        y = rng.integers(0, 2, n)
    elif kind == 1:  # complete: the outcome is z
        y = z.copy()
    elif kind == 2:  # quasi-complete: z = 1 always an event, z = 0 mixed
        y = np.where(z == 1, 1, rng.integers(0, 2, n))
    else:  # by the count: events above 2, with ties at 2 on both sides
        y = np.where(c > 2, 1, np.where(c < 2, 0, rng.integers(0, 2, n)))
    y = y.astype(float)
    assert separation(X, y) == _separation_on_every_row(X, y)
    if kind == 1 and 0 < y.sum() < n:
        assert separation(X, y) == "complete"


def test_constant_outcome_is_a_warning_not_a_crash():
    df = pd.DataFrame({"y": [1] * 6, "x": [1, 2, 3, 4, 5, 6]})
    res = run_logistic(_spec("y ~ x"), df, KNOWN, 0.95)
    assert res["terms"] == [] and "no model fitted" in res["warnings"][-1]
