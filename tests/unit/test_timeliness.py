"""Review timeliness: calendar-month arithmetic, boundaries, gaps, coverage, Wilson CIs, the audit block."""

from __future__ import annotations

import ast
import math
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from chartcode import resources
from chartcode.audit import load_audit
from chartcode.codebook import load_codebook
from chartcode.errors import UserError
from chartcode.timeliness import add_months, domain_coverage, parse_timeliness, rate, review_timeline, summarise
from chartcode.yamlsrc import load_located

D = date.fromisoformat
DAY = timedelta(days=1)
SRC = Path(__file__).resolve().parents[2] / "src" / "chartcode"


# ------------------------------------------------------------------------------ add_months
@pytest.mark.parametrize(
    "start, n, expected",
    [
        ("2023-11-30", 3, "2024-02-29"),  # clamped to a leap February
        ("2024-11-30", 3, "2025-02-28"),  # clamped to a common February
        ("2024-01-31", 1, "2024-02-29"),
        ("2023-11-29", 3, "2024-02-29"),  # not clamped: 29 exists in a leap February
        ("2024-02-29", 3, "2024-05-29"),  # the 29th is kept, not moved to the month's end
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-08-31", 6, "2025-02-28"),
        ("2024-12-15", 1, "2025-01-15"),  # over a year end
        ("2024-03-31", -1, "2024-02-29"),
        ("2024-01-15", 0, "2024-01-15"),
    ],
)
def test_add_months_keeps_the_day_and_clamps_at_month_end(start, n, expected):
    assert add_months(D(start), n) == D(expected)


# ------------------------------------------------------------------------------ first review
def tl(entry, reviews, as_of, **kw):
    return review_timeline(D(entry) if entry else None, [D(r) for r in reviews], D(as_of), **kw)


def test_review_exactly_three_months_after_entry_is_within():
    t = tl("2024-01-15", ["2024-04-15"], "2024-05-01")
    assert t["first_within_3"] is True and t["first_within_6"] is True and t["status"] == "timely"
    assert t["days_to_first_review"] == 91


def test_review_one_day_after_three_months_is_not_within_3_but_within_6():
    t = tl("2024-01-15", ["2024-04-16"], "2024-05-01")
    assert t["first_within_3"] is False and t["first_within_6"] is True and t["status"] == "late"


def test_review_one_day_after_six_months_is_within_neither():
    t = tl("2024-01-15", ["2024-07-16"], "2024-08-01")
    assert t["first_within_3"] is False and t["first_within_6"] is False and t["status"] == "late"
    assert tl("2024-01-15", ["2024-07-15"], "2024-08-01")["first_within_6"] is True


@pytest.mark.parametrize(
    "entry, last_within",
    [
        ("2023-11-29", "2024-02-29"),
        ("2023-11-30", "2024-02-29"),
        ("2024-02-29", "2024-05-29"),
        ("2024-11-30", "2025-02-28"),
        ("2024-08-31", "2024-11-30"),
    ],
)
def test_leap_year_and_month_end_boundaries(entry, last_within):
    day_after = (D(last_within) + DAY).isoformat()
    assert tl(entry, [last_within], "2025-12-31")["first_within_3"] is True
    assert tl(entry, [day_after], "2025-12-31")["first_within_3"] is False


# ------------------------------------------------------------------------------ no review yet
def test_no_review_on_the_three_month_day_is_not_yet_due_and_left_out():
    t = tl("2023-11-30", [], "2024-02-29")
    assert t["status"] == "not_yet_due" and t["first_within_3"] is None and t["first_within_6"] is None
    assert t["next_review_due"] == "2024-02-29"


def test_no_review_the_day_after_three_months_is_overdue_and_counts_as_missed():
    t = tl("2023-11-30", [], "2024-03-01")
    assert t["status"] == "overdue" and t["first_within_3"] is False
    assert t["first_within_6"] is None  # a review could still come within 6 months
    assert t["all_gaps_within"] is None and t["longest_gap_days"] is None


