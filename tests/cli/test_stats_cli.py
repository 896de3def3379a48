"""`chartcode stats`: declared analyses, --json shape, options, errors (exit 2 naming line/option)."""

from __future__ import annotations

import pytest

from chartcode.cli import cli as _cli_group
from chartcode.cli.stats import stats
from chartcode.demo import build_demo

if "stats" not in _cli_group.commands:
    _cli_group.add_command(stats)

TERM_KEYS = {"term", "label", "coef", "se", "ci_low", "ci_high", "p", "odds_ratio", "or_ci_low", "or_ci_high"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


def test_declared_analyses_all_run_json(cli, demo_db):
    r = cli("stats", demo_db, "--json")
    assert r.code == 0, r.err
    analyses = r.json["analyses"]
    assert [a["kind"] for a in analyses] == [
        "describe",
        "describe",
        "linear",
        "logistic",
        "logistic",
        "logistic",
        "welch",
        "welch",
        "welch",
        "crosstab",
    ]
    specs = [a["spec"] for a in analyses]
    for s in (
        "last_note_outcome ~ n_conjoint_sessions",
        "accepted_followup ~ n_conjoint_sessions",
        "followed_through ~ n_conjoint_sessions",
        "accepted_followup ~ mh_diagnosis",
        "sud_diagnosis by accepted_followup",
        "mh_diagnosis by accepted_followup",
        "prior_hp_any by accepted_followup",
    ):
        assert s in specs
    for a in analyses:
        assert set(a) == {"kind", "spec", "n", "terms", "stats", "warnings"}
        assert isinstance(a["n"], int) and a["n"] > 0
        for t in a["terms"]:
            assert set(t) == TERM_KEYS
        if a["kind"] in ("linear", "logistic"):
            assert [t["term"] for t in a["terms"]][0] == "Intercept" and len(a["terms"]) == 2
        if a["kind"] == "welch":
            assert {"t", "df", "p", "levene_F", "levene_p", "groups"} <= set(a["stats"])


def test_human_output_has_tables_and_readings(cli, demo_db):
    r = cli("stats", demo_db)
    assert r.code == 0, r.err
    assert "Reading: mh_diagnosis 1 vs 0: OR" in r.out
    assert "Levene (mean-centred)" in r.out and "Welch t(" in r.out
    assert "Male" in r.out and "All (n = 24)" in r.out
    # the demo's n_conjoint_sessions separates acceptance: Firth, labelled
    assert "Firth" in r.out


def test_options_replace_declared_analyses_and_ci(cli, demo_db):
    a = cli("stats", demo_db, "--json", "--logistic", "accepted_followup ~ mh_diagnosis").json["analyses"]
    b = cli("stats", demo_db, "--json", "--logistic", "accepted_followup ~ mh_diagnosis", "--ci", "0.90").json[
        "analyses"
    ]
    assert len(a) == len(b) == 1
    ta, tb = a[0]["terms"][1], b[0]["terms"][1]
    assert ta["coef"] == tb["coef"] and ta["ci_low"] < tb["ci_low"] and tb["ci_high"] < ta["ci_high"]
    assert "90% CI" in cli("stats", demo_db, "--logistic", "accepted_followup ~ mh_diagnosis", "--ci", "0.9").out


def test_where_and_describe_by(cli, demo_db):
    r = cli(
        "stats",
        demo_db,
        "--json",
        "--describe",
        "age",
        "--describe",
        "sex",
        "--by",
        "accepted_followup",
        "--where",
        "mh_diagnosis == 1",
    )
    assert r.code == 0, r.err
    a = r.json["analyses"][0]
    assert a["kind"] == "describe" and a["n"] == 18 and a["stats"]["where"] == ["mh_diagnosis == 1"]
    assert [c["n"] for c in a["stats"]["columns"]] == [18, 11, 7]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--logistic", "accepted_followup ~ nonexistent"],
            "--logistic \"accepted_followup ~ nonexistent\": unknown field 'nonexistent'",
        ),
        (["--logistic", "last_note_outcome ~ age"], "not binary 0/1"),
        (["--linear", "age ~ sex +"], "malformed formula"),
        (["--linear", "age ~ sex", "--where", "age >= 3"], '--where "age >= 3"'),
        (["--welch", "age by nonexistent"], '--welch "age by nonexistent": unknown field'),
        (["--by", "sex"], "--by goes with --describe"),
    ],
)
def test_bad_options_exit_2(cli, demo_db, args, message):
    r = cli("stats", demo_db, *args)
    assert r.code == 2
    assert message in r.err
    assert "Traceback" not in r.err


def test_bad_audit_sections_exit_2_with_line(cli, tmp_path):
    audit = tmp_path / "bad.yaml"
    audit.write_text(
        "id: conjoint-pain\ntitle: t\ncodebook: conjoint-pain\ncoders: [intern]\n"
        "derived:\n  - name: x\n    equals: {field: y, value: 1}\n"
        "analyses:\n  - linear: age ~ x\n",
        encoding="utf-8",
    )
    db = tmp_path / "a.db"
    assert cli("init", db, "--audit", audit).code == 0
    r = cli("stats", db)
    assert r.code == 2 and "audits/conjoint-pain.yaml:7: derived 'x': unknown field 'y'" in r.err

    audit.write_text(
        "id: conjoint-pain\ntitle: t\ncodebook: conjoint-pain\ncoders: [intern]\n"
        "analyses:\n  - linear: age ~ sex\n  - welch: age with sex\n",
        encoding="utf-8",
    )
    db2 = tmp_path / "b.db"
    assert cli("init", db2, "--audit", audit).code == 0
    r = cli("stats", db2)
    assert r.code == 2 and "audits/conjoint-pain.yaml:7: welch 'age with sex': malformed spec" in r.err


def test_no_declared_analyses_is_user_error(cli, tmp_path):
    db = tmp_path / "cb.db"
    assert cli("init", db, "--codebook", "conjoint-pain").code == 0
    r = cli("stats", db)
    assert r.code == 2 and "no 'analyses' declared" in r.err


def test_uncoded_audit_warns_not_crashes(cli, audit_db):
    r = cli("stats", audit_db, "--json")
    assert r.code == 0, r.err
    linear = [a for a in r.json["analyses"] if a["kind"] == "linear"][0]
    assert linear["n"] == 0 and linear["terms"] == [] and "no model fitted" in linear["warnings"][-1]
