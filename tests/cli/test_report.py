"""`chartcode report`: what the page contains, in HTML and Markdown."""

from __future__ import annotations

import re

import pytest


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from chartcode.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("report"))


def test_html_report_is_self_contained_with_tables_and_charts(cli, demo_db, tmp_path):
    out = tmp_path / "report.html"
    r = cli("report", demo_db, "--out", out, "--bootstrap", "50")
    assert r.code == 0, r.err
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "viewport" in page and "@media print" in page
    for heading in ("Audit and coding progress", "Agreement", "Field distributions", "Analyses", "Open disagreements"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<svg") >= 5 and page.count("<table>") >= 3
    # nothing external: no fetched URLs (the SVG namespace is a name, not a fetch)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script" not in page
    assert "5 units to reconcile" in page  # the demo's five open disagreements
    assert "SYNTHETIC DEMO NOTE" not in page  # no note text in reports


def test_markdown_report(cli, demo_db, tmp_path):
    out = tmp_path / "report.md"
    assert cli("report", demo_db, "--out", out, "--bootstrap", "20").code == 0
    md = out.read_text()
    assert md.startswith("# ") and "## Agreement" in md and "| field | level |" in md


def test_report_into_a_missing_folder_is_a_user_error(cli, demo_db, tmp_path):
    r = cli("report", demo_db, "--out", tmp_path / "nope" / "r.html")
    assert r.code == 2 and "no such folder" in r.err


def test_report_shows_each_seed_analysis_and_numbers_match_statsmodels_on_the_export(cli, tmp_path):
    import pandas as pd
    import statsmodels.formula.api as smf
    from scipy import stats as st

    from chartcode.demo import build_demo

    db = build_demo(tmp_path / "complete", complete=True)
    out = tmp_path / "r.html"
    assert cli("report", db, "--out", out, "--bootstrap", "20").code == 0
    page = out.read_text()
    for spec in (
        "last_note_outcome ~ n_conjoint_sessions",
        "accepted_followup ~ n_conjoint_sessions",
        "followed_through ~ n_conjoint_sessions",
        "accepted_followup ~ mh_diagnosis",
        "sud_diagnosis by accepted_followup",
        "mh_diagnosis by accepted_followup",
        "prior_hp_any by accepted_followup",
    ):
        assert spec in page, spec
    # the analyst's route: export, read back with pandas, fit with statsmodels / scipy
    assert cli("export", db, "--format", "csv", "--out", tmp_path / "data.csv").code == 0
    data = pd.read_csv(tmp_path / "data.csv")
    results = {(a["kind"], a["spec"]): a for a in cli("stats", db, "--json").json["analyses"]}
    fit = smf.logit("accepted_followup ~ mh_diagnosis", data=data).fit(disp=0)
    ours = {t["term"]: t for t in results[("logistic", "accepted_followup ~ mh_diagnosis")]["terms"]}
    assert abs(ours["mh_diagnosis"]["coef"] - fit.params["mh_diagnosis"]) < 1e-6
    assert abs(ours["mh_diagnosis"]["p"] - fit.pvalues["mh_diagnosis"]) < 1e-6
    welch = results[("welch", "mh_diagnosis by accepted_followup")]["stats"]
    t = st.ttest_ind(
        data.loc[data.accepted_followup == 1, "mh_diagnosis"],
        data.loc[data.accepted_followup == 0, "mh_diagnosis"],
        equal_var=False,
    )
    assert abs(welch["p"] - t.pvalue) < 1e-9
    lev = st.levene(
        data.loc[data.accepted_followup == 1, "mh_diagnosis"],
        data.loc[data.accepted_followup == 0, "mh_diagnosis"],
        center="mean",
    )
    assert abs(welch["levene_p"] - lev.pvalue) < 1e-9