def test_no_review_past_six_months_misses_both():
    assert tl("2023-11-30", [], "2024-05-30")["first_within_6"] is None
    t = tl("2023-11-30", [], "2024-05-31")
    assert t["first_within_3"] is False and t["first_within_6"] is False


def test_entry_after_the_as_of_date_is_not_yet_due_with_a_problem():
    t = tl("2025-02-01", [], "2025-01-31")
    assert t["status"] == "not_yet_due" and any("after the as-of date" in p for p in t["problems"])


def test_no_entry_date_cannot_be_judged_but_reviews_are_counted():
    t = tl(None, ["2024-05-01", "2024-11-01"], "2025-01-01")
    assert t["status"] == "no_entry_date" and t["n_reviews"] == 2
    assert t["first_within_3"] is None and t["days_to_first_review"] is None and t["problems"]


# ------------------------------------------------------------------------------ data problems
def test_reviews_before_entry_are_problems_not_crashes_and_are_left_out():
    t = tl("2024-05-01", ["2024-03-01", "2024-06-20"], "2024-08-01")
    assert t["problems"] == ["review dated 2024-03-01 is before treatment entry 2024-05-01"]
    assert t["n_reviews"] == 1 and t["first_review"] == "2024-06-20" and t["first_within_3"] is True
    only_before = tl("2024-05-01", ["2024-03-01"], "2024-09-01")
    assert only_before["status"] == "overdue" and only_before["n_reviews"] == 0


def test_same_day_reviews_count_once_and_future_reviews_are_ignored():
    t = tl("2024-01-15", ["2024-03-01", "2024-03-01", "2025-06-01"], "2024-04-01")
    assert t["n_reviews"] == 1 and t["review_dates"] == ["2024-03-01"]


# ------------------------------------------------------------------------------ gaps
def test_gap_of_exactly_six_months_is_within():
    t = tl("2024-01-15", ["2024-03-31", "2024-09-30"], "2024-10-01")
    assert t["all_gaps_within"] is True and t["status"] == "timely" and t["gaps_days"] == [183]


def test_gap_of_six_months_and_a_day_is_not_and_makes_the_record_late():
    t = tl("2024-01-15", ["2024-03-31", "2024-10-01"], "2024-10-02")
    assert t["all_gaps_within"] is False and t["status"] == "late" and t["longest_gap_days"] == 184


def test_month_end_gap_is_clamped():
    # 2023-08-31 + 6 months = 2024-02-29
    assert tl("2023-08-01", ["2023-08-31", "2024-02-29"], "2024-03-01")["all_gaps_within"] is True
    assert tl("2023-08-01", ["2023-08-31", "2024-03-01"], "2024-03-02")["all_gaps_within"] is False


def test_open_gap_counts_only_once_past_the_limit():
    on_time = tl("2024-01-15", ["2024-03-31"], "2024-09-30")  # next due 2024-09-30: still on time
    assert on_time["status"] == "timely" and on_time["all_gaps_within"] is None
    assert on_time["longest_gap_days"] is None and on_time["open_gap_days"] is None
    late = tl("2024-01-15", ["2024-03-31"], "2024-10-01")
    assert late["status"] == "overdue" and late["all_gaps_within"] is False
    assert late["open_gap_days"] == late["longest_gap_days"] == 184


def test_longest_gap_is_the_largest_of_closed_gaps_and_an_overdue_open_one():
    t = tl("2024-01-01", ["2024-02-01", "2024-05-01", "2024-08-01"], "2024-09-01")
    assert t["gaps_days"] == [90, 92] and t["longest_gap_days"] == 92 and t["all_gaps_within"] is True


def test_month_settings_name_the_keys():
    t = tl("2024-01-15", ["2024-03-15"], "2024-04-01", months=(2, 4), max_gap=3)
    assert t["first_within_2"] is True and t["first_within_4"] is True and "first_within_3" not in t


