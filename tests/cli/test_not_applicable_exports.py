"""Not applicable in every export: a field whose show_if is false on the final values is a missing
value of its own, never 0 and never the code a coder left there - SPSS user-missing -8 labelled
"not applicable", Stata .n labelled "not applicable", an empty cell with ``<field>__source`` =
not_applicable in csv/xlsx/json, blank in REDCap; long exports say per code whether it applies.
Calculated fields are columns computed from the final (wide) or each coder's (long) values.
Read back with pyreadstat, pandas and PSPP. Data: tests/applicability_data.py (R5 and R8 said
no follow-up; R8's coders left 3 and 2 in followup_type; wait_days = datediff, 14 and 29 days)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from chartcode.analysis import analysis_frame
from chartcode.export import export
from chartcode.store import Store
from tests.applicability_data import branching_store
from tests.integration.test_pspp_reads_exports import by_name, run_pspp

NA_ROWS = ["R5", "R8"]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("na")
    s = branching_store(folder / "audit.db")
    try:
        for fmt in ("csv", "xlsx", "sav", "dta", "json", "redcap"):
            export(s, fmt, folder / f"w.{fmt}")
        export(s, "csv", folder / "long.csv", long=True, viewer="supervisor")
    finally:
        s.close()
    return folder


def rows_of(df: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return df.set_index("record_id").loc[ids]


def test_spss_writes_not_applicable_as_a_labelled_user_missing_code(out):
    data, meta = pyreadstat.read_sav(str(out / "w.sav"), user_missing=True)
    na = rows_of(data, NA_ROWS)["followup_type"].tolist()
    assert na == [-8, -8]  # not 0, and not R8's left-behind 3 or 2
    assert meta.variable_value_labels["followup_type"][-8] == "not applicable"
    assert meta.missing_ranges["followup_type"] == [{"lo": -8.0, "hi": -8.0}]
    plain, _ = pyreadstat.read_sav(str(out / "w.sav"))  # user-missing reads as missing by default
    assert rows_of(plain, NA_ROWS)["followup_type"].isna().all()
    assert plain["followup_type"].mean() == pytest.approx((1 + 2 + 1) / 3)  # R1, R2, R4; R3 unresolved
    assert (rows_of(data, NA_ROWS)["followup_type_src"] == "not_applicable").all()


def test_pspp_counts_not_applicable_as_missing(out):
    tables = run_pspp(
        "GET FILE='w.sav'.\nDISPLAY DICTIONARY /VARIABLES=followup_type.\nDESCRIPTIVES followup_type.\n", out
    )
    variables = by_name(tables["Variables"])
    assert variables["followup_type"]["Missing Values"] == "-8"
    desc = by_name(tables["Descriptive Statistics"])  # rows named by the variable label
    assert desc["Follow-up type"]["N"] == "3"  # R1, R2, R4: the n/a -8s are missing, not values
    assert float(desc["Follow-up type"]["Mean"]) == pytest.approx(4 / 3, abs=0.01)
    labels = tables["Value Labels"]
    assert any(row[-1] == "not applicable" for row in labels)


def test_stata_writes_not_applicable_as_dot_n_labelled(out):
    data, meta = pyreadstat.read_dta(str(out / "w.dta"), user_missing=True)
    assert rows_of(data, NA_ROWS)["followup_type"].tolist() == ["n", "n"]
    assert meta.missing_user_values["followup_type"] == ["n"]
    assert meta.variable_value_labels["followup_type"]["n"] == "not applicable"
    raw = pd.read_stata(
        out / "w.dta", convert_missing=True, convert_categoricals=False, columns=["record_id", "followup_type"]
    )
    missing = [v.string for v in raw["followup_type"] if isinstance(v, pd.io.stata.StataMissingValue)]
    assert missing == [".", ".n", ".", ".", ".n"]  # R3, R6, R7 unresolved: system-missing "."; R5, R8 .n


def test_csv_xlsx_and_json_leave_the_cell_empty_and_say_so_in_the_source_column(out):
    csv = rows_of(pd.read_csv(out / "w.csv"), NA_ROWS)
    assert csv["followup_type"].isna().all() and (csv["followup_type__source"] == "not_applicable").all()
    assert (csv["first_visit__source"] == "not_applicable").all()
    sheet = pd.read_excel(out / "w.xlsx", sheet_name="codebook").drop_duplicates("name").set_index("name")
    assert sheet.loc["followup_type", "show_if"] == "[accepted_followup] = '1'"  # says when it applies
    assert sheet.loc["wait_days", "calc"] == 'datediff([referral_date], [first_visit], "d")'
    xlsx = rows_of(pd.read_excel(out / "w.xlsx", sheet_name="records"), NA_ROWS)
    assert xlsx["followup_type"].isna().all() and (xlsx["followup_type__source"] == "not_applicable").all()
    doc = json.loads((out / "w.json").read_text(encoding="utf-8"))
    rec = {r["record_id"]: r for r in doc["records"]}
    assert rec["R8"]["followup_type"] is None and rec["R8"]["followup_type__source"] == "not_applicable"


def test_redcap_leaves_not_applicable_blank(out):
    df = pd.read_csv(out / "w.redcap", dtype=str, keep_default_na=False).set_index("record_id")
    assert df.loc["R8", "followup_type"] == "" and df.loc["R1", "followup_type"] == "1"
    assert df.loc["R1", "wait_days"] in ("14", "14.0")


def test_the_long_export_says_per_code_whether_it_applies(out):
    df = pd.read_csv(out / "long.csv")
    r8 = df[(df["record_id"] == "R8") & (df["field"] == "followup_type")]
    assert len(r8) == 2 and not r8["applies"].any() and r8["value"].isna().all()
    assert (r8["label"] == "not applicable").all()
    r1 = df[(df["record_id"] == "R1") & (df["field"] == "followup_type")]
    assert r1["applies"].all() and r1["value"].astype(str).tolist() == ["1", "1"]


def test_calculated_fields_are_columns_of_every_export(out):
    data, _ = pyreadstat.read_sav(str(out / "w.sav"))
    assert rows_of(data, ["R1", "R2"])["wait_days"].tolist() == [14, 29]
    dta, _ = pyreadstat.read_dta(str(out / "w.dta"))
    assert rows_of(dta, ["R1", "R2"])["wait_days"].tolist() == [14, 29]
    csv = rows_of(pd.read_csv(out / "w.csv"), ["R1", "R2"])
    assert csv["wait_days"].tolist() == [14, 29] and (csv["wait_days__source"] == "calculated").all()
    long = pd.read_csv(out / "long.csv")
    calc = long[(long["field"] == "wait_days") & (long["record_id"] == "R2")]
    assert calc["value"].astype(float).tolist() == [29, 29]  # one row per coder, from their own codes


def test_analyses_use_calculated_fields_like_derived_variables(out):
    with Store.open(out / "audit.db") as s:
        frame, variables = analysis_frame(s)
    assert "wait_days" in variables and variables["wait_days"].type == "numeric"
    assert frame.set_index("record_id").loc[["R1", "R2"], "wait_days"].tolist() == [14, 29]
    assert frame["wait_days"].mean() == pytest.approx(21.5)


def test_the_spss_code_for_not_applicable_is_never_a_choice_or_a_value_of_the_field():
    from chartcode.codebook import Choice, Field
    from chartcode.export.writers import spss_not_applicable_code

    coded = Field("x", "X", "record", "nominal", choices=(Choice(-8, "Refused"), Choice(1, "Yes")))
    assert spss_not_applicable_code(coded, pd.Series([1.0, None])) == -88
    number = Field("t", "T", "record", "numeric")
    assert spss_not_applicable_code(number, pd.Series([-8.0, -88.0, 3.5])) == -888
    assert spss_not_applicable_code(number, pd.Series([0.0, 2.0])) == -8  # 0 is a value, never n/a
