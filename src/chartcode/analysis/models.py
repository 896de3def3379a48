"""Analysis specs and their computation: linear, logistic, welch, crosstab, describe.

Specs are parsed from strictly checked text -- ``Y ~ X1 + X2`` (names only), ``X by G``,
``FIELD == VALUE`` / ``FIELD != VALUE`` -- and only checked column names reach patsy.
Every result is a plain dict (the ``--json`` shape)::

    {"kind", "spec", "n", "terms": [{term, label, coef, se, ci_low, ci_high, p, odds_ratio,
      or_ci_low, or_ci_high}], "stats": {...}, "warnings": [str]}

``term`` is patsy's name (``C(rank)[T.2]``), ``label`` the same in plain words ("rank = 2 vs 1").
A 2 x 2 crosstab gives Pearson's chi-square without continuity correction (``chi2``,
``chi2_correction: "none"``) and with Yates' correction (``chi2_yates``), and Fisher's exact test.
Warnings the libraries raise while computing a result are in its ``warnings`` too.

Missing values: each analysis uses the records with a value in every variable it names
(listwise deletion); excluded records are counted in a warning. ``--where`` rows with a
missing FIELD are excluded for both == and !=.
"""

from __future__ import annotations

import keyword
import math
import re
import warnings as _warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from chartcode.analysis.derived import NAME_RE, _same, distinct
from chartcode.analysis.readings import notes_from_libraries
from chartcode.codebook.types import FieldType, field_type
from chartcode.errors import UserError

KINDS = ("describe", "linear", "logistic", "welch", "crosstab")
EPV_MIN = 10


@dataclass
class Variable:
    name: str
    type: str  # codebook type, or binary/count/numeric for derived variables
    label: str = ""
    choices: tuple[tuple[Any, str], ...] = ()  # (code, label)

    @property
    def kind(self) -> FieldType:
        return field_type(self.type)

    @property
    def categorical(self) -> bool:
        return self.kind.has_choices

    @property
    def unordered(self) -> bool:
        """Unordered categories (nominal): not a quantity, so a model gives it one indicator per code."""
        return self.kind.has_choices and not self.kind.ordered

    @property
    def zero_one(self) -> bool:
        """A 0/1 variable (binary): its model coefficient is the difference between the two groups."""
        return self.kind.exact_codes == (0, 1)

    def label_for(self, code: Any) -> str:
        for c, lab in self.choices:
            if _same(pd.Series([code]), c)[0]:
                return lab
        return str(code)


@dataclass
class Where:
    field: str
    op: str
    value: Any

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value}"


@dataclass
class Spec:
    kind: str
    text: str  # the spec as shown in results
    origin: str  # how errors name it: an option or file:line
    outcome: str | None = None
    predictors: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)  # describe
    by: str | None = None
    where: list[Where] = field(default_factory=list)
    title: str = ""

    def fail(self, msg: str) -> UserError:
        return UserError(f"{self.origin}: {msg}")


# ------------------------------------------------------------------------------ parsing
def _name(token: str, known: dict[str, Variable], origin: str) -> str:
    token = token.strip()
    if not NAME_RE.match(token) or keyword.iskeyword(token):
        raise UserError(f"{origin}: {token!r} is not a field name")
    if token not in known:
        raise UserError(f"{origin}: unknown field {token!r}")
    return token


def parse_formula(kind: str, text: object, known: dict[str, Variable], origin: str) -> Spec:
    if not isinstance(text, str) or text.count("~") != 1:
        raise UserError(f"{origin}: malformed formula: expected 'Y ~ X1 + X2'")
    left, right = text.split("~")
    parts = right.split("+")
    if not left.strip() or any(not p.strip() for p in parts):
        raise UserError(f"{origin}: malformed formula: expected 'Y ~ X1 + X2'")
    y = _name(left, known, origin)
    xs = [_name(p, known, origin) for p in parts]
    if y in xs:
        raise UserError(f"{origin}: {y!r} is both the outcome and a predictor")
    if len(set(xs)) != len(xs):
        raise UserError(f"{origin}: a predictor appears twice")
    return Spec(kind, f"{y} ~ {' + '.join(xs)}", origin, outcome=y, predictors=xs)