# ------------------------------------------------------------------------------ coverage
def test_domain_coverage_unions_same_day_notes_and_keeps_missing_apart():
    notes = [{"a": 0, "b": 1, "c": None}, {"a": 1, "b": pd.NA, "c": math.nan}]
    assert domain_coverage(notes, ["a", "b", "c"]) == {"a": 1, "b": 1, "c": None}
    assert domain_coverage([{"a": 0}], ["a"]) == {"a": 0}


# ------------------------------------------------------------------------------ summary and CIs
def test_wilson_ci_matches_statsmodels():
    for n, d in [(2, 4), (0, 7), (7, 7), (81, 263), (1, 1)]:
        r = rate(n, d)
        low, high = proportion_confint(n, d, alpha=0.05, method="wilson")
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((low, high))
        assert r["proportion"] == pytest.approx(n / d)


@pytest.mark.parametrize(
    "n, d, low, high",
    [
        # Newcombe RG (1998), Stat Med 17:857-872, Table I, method 3 (Wilson score); checked with statsmodels
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
    ],
)
def test_wilson_ci_matches_published_values(n, d, low, high):
    r = rate(n, d)
    assert round(r["ci_low"], 4) == low and round(r["ci_high"], 4) == high


def test_empty_denominator_has_no_proportion_or_ci():
    r = rate(0, 0, "x")
    assert r["proportion"] is None and r["ci_low"] is None and r["denominator"] == 0


def test_summarise_leaves_unknowns_out_of_each_denominator():
    timelines = [
        tl("2024-01-15", ["2024-04-15", "2024-10-15"], "2025-01-31"),  # timely
        tl("2024-01-15", ["2024-04-16"], "2025-01-31"),  # late first, open gap overdue
        tl("2024-06-01", [], "2025-01-31"),  # overdue, missed both
        tl("2024-12-01", [], "2025-01-31"),  # not yet due
        tl(None, ["2024-05-01"], "2025-01-31"),  # no entry date
    ]
    timelines[0]["reviews"] = [{"domains": {"d": 1}}, {"domains": {"d": None}}]
    timelines[1]["reviews"] = [{"domains": {"d": 0}}]
    s = summarise(timelines, ["d"])
    rates = s["rates"]
    assert (rates["first_within_3"]["n"], rates["first_within_3"]["denominator"]) == (1, 3)
    assert (rates["first_within_6"]["n"], rates["first_within_6"]["denominator"]) == (2, 3)
    assert (rates["all_gaps_within"]["n"], rates["all_gaps_within"]["denominator"]) == (1, 2)
    assert s["status"] == {"timely": 1, "late": 0, "overdue": 2, "not_yet_due": 1, "no_entry_date": 1}
    d = s["domains"]["d"]
    assert (d["n"], d["denominator"], d["missing"]) == (1, 2, 1) and s["n_reviews"] == 3


# ------------------------------------------------------------------------------ the audit file's block
CB = load_codebook(resources.resolve("codebooks", "strategic-review"))
GOOD = (
    "timeliness:\n"
    "  entry: treatment_entry_date\n"
    "  review: {field: strategic_review, value: 1}\n"
    "  first_review_months: [3, 6]\n"
    "  max_gap_months: 6\n"
    "  domains: [covers_drug_use, top_recorded]\n"
)


def parse(text):
    return parse_timeliness(load_located("audits/x.yaml", text=text)["timeliness"], CB, "audits/x.yaml")


