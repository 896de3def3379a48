"""`chartcode reviews`: review timeliness and content from final values; --json numbers, --csv, errors (exit 2)."""

from __future__ import annotations

import csv
import json

import pytest
from statsmodels.stats.proportion import proportion_confint

from chartcode.audit import load_audit
from chartcode.cli import cli as _cli_group
from chartcode.cli.reviews import reviews
from chartcode.importers.notes import import_notes
from chartcode.store import Store

if "reviews" not in _cli_group.commands:
    _cli_group.add_command(reviews)

AS_OF = "2025-01-31"
NOTES = "record_id,note_id,note_date,note_type,author,text\n" + "".join(
    f"{rid},{nid},{date},{kind},Worker,note\n"
    for rid, nid, date, kind in [
        ("R1", "R1-K1", "2024-02-01", "keywork"),
        ("R1", "R1-S1", "2024-04-15", "review"),  # exactly 3 months after entry 2024-01-15: within
        ("R1", "R1-S2", "2024-10-15", "review"),  # gap of exactly 6 months: within
        ("R2", "R2-S1", "2024-04-16", "review"),  # one day past 3 months: not within 3, within 6
        ("R2", "R2-S2", "2024-10-17", "keywork"),  # 6 months + 1 day after; a review only by consensus
        ("R3", "R3-K1", "2024-07-01", "keywork"),  # entry 2024-06-01, never reviewed: overdue
        ("R4", "R4-K1", "2024-12-10", "keywork"),  # entry 2024-12-01: not yet due on the as-of date
        ("R5", "R5-S1", "2024-05-01", "review"),  # no final entry date (the coders disagree)
        ("R6", "R6-S0", "2024-03-01", "review"),  # before entry 2024-05-01: a data problem
        ("R6", "R6-S1", "2024-06-20", "review"),  # within 3; next due 2024-12-20, missing by the as-of date
    ]
)
ENTRY = {"R1": "2024-01-15", "R2": "2024-01-15", "R3": "2024-06-01", "R4": "2024-12-01", "R6": "2024-05-01"}
REVIEW_NOTES = {"R1-S1", "R1-S2", "R2-S1", "R5-S1", "R6-S0", "R6-S1"}
NOTE_RECORD = {
    "R1-K1": "R1",
    "R1-S1": "R1",
    "R1-S2": "R1",
    "R2-S1": "R2",
    "R2-S2": "R2",
    "R3-K1": "R3",
    "R4-K1": "R4",
    "R5-S1": "R5",
    "R6-S0": "R6",
    "R6-S1": "R6",
}
# covers_drug_use per review note (other domains left uncoded)
DRUG = {"R1-S1": 1, "R1-S2": 1, "R2-S1": 0, "R5-S1": 1, "R6-S1": 0}


# R5 has no final entry date: the two auditors' dates differ and no consensus is recorded
R5_ENTRY = {"auditor": "2024-02-01", "second-auditor": "2024-03-01"}


def _code_record_level(store, coder, rid, entry):
    """The record-level fields every coder must code before submitting (setting and substance
    are not what these tests are about)."""
    store.set_code(coder, rid, "treatment_entry_date", entry)
    store.set_code(coder, rid, "treatment_setting", 1)
    store.set_code(coder, rid, "primary_substance", 1)


def _create(path, audit_ref="strategic-review"):
    audit = load_audit(audit_ref)
    return Store.create(path, audit.codebook, audit=audit.as_dict(), audit_source=audit.source, coders=audit.coders)