def parse_by(kind: str, text: object, known: dict[str, Variable], origin: str) -> Spec:
    m = re.fullmatch(r"\s*(\S+)\s+by\s+(\S+)\s*", text) if isinstance(text, str) else None
    if not m:
        raise UserError(f"{origin}: malformed spec: expected 'FIELD by GROUP'")
    x, g = _name(m.group(1), known, origin), _name(m.group(2), known, origin)
    if x == g:
        raise UserError(f"{origin}: {x!r} is both the variable and the grouping field")
    return Spec(kind, f"{x} by {g}", origin, outcome=x, by=g)


def parse_describe(fields: list[str], by: str | None, known: dict[str, Variable], origin: str) -> Spec:
    if not fields:
        raise UserError(f"{origin}: name one or more fields to describe")
    names = [_name(f, known, origin) for f in fields]
    g = _name(by, known, origin) if by else None
    text = ", ".join(names) + (f" by {g}" if g else "")
    return Spec("describe", text, origin, fields=names, by=g)


def parse_where(text: object, known: dict[str, Variable], origin: str) -> Where:
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=)\s*(.+?)\s*", text) if isinstance(text, str) else None
    if not m:
        raise UserError(f"{origin}: expected 'FIELD == VALUE' or 'FIELD != VALUE'")
    name = _name(m.group(1), known, origin)
    raw = m.group(3)
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        value: Any = raw[1:-1]
    elif re.fullmatch(r"[+-]?\d+", raw):
        value = int(raw)
    else:
        try:
            value = float(raw)
        except ValueError:
            value = raw
    return Where(name, m.group(2), value)


def apply_where(frame: pd.DataFrame, where: list[Where]) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for w in where:
        col = frame[w.field]
        hit = _same(col, w.value)
        keep &= col.notna().to_numpy() & (hit if w.op == "==" else ~hit)
    return frame.loc[keep]


# ------------------------------------------------------------------------------ helpers
def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _term(name: str, coef, se, lo, hi, p, logistic: bool) -> dict[str, Any]:
    t = {
        "term": name,
        "coef": _num(coef),
        "se": _num(se),
        "ci_low": _num(lo),
        "ci_high": _num(hi),
        "p": _num(p),
        "odds_ratio": None,
        "or_ci_low": None,
        "or_ci_high": None,
    }
    if logistic:
        t["odds_ratio"] = _num(np.exp(coef)) if _num(coef) is not None else None
        t["or_ci_low"] = _num(np.exp(lo)) if _num(lo) is not None else None
        t["or_ci_high"] = _num(np.exp(hi)) if _num(hi) is not None else None
    return t


_INDICATOR = re.compile(r"^C\((?P<name>[A-Za-z_][A-Za-z0-9_]*)\)\[T\.(?P<value>.+)\]$")


def _code_text(v: Any, var: Variable) -> str:
    """A code as a person reads it: 2, not 2.0, with its choice label when it has one."""
    f = _num(v)
    shown = f"{f:g}" if f is not None else str(v)
    label = var.label_for(f if f is not None else v)
    return shown if label in (shown, str(v)) else f"{shown} ({label})"


def term_labels(terms: list[dict[str, Any]], design: pd.DataFrame, known: dict[str, Variable]) -> None:
    """Give each model term a ``label`` in plain words.

    patsy names a nominal predictor's indicators ``C(rank)[T.2.0]``: the difference between
    code 2 and the reference code, the lowest one. That reads "rank = 2 vs 1". A 0/1 predictor
    reads "mh_diagnosis 1 vs 0"; any other a one-unit change, "each additional age".
    """
    for t in terms:
        name = t["term"]
        m = _INDICATOR.match(name)
        if name == "Intercept":
            t["label"] = "Intercept"
        elif m and m.group("name") in known:
            var = known[m.group("name")]
            ref = sorted(design[var.name].dropna().unique())[0]
            t["label"] = f"{var.name} = {_code_text(m.group('value'), var)} vs {_code_text(ref, var)}"
        elif name in known and known[name].zero_one:
            t["label"] = f"{name} 1 vs 0"
        else:
            t["label"] = f"each additional {name}"