def test_a_valid_block_parses_with_defaults():
    t = parse(GOOD)
    assert (t.entry, t.review_field, t.review_value) == ("treatment_entry_date", "strategic_review", 1)
    assert t.first_review_months == (3, 6) and t.max_gap_months == 6
    assert t.domains == ("covers_drug_use", "top_recorded")
    minimal = parse("timeliness:\n  entry: treatment_entry_date\n  review: {field: strategic_review, value: 1}\n")
    assert minimal.first_review_months == (3, 6) and minimal.max_gap_months == 6 and minimal.domains == ()


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "  max_gap_months: 6\n",
            "  max_gap_months: 6\n  cadence: 6\n",
            "audits/x.yaml:6: timeliness: unknown key 'cadence'",
        ),
        (
            "entry: treatment_entry_date",
            "entry: primary_substance",
            "audits/x.yaml:2: timeliness: entry 'primary_substance'",
        ),
        (
            "{field: strategic_review, value: 1}",
            "{field: treatment_setting, value: 1}",
            "audits/x.yaml:3: timeliness: review field 'treatment_setting' must name a note-level field",
        ),
        (
            "{field: strategic_review, value: 1}",
            "{field: strategic_review, value: 7}",
            "audits/x.yaml:3: timeliness: review value 7",
        ),
        (
            "{field: strategic_review, value: 1}",
            "{field: strategic_review, value: 1, when: x}",
            "audits/x.yaml:3: timeliness: review: unknown key 'when'",
        ),
        ("[3, 6]", "[6, 3]", "audits/x.yaml:4: timeliness: first_review_months [6, 3] must be [TARGET, LIMIT]"),
        ("max_gap_months: 6", "max_gap_months: 0", "audits/x.yaml:5: timeliness: max_gap_months 0"),
        (
            "[covers_drug_use, top_recorded]",
            "[covers_drug_use, findings]",
            "audits/x.yaml:6: timeliness: domain 'findings' must name a note-level binary field",
        ),
    ],
)
def test_block_errors_name_file_and_line(old, new, message):
    with pytest.raises(UserError) as exc:
        parse(GOOD.replace(old, new))
    assert message in str(exc.value)


def test_several_block_errors_are_reported_together():
    with pytest.raises(UserError) as exc:
        parse(GOOD.replace("max_gap_months: 6", "max_gap_months: x").replace("entry: treatment_entry_date", "entry: 3"))
    assert "2 problems in the timeliness block" in str(exc.value)


def _audit_file(tmp_path, extra=""):
    f = tmp_path / "a.yaml"
    f.write_text("id: a\ntitle: A\ncodebook: strategic-review\ncoders: [auditor]\n" + extra, encoding="utf-8")
    return f


def test_audit_without_timeliness_is_unchanged(tmp_path):
    a = load_audit(_audit_file(tmp_path))
    assert a.timeliness is None and "timeliness" not in a.as_dict()


def test_audit_with_timeliness_keeps_it_parsed_and_in_the_stored_dict(tmp_path):
    a = load_audit(_audit_file(tmp_path, GOOD))
    assert a.timeliness is not None and a.timeliness.domains == ("covers_drug_use", "top_recorded")
    assert a.as_dict()["timeliness"]["review"] == {"field": "strategic_review", "value": 1}


def test_unknown_key_in_the_audit_block_names_its_line(tmp_path):
    f = _audit_file(tmp_path, GOOD + "  colour: red\n")
    with pytest.raises(UserError, match=rf"{f}:11: timeliness: unknown key 'colour'"):
        load_audit(f)


def test_shipped_strategic_review_audit_loads():
    a = load_audit("strategic-review")
    assert [r for _, r in a.coders] == ["coder", "coder", "supervisor", "lead"]
    assert a.timeliness.first_review_months == (3, 6) and len(a.timeliness.domains) == 9
    assert a.sections["double_coding"]["coder"] == "second-auditor"


# ------------------------------------------------------------------------------ layers
@pytest.mark.parametrize("module", ["timeliness.py", "report/reviews.py"])
def test_timeliness_layers_never_import_textual_or_click(module):
    tree = ast.parse((SRC / module).read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [
        m for m in names if m.split(".")[0] in ("textual", "click") or m.startswith(("chartcode.cli", "chartcode.tui"))
    ]
