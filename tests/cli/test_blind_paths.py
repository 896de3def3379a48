"""Blinding through honest paths (issue 11): the CLI never shows a coder's value to another
coder before the rule in chartcode.store.visibility lets them see it."""

from __future__ import annotations

from chartcode.store import Store


def _codes(tmp_path, name: str, rows: str):
    path = tmp_path / name
    path.write_text("record_id,note_id,field,value\n" + rows, encoding="utf-8")
    return path


def test_history_blinds_a_zero_like_any_other_value(cli, audit_db, tmp_path):
    r = cli(
        "import-codes",
        audit_db,
        _codes(tmp_path, "i.csv", "R2,,mh_diagnosis,0\nR2,,sud_diagnosis,1\n"),
        "--coder",
        "intern",
        "--draft",
    )
    assert r.code == 0, r.err
    r = cli("history", audit_db, "--coder", "intern", "--as", "supervisor")
    assert r.code == 0, r.err
    lines = [x for x in r.out.splitlines() if "R2/" in x]
    assert len(lines) == 2 and all("(blind) -> (blind)" in x for x in lines), lines
    assert "-> 0" not in r.out and "-> 1" not in r.out
    js = cli("history", audit_db, "--coder", "intern", "--as", "supervisor", "--json").json
    assert {h["new_value"] for h in js if h["field"] == "mh_diagnosis"} == {"(blind)"}


def test_agreement_counts_only_records_every_assigned_coder_has_submitted(cli, tmp_path):
    assert cli("demo", "--dir", tmp_path / "d", "--no-tui").code == 0
    db = tmp_path / "d" / "demo.db"
    before = cli("agreement", db, "--field", "mh_diagnosis", "--json").json["fields"][0]
    assert before["n_units"] == 6  # the supervisor's double-coded sample, all closed
    # a third coder is assigned 5 of the 6 sample records and has submitted none: only one stays closed
    with Store.open(db) as s:
        sample = sorted(a["record_id"] for a in s.assignments("supervisor"))
        s.add_coder("third", "coder")
        s.assign("third", sample[1:])
    after = cli("agreement", db, "--field", "mh_diagnosis", "--json").json["fields"][0]
    assert after["n_units"] == 1 and after["n_coders"] == 2
    text = cli("agreement", db, "--field", "mh_diagnosis").out
    assert "1 units coded by 2 or more coders" in text
    # the units coded by one coder only leave out the open records too (the intern's 12 singles stay)
    assert "12 unit(s) coded by one coder only" in text
    found = cli("disagreements", db, "--all", "--json").json["disagreements"]
    assert {d["record_id"] for d in found} <= {sample[0]}