def _result(spec: Spec, n: int, terms=None, st=None, warns=None) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "spec": spec.text,
        "n": int(n),
        "terms": terms or [],
        "stats": st or {},
        "warnings": warns or [],
    }


def _complete(frame: pd.DataFrame, names: list[str], warns: list[str]) -> pd.DataFrame:
    data = frame[names].dropna()
    dropped = len(frame) - len(data)
    if dropped:
        warns.append(f"{dropped} record(s) with a missing value excluded")
    return data


def _numeric(spec: Spec, data: pd.DataFrame, name: str) -> pd.Series:
    try:
        return pd.to_numeric(data[name]).astype(float)
    except (TypeError, ValueError):
        raise spec.fail(f"{name!r} is not numeric") from None


def _design(
    spec: Spec, data: pd.DataFrame, known: dict[str, Variable], warns: list[str]
) -> tuple[pd.DataFrame, str | None]:
    """Numeric columns, constant predictors dropped (with a warning); the patsy formula or None."""
    assert spec.outcome is not None  # set for every model and test spec (parse_formula, parse_by)
    out = pd.DataFrame({spec.outcome: _numeric(spec, data, spec.outcome)})
    terms = []
    for x in spec.predictors:
        col = _numeric(spec, data, x)
        levels = col.nunique()
        if levels < 2:
            value = col.iloc[0] if len(col) else "none"
            warns.append(
                f"predictor {x!r} is constant ({value:g} in all {len(col)} records): left out of the model"
                if len(col)
                else f"predictor {x!r} has no values: left out of the model"
            )
            continue
        out[x] = col
        # a nominal field with more than 2 codes is not a quantity: one indicator per code
        terms.append(f"C({x})" if known[x].unordered and levels > 2 else x)
    if not terms:
        warns.append("no predictor varies: no model fitted")
        return out, None
    return out, f"{spec.outcome} ~ {' + '.join(terms)}"


# ------------------------------------------------------------------------------ models
def _collinear(spec: Spec) -> str:
    return (
        f"the predictors ({', '.join(spec.predictors)}) are collinear in these records (one is a "
        "combination of the others): their effects cannot be separated, no model fitted"
    )


def _model_rows(spec: Spec, frame: pd.DataFrame, warns: list[str]) -> pd.DataFrame | None:
    """The complete cases of a model's variables, or None (with a warning) when there are none."""
    assert spec.outcome is not None  # set for every model and test spec (parse_formula, parse_by)
    data = _complete(frame, [spec.outcome, *spec.predictors], warns)
    if data.empty:
        warns.append("no record has a value in every variable: no model fitted")
        return None
    return data


def run_linear(spec: Spec, frame: pd.DataFrame, known: dict[str, Variable], ci: float) -> dict[str, Any]:
    import statsmodels.formula.api as smf

    warns: list[str] = []
    data = _model_rows(spec, frame, warns)
    if data is None:
        return _result(spec, 0, warns=warns)
    design, formula = _design(spec, data, known, warns)
    n = len(design)
    if formula is None:
        return _result(spec, n, warns=warns)
    if design[spec.outcome].nunique() < 2:
        warns.append(f"outcome {spec.outcome!r} is constant: no model fitted")
        return _result(spec, n, warns=warns)
    model = smf.ols(formula, data=design)
    if n <= model.exog.shape[1]:
        warns.append(f"only {n} records for {model.exog.shape[1]} coefficients: no model fitted")
        return _result(spec, n, warns=warns)
    if np.linalg.matrix_rank(model.exog) < model.exog.shape[1]:
        warns.append(_collinear(spec))
        return _result(spec, n, warns=warns)
    fit = model.fit()
    conf = fit.conf_int(alpha=1 - ci)
    terms = [
        _term(name, fit.params[name], fit.bse[name], conf.loc[name, 0], conf.loc[name, 1], fit.pvalues[name], False)
        for name in fit.params.index
    ]
    term_labels(terms, design, known)
    st = {
        "r2": _num(fit.rsquared),
        "adj_r2": _num(fit.rsquared_adj),
        "f": _num(fit.fvalue),
        "f_p": _num(fit.f_pvalue),
        "df_model": _num(fit.df_model),
        "df_resid": _num(fit.df_resid),
        "ci": ci,
        "method": "ordinary least squares",
        "binary_predictors": [x for x in spec.predictors if known[x].zero_one],
    }
    return _result(spec, n, terms, st, warns)