@pytest.fixture
def review_db(tmp_path):
    db = tmp_path / "reviews.db"
    notes = tmp_path / "notes.csv"
    notes.write_text(NOTES, encoding="utf-8")
    store = _create(db)
    try:
        import_notes(store, notes)
        for rid in sorted(set(NOTE_RECORD.values())):  # a whole record is coded before it is submitted
            _code_record_level(store, "auditor", rid, ENTRY.get(rid, R5_ENTRY["auditor"]))
        for nid, rid in NOTE_RECORD.items():
            store.set_code("auditor", rid, "strategic_review", int(nid in REVIEW_NOTES), note_id=nid)
        for nid, v in DRUG.items():
            store.set_code("auditor", NOTE_RECORD[nid], "covers_drug_use", v, note_id=nid)
        for rid in sorted(set(NOTE_RECORD.values())):
            store.submit("auditor", rid)
        # R2's second note: the second auditor disagrees; the supervisor's consensus makes it a review
        _code_record_level(store, "second-auditor", "R2", ENTRY["R2"])
        store.set_code("second-auditor", "R2", "strategic_review", 1, note_id="R2-S1")
        store.set_code("second-auditor", "R2", "strategic_review", 0, note_id="R2-S2")
        store.submit("second-auditor", "R2")
        # R5: the auditors disagree on the entry date and no consensus is set, so it has no final one
        _code_record_level(store, "second-auditor", "R5", R5_ENTRY["second-auditor"])
        store.set_code("second-auditor", "R5", "strategic_review", 1, note_id="R5-S1")
        store.submit("second-auditor", "R5")
        store.set_consensus(
            "R2", "strategic_review", 1, note_id="R2-S2", reason="full review headed keywork", decided_by="supervisor"
        )
    finally:
        store.close()
    return db


def _by_id(result):
    return {r["record_id"]: r for r in result["records"]}


def test_json_gives_per_record_timelines_from_final_values(cli, review_db):
    r = cli("reviews", review_db, "--json", "--as-of", AS_OF)
    assert r.code == 0, r.err
    out = r.json
    assert set(out) == {"as_of", "records", "summary"} and out["as_of"] == AS_OF
    rec = _by_id(out)
    assert rec["R1"]["status"] == "timely" and rec["R1"]["first_within_3"] is True
    assert rec["R1"]["days_to_first_review"] == 91 and rec["R1"]["gaps_days"] == [183]
    assert (
        rec["R2"]["status"] == "late" and rec["R2"]["first_within_3"] is False and rec["R2"]["first_within_6"] is True
    )
    assert rec["R2"]["n_reviews"] == 2 and rec["R2"]["all_gaps_within"] is False  # consensus made R2-S2 a review
    assert rec["R3"]["status"] == "overdue" and rec["R3"]["first_within_3"] is False
    assert rec["R3"]["first_within_6"] is False
    assert rec["R4"]["status"] == "not_yet_due" and rec["R4"]["first_within_3"] is None
    assert rec["R5"]["status"] == "no_entry_date" and rec["R5"]["n_reviews"] == 1
    assert rec["R6"]["status"] == "overdue" and rec["R6"]["n_reviews"] == 1
    assert rec["R6"]["longest_gap_days"] == 225 and rec["R6"]["open_gap_days"] == 225
    assert any("before treatment entry" in p for p in rec["R6"]["problems"])


def test_summary_rates_leave_out_not_yet_due_and_use_wilson_cis(cli, review_db):
    s = cli("reviews", review_db, "--json", "--as-of", AS_OF).json["summary"]
    r3, r6, gaps = s["rates"]["first_within_3"], s["rates"]["first_within_6"], s["rates"]["all_gaps_within"]
    assert (r3["n"], r3["denominator"]) == (2, 4)  # R1, R6 of R1, R2, R3, R6
    assert (r6["n"], r6["denominator"]) == (3, 4)
    assert (gaps["n"], gaps["denominator"]) == (1, 3)  # R1 of R1, R2, R6 (R3 has no review to measure from)
    low, high = proportion_confint(2, 4, alpha=0.05, method="wilson")
    assert r3["ci_low"] == pytest.approx(low) and r3["ci_high"] == pytest.approx(high)
    assert s["status"] == {"timely": 1, "late": 1, "overdue": 2, "not_yet_due": 1, "no_entry_date": 1}
    drug = s["domains"]["covers_drug_use"]
    # reviews counted: R1 x2, R2 x2, R5, R6 (the pre-entry one is left out); R2-S2 has no drug code
    assert (drug["n"], drug["denominator"], drug["missing"]) == (3, 5, 1)
    assert s["domains"]["covers_crime"]["denominator"] == 0 and s["domains"]["covers_crime"]["proportion"] is None


def test_terminal_table_and_csv(cli, review_db, tmp_path):
    out_csv = tmp_path / "reviews.csv"
    r = cli("reviews", review_db, "--as-of", AS_OF, "--csv", out_csv)
    assert r.code == 0, r.err
    assert "First review within 3 months of entry" in r.out and "2/4" in r.out and "95% CI" in r.out
    assert "not_yet_due" in r.out and "before treatment entry" in r.out
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert [row["record_id"] for row in rows] == ["R1", "R2", "R3", "R4", "R5", "R6"]
    assert rows[0]["first_within_3"] == "True" and rows[3]["status"] == "not_yet_due"


