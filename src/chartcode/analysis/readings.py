"""Plain-language readings of analysis results (one line per term or test), for the CLI and reports."""

from __future__ import annotations

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
            who = (
                f"{t['term']} 1 vs 0"
                if t["term"] in st.get("binary_predictors", [])
                else f"Each additional {t['term']}"
            )
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
        p = st.get("fisher_p", st["chi2_p"])
        test = "Fisher exact" if "fisher_p" in st else "chi-square"
        out.append(f"{test} p {_p(p)} -- {_verdict(p, ci)}")
    return out