def separation(X: np.ndarray, y: np.ndarray) -> str | None:
    """'complete' / 'quasi-complete' when some direction b separates the outcomes, else None.

    Linear programme of Konis (2007): maximise sum s_i x_i'b subject to s_i x_i'b >= 0,
    -1 <= b <= 1, with s_i = +1 for events and -1 for non-events; a positive optimum means
    the maximum-likelihood estimate does not exist.

    The programme is posed on the distinct rows of s_i x_i only, the objective weighting each by
    how many records have it: a repeated row is the same constraint, and the objective the same
    sum, so the optimum is the one on every row. A model of a few categorical and whole-number
    predictors has a few thousand distinct rows however many records it has (on 250,000 records
    the solver held 300 MB for the whole matrix).
    """
    from scipy import optimize

    A = (2 * y - 1)[:, None] * X
    scale = np.max(np.abs(A)) or 1.0
    A, count = np.unique(A / scale, axis=0, return_counts=True)
    res = optimize.linprog(-(count @ A), A_ub=-A, b_ub=np.zeros(len(A)), bounds=[(-1, 1)] * X.shape[1], method="highs")
    if res.status != 0 or -res.fun <= 1e-7:
        return None
    # complete when some b makes every margin positive: maximise t subject to A b >= t, t <= 1
    k = X.shape[1]
    res2 = optimize.linprog(
        np.r_[np.zeros(k), -1.0],
        A_ub=np.c_[-A, np.ones(len(A))],
        b_ub=np.zeros(len(A)),
        bounds=[(-1, 1)] * k + [(None, 1)],
        method="highs",
    )
    return "complete" if res2.status == 0 and -res2.fun > 1e-7 else "quasi-complete"


