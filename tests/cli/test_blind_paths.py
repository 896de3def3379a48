"""Blinding through honest paths (issue 11): the CLI never shows a coder's value to another
coder before the rule in chartcode.store.visibility lets them see it."""

from __future__ import annotations

import json


def _codes(tmp_path, name: str, rows: str):
    path = tmp_path / name
    path.write_text("record_id,note_id,field,value\n" + rows, encoding="utf-8")
    return path


def test_history_blinds_a_zero_like_any_other_value(cli, audit_db, tmp_path):
    r = cli("import-codes", audit_db, _codes(tmp_path, "i.csv", "R2,,mh_diagnosis,0\nR2,,sud_diagnosis,1\n"),
            "--coder", "intern", "--draft")
    assert r.code == 0, r.err
    r = cli("history", audit_db, "--coder", "intern", "--as", "supervisor")
    assert r.code == 0, r.err
    lines = [x for x in r.out.splitlines() if "R2/" in x]
    assert len(lines) == 2 and all("(blind) -> (blind)" in x for x in lines), lines
    assert "-> 0" not in r.out and "-> 1" not in r.out
    js = cli("history", audit_db, "--coder", "intern", "--as", "supervisor", "--json").json
    assert {h["new_value"] for h in js if h["field"] == "mh_diagnosis"} == {"(blind)"}