def test_as_of_changes_what_is_due(cli, review_db):
    # on 2024-09-01 R3 (entry 2024-06-01) is exactly 3 months in: not yet due
    rec = _by_id(cli("reviews", review_db, "--json", "--as-of", "2024-09-01").json)
    assert rec["R3"]["status"] == "not_yet_due"
    rec = _by_id(cli("reviews", review_db, "--json", "--as-of", "2024-09-02").json)
    assert rec["R3"]["status"] == "overdue" and rec["R3"]["first_within_6"] is None


def test_default_as_of_is_today_utc(cli, review_db):
    import datetime as dt

    r = cli("reviews", review_db, "--json")
    assert r.code == 0, r.err
    assert r.json["as_of"] in {(dt.datetime.now(dt.UTC).date() + dt.timedelta(days=d)).isoformat() for d in (-1, 0)}


@pytest.mark.parametrize("value", ["2025-13-01", "31/01/2025", "yesterday"])
def test_bad_as_of_is_a_user_error(cli, review_db, value):
    r = cli("reviews", review_db, "--as-of", value)
    assert r.code == 2
    assert f"--as-of {value!r}: not a date (write YYYY-MM-DD" in r.err


def test_audit_without_timeliness_is_a_user_error_saying_how_to_add_one(cli, tmp_path):
    db = tmp_path / "pain.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    r = cli("reviews", db, "--as-of", AS_OF)
    assert r.code == 2
    assert "no `timeliness:` block" in r.err and "review: {field:" in r.err and "--audit FILE" in r.err


def test_timeliness_block_can_come_from_an_audit_file(cli, review_db, tmp_path):
    source = load_audit("strategic-review").source
    f = tmp_path / "audit.yaml"
    assert "max_gap_months: 6 " in source
    f.write_text(source.replace("max_gap_months: 6 ", "max_gap_months: 7 "), encoding="utf-8")
    rec = _by_id(cli("reviews", review_db, "--json", "--as-of", AS_OF, "--audit", f).json)
    assert rec["R2"]["all_gaps_within"] is True  # 6 months + 2 days is within 7 months


def test_invalid_timeliness_block_names_file_and_line(cli, review_db, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(
        "id: x\ntimeliness:\n  entry: strategic_review\n  review: {field: strategic_review, value: 1}\n  cadence: 6\n",
        encoding="utf-8",
    )
    r = cli("reviews", review_db, "--audit", f)
    assert r.code == 2
    assert f"{f}:3: timeliness: entry 'strategic_review' must name a record-level date field" in r.err
    assert f"{f}:5: timeliness: unknown key 'cadence'" in r.err


def test_help_explains_the_rules(cli):
    r = cli("reviews", "--help")
    assert r.code == 0 and "--as-of" in r.out and "calendar months" in r.out and "Wilson" in r.out


def test_json_is_plain_json(cli, review_db):
    r = cli("reviews", review_db, "--json", "--as-of", AS_OF)
    assert json.loads(r.out)["summary"]["rules"]["first_review_months"] == [3, 6]


def test_report_section_has_rates_records_and_domains(review_db, tmp_path):
    import datetime as dt

    from chartcode.report.render import render_section
    from chartcode.report.reviews import reviews_section

    with Store.open(review_db) as store:
        s = reviews_section(store, dt.date(2025, 1, 31))
    html, md = render_section(s, "html"), render_section(s, "md")
    assert s.title == "Strategic reviews"
    assert "| First review within 3 months of entry | 2/4 | 50.0% | 15.0% to 85.0% |" in md
    assert "| R6 | 2024-05-01 | 2024-06-20 | 50 | yes | yes | 1 | 225 (open) | overdue |" in md
    assert "Review covers drug use" in html and "3/5" in html and "before treatment entry" in html


def test_report_section_is_absent_without_a_timeliness_block(cli, tmp_path):
    from chartcode.report.reviews import reviews_section

    db = tmp_path / "pain.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    with Store.open(db) as store:
        assert reviews_section(store) is None