def run_logistic(spec: Spec, frame: pd.DataFrame, known: dict[str, Variable], ci: float) -> dict[str, Any]:
    assert spec.outcome is not None  # set for every model and test spec (parse_formula, parse_by)
    import statsmodels.formula.api as smf

    warns: list[str] = []
    data = _model_rows(spec, frame, warns)
    if data is None:
        return _result(spec, 0, warns=warns)
    values = set(_numeric(spec, data, spec.outcome).unique())
    if not values <= {0.0, 1.0}:
        shown = ", ".join(f"{v:g}" for v in sorted(values)[:6])
        raise spec.fail(f"outcome {spec.outcome!r} is not binary 0/1 (values: {shown}); derive a 0/1 variable")
    design, formula = _design(spec, data, known, warns)
    n = len(design)
    y = design[spec.outcome].to_numpy()
    events = int(y.sum())
    st: dict[str, Any] = {
        "events": events,
        "non_events": n - events,
        "ci": ci,
        "binary_predictors": [x for x in spec.predictors if known[x].zero_one],
    }
    if formula is None:
        return _result(spec, n, st=st, warns=warns)
    if events in (0, n):
        warns.append(f"outcome {spec.outcome!r} is {int(events == n)} in all {n} records: no model fitted")
        return _result(spec, n, st=st, warns=warns)
    model = smf.logit(formula, data=design)
    X, names = model.exog, list(model.exog_names)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        warns.append(_collinear(spec))
        return _result(spec, n, st=st, warns=warns)
    k = X.shape[1] - 1
    epv = min(events, n - events) / max(k, 1)
    st["events_per_variable"] = epv
    if epv < EPV_MIN:
        warns.append(
            f"only {epv:.1f} events per predictor (fewer than {EPV_MIN}): estimates may be unstable "
            "and biased away from 0; read them with caution"
        )
    sep = separation(X, y)
    fit = None
    if sep is None:
        with _warnings.catch_warnings(record=True) as caught:
            _warnings.simplefilter("always")
            try:
                fit = model.fit(disp=0, maxiter=100)
            except Exception as exc:  # singular information, perfect prediction in old statsmodels
                warns.append(f"maximum likelihood failed ({type(exc).__name__})")
                fit = None
        if fit is not None and (
            not fit.mle_retvals.get("converged", True)
            or not np.all(np.isfinite(fit.bse))
            or any("separation" in str(c.message).lower() for c in caught)
        ):
            warns.append("maximum likelihood did not converge")
            fit = None
    if fit is None:
        what = f"{sep} separation" if sep else "no maximum-likelihood estimate"
        warns.append(
            f"{what}: the maximum-likelihood odds ratio is infinite or undefined; shown instead: "
            "Firth penalised-likelihood estimates (Firth 1993; Heinze & Schemper 2002) with profile "
            "penalised-likelihood CIs and penalised likelihood-ratio p values (SE is Wald)"
        )
        from chartcode.analysis.firth import firth_logit

        fr = firth_logit(X, y, ci)
        if not fr.converged:
            warns.append("the Firth estimate did not converge; treat it as unreliable")
        terms = [
            _term(
                nm,
                fr.coef[i],
                fr.se[i],
                fr.ci_low[i] if np.isfinite(fr.ci_low[i]) else None,
                fr.ci_high[i] if np.isfinite(fr.ci_high[i]) else None,
                fr.p[i],
                True,
            )
            for i, nm in enumerate(names)
        ]
        term_labels(terms, design, known)
        st.update(
            {
                "method": "firth",
                "ci_method": "profile penalised likelihood",
                "p_method": "penalised likelihood ratio",
                "separation": sep,
                "penalised_loglik": _num(fr.loglik),
                "llr_p": None,
                "pseudo_r2": None,
            }
        )
        return _result(spec, n, terms, st, warns)
    conf = fit.conf_int(alpha=1 - ci)
    terms = [
        _term(nm, fit.params[nm], fit.bse[nm], conf.loc[nm, 0], conf.loc[nm, 1], fit.pvalues[nm], True)
        for nm in fit.params.index
    ]
    term_labels(terms, design, known)
    st.update(
        {
            "method": "maximum likelihood",
            "ci_method": "Wald",
            "p_method": "Wald",
            "separation": None,
            "llr_p": _num(fit.llr_pvalue),
            "pseudo_r2": _num(fit.prsquared),
            "llf": _num(fit.llf),
            "llr": _num(fit.llr),
        }
    )
    return _result(spec, n, terms, st, warns)


def _equals(series: pd.Series, g: Any) -> np.ndarray:
    """Rows where the value == g (Python equality; missing never), once per distinct value, not per row."""
    codes, reps = distinct(series)
    hits = np.array([bool(v == g) for v in reps] + [False], dtype=bool)
    return hits[codes]


def _two_groups(spec: Spec, data: pd.DataFrame, known: dict[str, Variable]) -> list[Any]:
    groups = sorted(data[spec.by].unique(), key=lambda v: (str(type(v)), v))
    if len(groups) > 2:
        raise spec.fail(
            f"grouping field {spec.by!r} has {len(groups)} values; two are needed "
            "(derive a 0/1 variable or use --where)"
        )
    return groups


