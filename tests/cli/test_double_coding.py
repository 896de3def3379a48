"""Double-coding: reproducible samples, blinding in every listing, consensus, the final-value rule."""

from __future__ import annotations

import csv
import io

import pytest

from chartcode.store import Store
from tests.whole_records import completed_csv


@pytest.fixture
def demo(cli, tmp_path):
    assert cli("demo", "--dir", tmp_path / "d", "--no-tui").code == 0
    return tmp_path / "d" / "demo.db"


def assigned(db, coder):
    with Store.open(db) as s:
        return sorted(a["record_id"] for a in s.assignments(coder))


def codes_csv(cli, *args):
    r = cli("codes", *args)
    assert r.code == 0, r.err
    return list(csv.DictReader(io.StringIO(r.out))), r.err


def test_the_same_seed_draws_the_same_sample(cli, tmp_path):
    picks = []
    for i in range(2):
        db = tmp_path / f"a{i}.db"
        cli("init", db, "--audit", "conjoint-pain")
        cli("records", "add", db, *[f"R{j:02d}" for j in range(40)])
        cli("assign", db, "--coder", "intern", "--all")
        r = cli("assign", db, "--coder", "supervisor", "--n", "8", "--seed", "77", "--from", "intern")
        assert r.code == 0, r.err
        picks.append(assigned(db, "supervisor"))
    assert picks[0] == picks[1] and len(picks[0]) == 8
    db = tmp_path / "a2.db"
    cli("init", db, "--audit", "conjoint-pain")
    cli("records", "add", db, *[f"R{j:02d}" for j in range(40)])
    cli("assign", db, "--coder", "supervisor", "--sample", "0.2", "--seed", "78")
    assert len(assigned(db, "supervisor")) == 8 and assigned(db, "supervisor") != picks[0]


def test_the_audit_files_declared_sample_is_used_and_recorded_in_history(cli, tmp_path):
    db = tmp_path / "a.db"
    cli("init", db, "--audit", "conjoint-pain")
    cli("records", "add", db, *[f"R{j:02d}" for j in range(24)])
    cli("assign", db, "--coder", "intern", "--all")
    r = cli("assign", db)  # double_coding: {coder: supervisor, from: intern, n: 6, seed: 20240601}
    assert r.code == 0, r.err
    assert "seed 20240601" in r.out and len(assigned(db, "supervisor")) == 6
    with Store.open(db) as s:
        h = [x for x in s.history(coder="supervisor") if x["action"] == "assign"]
        assert len(h) == 6 and "seed 20240601" in h[0]["reason"]


def test_stratified_sample_covers_each_stratum(cli, demo):
    r = cli(
        "assign",
        demo,
        "--coder",
        "qi-lead",
        "--n",
        "5",
        "--seed",
        "3",
        "--from",
        "intern",
        "--stratify",
        "accepted_followup",
    )
    assert r.code == 0, r.err
    with Store.open(demo) as s:
        values = {c["record_id"]: c["value"] for c in s.codes(coder="intern") if c["field"] == "accepted_followup"}
    picked = assigned(demo, "qi-lead")
    assert {values.get(rid) for rid in picked} >= {0, 1}


@pytest.mark.parametrize(
    "args, message",
    [
        (("--coder", "supervisor", "--n", "500", "--seed", "1"), "more than the 24 records"),
        (("--coder", "supervisor", "--sample", "1.5"), "a fraction between 0 and 1"),
        (("--coder", "nobody", "--all"), "coder 'nobody' is not in this audit"),
        (("--coder", "supervisor", "--n", "2", "--stratify", "session_content", "--from", "intern"), "coded per note"),
    ],
)
def test_bad_sample_requests_are_user_errors(cli, demo, args, message):
    r = cli("assign", demo, *args)
    assert r.code == 2 and message in r.err


