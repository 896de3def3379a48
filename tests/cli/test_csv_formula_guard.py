"""CSV outputs people open in a spreadsheet neutralise formula-leading text (issue 11 item 9):
`codes` and `final` use the same guard as `export --format csv` (chartcode.export.cells: a
cell starting with = + - @, a tab or a carriage return gets a leading apostrophe); the JSON
outputs and SPSS/Stata exports keep the raw values for analysis. A REDCap import file is
refused instead, naming the line, record and field: REDCap would store the apostrophe."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyreadstat
import pytest

from chartcode.codebook import load_codebook
from chartcode.export.cells import safe_cell, safe_row
from chartcode.store import Store

CODEBOOK = """
id: guard
title: Formula guard test codebook
version: "1"
fields:
  - name: comment
    label: Comment
    level: record
    type: text
  - name: smoker
    label: Current smoker
    level: record
    type: binary
"""
FORMULA = '=HYPERLINK("http://evil.example/","x")'
VALUES = {"R1": FORMULA, "R2": "+SUM(1,2)", "R3": "-2 units", "R4": "@cmd", "R5": "plain"}


def _db(tmp_path, values=VALUES):
    path = tmp_path / "g.db"
    with Store.create(
        path, load_codebook("guard.yaml", text=CODEBOOK), coders=[("intern", "coder"), ("lead", "lead")]
    ) as s:
        s.add_records(list(values))
        s.assign("intern", list(values))
        for rid, text in values.items():
            s.set_code("intern", rid, "comment", text)
            s.set_code("intern", rid, "smoker", 1)
            s.submit("intern", rid)
        if "R5" in values:
            s.set_memo("intern", "R5", "smoker", "@SUM(A1:A9)")
    return path


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("rid", ["R1", "R2", "R3", "R4"])
def test_codes_csv_neutralises_a_formula_leading_text_value(cli, tmp_path, rid):
    r = cli("codes", _db(tmp_path), "--as", "lead")
    assert r.code == 0, r.err
    comment = {x["record_id"]: x["value"] for x in _rows(r.out) if x["field"] == "comment"}
    assert comment[rid] == "'" + VALUES[rid]
    assert comment["R5"] == "plain"


def test_codes_csv_neutralises_memos_and_leaves_numbers_alone(cli, tmp_path):
    rows = _rows(cli("codes", _db(tmp_path), "--as", "lead").out)
    smoker = [x for x in rows if x["field"] == "smoker"]
    assert {x["value"] for x in smoker} == {"1"}
    assert [x["memo"] for x in smoker if x["memo"]] == ["'@SUM(A1:A9)"]


def test_codes_json_keeps_the_raw_values(cli, tmp_path):
    js = cli("codes", _db(tmp_path), "--as", "lead", "--format", "json").json
    assert {j["record_id"]: j["value"] for j in js if j["field"] == "comment"} == VALUES


def test_final_csv_neutralises_and_final_json_keeps_raw(cli, tmp_path):
    db = _db(tmp_path)
    r = cli("final", db)
    assert r.code == 0, r.err
    final = {x["record_id"]: x["value"] for x in _rows(r.out) if x["field"] == "comment"}
    assert final == {rid: ("'" + v if rid != "R5" else v) for rid, v in VALUES.items()}
    js = cli("final", db, "--format", "json").json
    assert {j["record_id"]: j["value"] for j in js if j["field"] == "comment"} == VALUES


def test_the_guard_covers_tab_and_carriage_return_and_leaves_numbers(tmp_path):
    # a text code is stored stripped, so a leading tab or CR reaches a cell only through other
    # text (ids, labels from a codebook): the one guard covers them as OWASP lists
    for text in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5 and safe_cell("a=b") == "a=b"
    assert safe_row([None, "=x", 7, "ok"]) == ["", "'=x", 7, "ok"]


def test_export_csv_uses_the_same_guard(cli, tmp_path):
    out = tmp_path / "e.csv"
    assert cli("export", _db(tmp_path), "--format", "csv", "--out", out).code == 0
    got = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("record_id")["comment"].to_dict()
    assert got == {rid: ("'" + v if rid != "R5" else v) for rid, v in VALUES.items()}


def test_sav_export_keeps_raw_values_for_analysis(cli, tmp_path):
    out = tmp_path / "e.sav"
    assert cli("export", _db(tmp_path), "--format", "sav", "--out", out).code == 0
    df, _meta = pyreadstat.read_sav(str(out))
    assert dict(zip(df["record_id"], df["comment"], strict=True))["R1"] == FORMULA


def test_redcap_export_refuses_a_formula_leading_value_naming_line_record_and_field(cli, tmp_path):
    out = tmp_path / "redcap.csv"
    r = cli("export", _db(tmp_path), "--format", "redcap", "--out", out)
    assert r.code == 2
    assert f"{out}: line 2: record R1, field comment: the value starts with" in r.err
    assert "nothing was written" in r.err and "Traceback" not in r.err
    assert "HYPERLINK" not in r.err and "evil" not in r.err  # never the value itself
    assert not out.exists()


def test_redcap_line_number_counts_line_breaks_inside_earlier_values(cli, tmp_path):
    db = _db(tmp_path, {"R1": "first line\nsecond line", "R2": "fine", "R3": "+1 more"})
    r = cli("export", db, "--format", "redcap", "--out", tmp_path / "r.csv")
    assert r.code == 2 and "line 5: record R3, field comment" in r.err  # header, R1 (2 lines), R2, R3


def test_redcap_export_of_ordinary_text_is_written_exactly(cli, tmp_path):
    out = tmp_path / "redcap.csv"
    r = cli("export", _db(tmp_path, {"R1": "plain", "R2": "a - b"}), "--format", "redcap", "--out", out)
    assert r.code == 0, r.err
    got = pd.read_csv(out, dtype=str).set_index("record_id")["comment"].to_dict()
    assert got == {"R1": "plain", "R2": "a - b"}