def run_welch(spec: Spec, frame: pd.DataFrame, known: dict[str, Variable], ci: float) -> dict[str, Any]:
    from scipy import stats  # here, not at import: exports read derived variables without scipy

    assert spec.outcome is not None and spec.by is not None  # set by parse_by
    warns: list[str] = []
    data = _complete(frame, [spec.outcome, spec.by], warns)
    groups = _two_groups(spec, data, known)
    x = _numeric(spec, data, spec.outcome)
    g_info = []
    samples = []
    for g in groups:
        s = x[_equals(data[spec.by], g)].to_numpy()
        samples.append(s)
        g_info.append(
            {
                "value": _plain_value(g),
                "label": known[spec.by].label_for(g),
                "n": int(len(s)),
                "mean": _num(s.mean()) if len(s) else None,
                "sd": _num(s.std(ddof=1)) if len(s) > 1 else None,
            }
        )
    st: dict[str, Any] = {"groups": g_info, "ci": ci, "difference": None}
    if len(groups) < 2 or any(len(s) < 2 for s in samples):
        warns.append("each group needs 2 or more records: no test")
        return _result(spec, len(data), st=st, warns=warns)
    a, b = samples[1], samples[0]  # second group minus first (e.g. accepted 1 minus declined 0)
    if np.var(a) == 0 and np.var(b) == 0:
        warns.append(f"{spec.outcome!r} does not vary within either group: no test")
        return _result(spec, len(data), st=st, warns=warns)
    t = stats.ttest_ind(a, b, equal_var=False)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    diff = a.mean() - b.mean()
    q = stats.t.ppf(0.5 + ci / 2, df)
    flat = [g["label"] for g, s in zip(g_info[::-1], (a, b), strict=True) if np.var(s) == 0]
    if flat:
        # Levene compares spreads: with no spread in a group its F is infinite or 0/0
        lev = None
        warns.append(f"{spec.outcome!r} does not vary in group {' and '.join(flat)}: Levene's test is undefined")
    else:
        lev = stats.levene(a, b, center="mean")
        if not math.isfinite(lev.statistic):
            warns.append("Levene's test is undefined here (every record is equally far from its group mean)")
    st.update(
        {
            "t": _num(t.statistic),
            "df": _num(df),
            "p": _num(t.pvalue),
            "difference": _num(diff),
            "se": _num(se),
            "ci_low": _num(diff - q * se),
            "ci_high": _num(diff + q * se),
            "levene_F": _num(lev.statistic) if lev is not None else None,
            "levene_p": _num(lev.pvalue) if lev is not None and _num(lev.statistic) is not None else None,
            "method": "Welch t test (unequal variances); Levene centred on the mean (as SPSS)",
        }
    )
    if min(len(a), len(b)) < 5:
        warns.append("a group has fewer than 5 records: the t approximation is rough")
    return _result(spec, len(data), st=st, warns=warns)