def test_codes_stay_blind_until_every_coder_of_the_record_has_submitted(cli, demo, tmp_path):
    # A new double-coding assignment on a record the intern already submitted hides the
    # intern's codes from the supervisor (and from anyone not a lead) until the supervisor submits.
    rid = "VET-001"  # submitted by the intern, not in the supervisor's demo sample
    assert rid not in assigned(demo, "supervisor")
    with Store.open(demo) as s:
        s.assign("supervisor", [rid])
    rows, err = codes_csv(cli, demo, "--record", rid, "--as", "supervisor")
    assert rows == [] and "hidden" in err
    rows, _ = codes_csv(cli, demo, "--record", rid)  # no --as: still blind
    assert rows == []
    rows, _ = codes_csv(cli, demo, "--record", rid, "--as", "intern")  # their own codes
    assert rows and {r["coder"] for r in rows} == {"intern"}
    rows, _ = codes_csv(cli, demo, "--record", rid, "--as", "qi-lead")  # a lead sees all
    assert rows
    hist = cli("history", demo, "--record", rid, "--json", "--as", "supervisor").json
    assert all(h["new_value"] in (None, "(blind)") for h in hist if h["coder"] == "intern" and h["field"])
    # the supervisor codes the whole record and submits it: now both have, and both see each other's
    with Store.open(demo) as s:
        (tmp_path / "s.csv").write_text(completed_csv(s, f"record_id,note_id,field,value\n{rid},,sex,1\n"))
    assert cli("import-codes", demo, tmp_path / "s.csv", "--coder", "supervisor").code == 0
    rows, _ = codes_csv(cli, demo, "--record", rid, "--as", "supervisor")
    assert {r["coder"] for r in rows} == {"intern", "supervisor"}


def test_disagreements_consensus_and_final_values(cli, demo):
    js = cli("disagreements", demo, "--json").json["disagreements"]
    assert len(js) == 5
    one = js[0]
    assert set(one["values"]) == {"intern", "supervisor"} and one["values"]["supervisor"]["memo"]
    r = cli("consensus", demo, "--auto-agreed")
    assert r.code == 0 and "consensus values filled" in r.out
    # a disagreement settled by the supervisor, with a reason
    r = cli(
        "consensus",
        demo,
        "--record",
        one["record_id"],
        "--note",
        one["note_id"] or "",
        "--field",
        one["field"],
        "--value",
        str(one["values"]["supervisor"]["value"]),
        "--reason",
        "re-read together",
    )
    assert r.code == 0, r.err
    assert len(cli("disagreements", demo, "--json").json["disagreements"]) == 4
    final = cli("final", demo, "--format", "json").json
    by = {(f["record_id"], f["note_id"], f["field"]): f for f in final}
    settled = by[(one["record_id"], one["note_id"], one["field"])]
    assert settled["source"] == "consensus" and settled["value"] == one["values"]["supervisor"]["value"]
    # conjoint-pain 1.1: the follow-up fields do not apply where follow-up was declined
    assert {f["source"] for f in final} == {"consensus", "single", "unresolved", "not_applicable"}
    na = [f for f in final if f["source"] == "not_applicable"]
    assert {f["field"] for f in na} == {"followup_type", "followup_evident", "followup_sessions"}
    assert all(f["value"] is None for f in na)
    assert all(f["value"] is None for f in final if f["source"] == "unresolved")
    assert all(f["n_coders"] == 1 for f in final if f["source"] == "single")
    with Store.open(demo) as s:
        assert s.history()[-1]["action"] == "consensus"
        # consensus is stored apart: the coders' own codes are unchanged
        assert any(
            c["coder"] == "intern" and c["value"] == one["values"]["intern"]["value"]
            for c in s.codes(record_id=one["record_id"])
            if c["field"] == one["field"]
        )


def test_consensus_needs_a_reason_and_a_supervisor(cli, demo):
    r = cli("consensus", demo, "--record", "VET-008", "--field", "last_note_outcome", "--value", "1")
    assert r.code == 2 and "needs a reason" in r.err
    r = cli(
        "consensus",
        demo,
        "--record",
        "VET-008",
        "--field",
        "last_note_outcome",
        "--value",
        "1",
        "--reason",
        "x",
        "--by",
        "intern",
    )
    assert r.code == 2 and "decided by a supervisor or lead" in r.err
