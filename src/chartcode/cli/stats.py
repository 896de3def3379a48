"""`chartcode stats`: the audit's analyses on the final values (registered in cli/__init__.py).

The computation lives in chartcode.analysis; this module only parses options and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from chartcode.cli.common import _table, _Target


def format_result(result: dict[str, Any]) -> list[str]:
    # imported here: chartcode.analysis brings in scipy and statsmodels (about 1 s), which the
    # other commands registered next to this one should not pay for at start-up
    from chartcode.analysis.readings import _ci_pct, _f, _p, chi_square_words, reading

    kind, st = result["kind"], result["stats"]
    ci = st.get("ci", 0.95)
    title = st.get("title")
    lines = [f"{kind}: {result['spec']}  (n = {result['n']})" + (f"  -- {title}" if title else "")]
    if st.get("where"):
        lines.append(f"  where {' and '.join(st['where'])}")
    if kind in ("linear", "logistic") and result["terms"]:
        level = _ci_pct(ci)
        header = ["term", "coef", "SE", f"{level} CI", "p"]
        if kind == "logistic":
            header += ["OR", f"{level} CI (OR)"]
        rows = []
        for t in result["terms"]:
            row = [
                t.get("label") or t["term"],
                _f(t["coef"], 3),
                _f(t["se"], 3),
                f"{_f(t['ci_low'], 3)} to {_f(t['ci_high'], 3)}",
                _p(t["p"]).removeprefix("= "),
            ]
            if kind == "logistic":
                row += [_f(t["odds_ratio"], 3), f"{_f(t['or_ci_low'], 3)} to {_f(t['or_ci_high'], 3)}"]
            rows.append(row)
        lines += _table(header, rows)
        if kind == "linear":
            lines.append(f"  R2 = {_f(st['r2'], 3)}, adjusted R2 = {_f(st['adj_r2'], 3)}, F p {_p(st['f_p'])}")
        elif st.get("method") == "firth":
            lines.append(f"  method: Firth penalised likelihood; CIs {st['ci_method']}; p {st['p_method']}")
        else:
            lines.append(
                f"  method: maximum likelihood, Wald CIs; LR test p {_p(st.get('llr_p'))}, "
                f"McFadden pseudo R2 = {_f(st.get('pseudo_r2'), 3)}; {st['events']} events of {result['n']}"
            )
    elif kind == "welch":
        rows = [[f"{g['label']} ({g['value']})", str(g["n"]), _f(g["mean"]), _f(g["sd"])] for g in st["groups"]]
        lines += _table([f"group ({result['spec'].split(' by ')[1]})", "n", "mean", "SD"], rows)
        if st.get("t") is not None:
            lines.append(
                f"  Levene (mean-centred) F = {_f(st['levene_F'])}, p {_p(st['levene_p'])}; "
                f"Welch t({_f(st['df'], 1)}) = {_f(st['t'])}, p {_p(st['p'])}"
            )
    elif kind == "crosstab":
        header = [
            result["spec"].split(" by ")[0] + " \\ " + result["spec"].split(" by ")[1],
            *[f"{c['label']} ({c['value']})" for c in st["columns"]],
        ]
        rows = [
            [f"{r['label']} ({r['value']})", *[str(x) for x in row]]
            for r, row in zip(st["rows"], st["table"], strict=True)
        ]
        lines += _table(header, rows)
        if st.get("chi2") is not None:
            lines.append(f"  {chi_square_words(st)}")
            if "fisher_p" in st:
                lines.append(f"  Fisher exact p {_p(st['fisher_p'])}, odds ratio {_f(st['fisher_odds_ratio'])}")
    elif kind == "describe":
        header = [""] + [f"{c['label']} (n = {c['n']})" for c in st["columns"]]
        rows = []
        for v in st["variables"]:
            rows.append(
                [
                    f"{v['field']}" + ("" if v["type"] == "categorical" else ", mean (SD) [range]"),
                    *["" for _ in st["columns"]],
                ]
            )
            if v["type"] == "categorical":
                for i, choice in enumerate(v["cells"][0]["counts"]):
                    cells = [c["counts"][i] for c in v["cells"]]
                    rows.append(
                        [
                            f"  {choice['label']}",
                            *[f"{c['n']} ({_f(c['pct'], 1)}%)" if c["pct"] is not None else "0" for c in cells],
                        ]
                    )
            else:
                rows[-1][1:] = [
                    f"{_f(c['mean'], 1)} ({_f(c['sd'], 1)}) [{_f(c['min'], 0)} to {_f(c['max'], 0)}]"
                    if c["mean"] is not None
                    else "no values"
                    for c in v["cells"]
                ]
            missing = [c["missing"] for c in v["cells"]]
            if any(missing):
                rows.append(["  (no final value)", *[str(m) for m in missing]])
        lines += _table(header, rows)
    for line in reading(result):
        lines.append(f"  Reading: {line}")
    for w in result["warnings"]:
        lines.append(f"  warning: {w}")
    return lines


@click.command("stats")
@click.argument("db", type=_Target())
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--describe", multiple=True, metavar="FIELD", help="Describe fields (repeatable, or 'a b c').")
@click.option("--by", metavar="FIELD", help="With --describe: a column per value of FIELD.")
@click.option("--linear", multiple=True, metavar='"Y ~ X1 + X2"', help="Linear regression (OLS).")
@click.option("--logistic", multiple=True, metavar='"Y ~ X1 + X2"', help="Logistic regression of a 0/1 outcome.")
@click.option("--welch", multiple=True, metavar='"X by G"', help="Welch t test of X between 2 groups, with Levene.")
@click.option("--crosstab", multiple=True, metavar='"X by G"', help="Cross-tabulation with chi-square / Fisher exact.")
@click.option(
    "--where",
    "where",
    multiple=True,
    metavar='"FIELD == VALUE"',
    help="Only records where FIELD == or != VALUE (repeatable: all must hold).",
)
@click.option(
    "--ci",
    "ci",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    metavar="LEVEL",
    help="Confidence level of the intervals.",
)
def stats(db: Path, as_json: bool, describe, by, linear, logistic, welch, crosstab, where, ci: float):
    """Statistics on the final values: the audit's declared analyses, or those given here.

    \b
    With no analysis options, runs the audit file's `analyses:` (derived variables from its
    `derived:` section can be used everywhere a field can).
      chartcode stats audit.db --logistic "accepted_followup ~ mh_diagnosis"
      chartcode stats audit.db --describe "age sex" --by accepted_followup
    """
    from chartcode.analysis import run_stats
    from chartcode.store import open_store

    store = open_store(db)
    try:
        report = run_stats(
            store,
            options={
                "describe": describe,
                "by": by,
                "linear": linear,
                "logistic": logistic,
                "welch": welch,
                "crosstab": crosstab,
            },
            where=where,
            ci=ci,
        )
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report, allow_nan=False))
        return
    for i, result in enumerate(report["analyses"]):
        if i:
            click.echo("")
        for line in format_result(result):
            click.echo(line)