def _plain_value(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        f = float(v)
        return int(f) if f.is_integer() else f
    return v


def run_crosstab(spec: Spec, frame: pd.DataFrame, known: dict[str, Variable], ci: float) -> dict[str, Any]:
    from scipy import stats  # here, not at import: exports read derived variables without scipy

    assert spec.outcome is not None and spec.by is not None  # set by parse_by
    warns: list[str] = []
    data = _complete(frame, [spec.outcome, spec.by], warns)
    rows = sorted(data[spec.outcome].unique(), key=lambda v: (str(type(v)), v))
    cols = sorted(data[spec.by].unique(), key=lambda v: (str(type(v)), v))
    table = [[int(((data[spec.outcome] == r) & (data[spec.by] == c)).sum()) for c in cols] for r in rows]
    st: dict[str, Any] = {
        "rows": [{"value": _plain_value(r), "label": known[spec.outcome].label_for(r)} for r in rows],
        "columns": [{"value": _plain_value(c), "label": known[spec.by].label_for(c)} for c in cols],
        "table": table,
        "ci": ci,
    }
    if len(rows) < 2 or len(cols) < 2:
        warns.append("a variable takes one value only: no test")
        return _result(spec, len(data), st=st, warns=warns)
    arr = np.array(table)
    chi2, p, dof, expected = stats.chi2_contingency(arr, correction=False)
    st.update({"chi2": _num(chi2), "chi2_df": int(dof), "chi2_p": _num(p), "chi2_correction": "none"})
    if arr.shape == (2, 2):
        # both, said: SPSS prints the two rows; textbooks and R's chisq.test default to Yates
        yates = stats.chi2_contingency(arr, correction=True)
        st.update({"chi2_yates": _num(yates.statistic), "chi2_yates_p": _num(yates.pvalue)})
    if (expected < 5).any():
        warns.append(
            f"{int((expected < 5).sum())} cell(s) with expected count below 5: prefer the exact test"
            if arr.shape == (2, 2)
            else "cells with expected count below 5: the chi-square p is unreliable"
        )
    if arr.shape == (2, 2):
        res = stats.fisher_exact(arr)
        st.update(
            {
                "fisher_odds_ratio": _num(res.statistic),
                "fisher_p": _num(res.pvalue),
                "odds_ratio_note": "sample odds ratio (a*d)/(b*c), rows and columns in code order",
            }
        )
    return _result(spec, len(data), st=st, warns=warns)


def run_describe(spec: Spec, frame: pd.DataFrame, known: dict[str, Variable], ci: float) -> dict[str, Any]:
    warns: list[str] = []
    columns = [{"value": None, "label": "All", "n": int(len(frame))}]
    subsets = [frame]
    if spec.by:
        by = frame[spec.by]
        missing = int(by.isna().sum())
        if missing:
            warns.append(f"{missing} record(s) with no {spec.by} value appear under All only")
        for g in sorted(by.dropna().unique(), key=lambda v: (str(type(v)), v)):
            sub = frame[_equals(by, g)]
            columns.append({"value": _plain_value(g), "label": known[spec.by].label_for(g), "n": int(len(sub))})
            subsets.append(sub)
    variables = []
    for name in spec.fields:
        var = known[name]
        entry: dict[str, Any] = {
            "field": name,
            "label": var.label,
            "type": "categorical" if var.categorical else "numeric",
            "cells": [],
        }
        for sub in subsets:
            col = sub[name]
            present = col.dropna()
            cell: dict[str, Any] = {"n": int(len(present)), "missing": int(len(col) - len(present))}
            if var.categorical:
                codes = list(var.choices) or [(c, str(c)) for c in sorted(present.unique())]
                counts = []
                for code, label in codes:
                    k = int(_same(present, code).sum())
                    counts.append(
                        {
                            "code": _plain_value(code),
                            "label": label,
                            "n": k,
                            "pct": _num(100 * k / len(present)) if len(present) else None,
                        }
                    )
                cell["counts"] = counts
            else:
                x = pd.to_numeric(present).astype(float)
                cell.update(
                    {
                        "mean": _num(x.mean()) if len(x) else None,
                        "sd": _num(x.std(ddof=1)) if len(x) > 1 else None,
                        "min": _num(x.min()) if len(x) else None,
                        "max": _num(x.max()) if len(x) else None,
                    }
                )
            entry["cells"].append(cell)
        variables.append(entry)
    return _result(spec, len(frame), st={"by": spec.by, "columns": columns, "variables": variables}, warns=warns)


RUNNERS = {
    "linear": run_linear,
    "logistic": run_logistic,
    "welch": run_welch,
    "crosstab": run_crosstab,
    "describe": run_describe,
}


def run_spec(spec: Spec, frame: pd.DataFrame, known: dict[str, Variable], ci: float) -> dict[str, Any]:
    data = apply_where(frame, spec.where) if spec.where else frame
    notes: list[str] = []
    with notes_from_libraries(notes):
        result = RUNNERS[spec.kind](spec, data, known, ci)
    result["warnings"] += [n for n in notes if n not in result["warnings"]]
    if spec.where:
        result["stats"]["where"] = [str(w) for w in spec.where]
    if spec.title:
        result["stats"]["title"] = spec.title
    return result
