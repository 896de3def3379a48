"""Stata (.dta) exports as Stata users get them, read back with pandas (read_stata,
convert_missing) and pyreadstat (read_dta, user_missing=True): declared missing codes are
extended missing values (.a, .b ...) carrying their labels, so Stata, SPSS and pandas give one
mean; codes and dates have the formats their field type declares."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from chartcode.demo_fidelity import build_fidelity_demo
from chartcode.export import export
from chartcode.store import Store
from tests.unit.test_export_spss import dated_store


@pytest.fixture(scope="module")
def fidelity_db(tmp_path_factory) -> Path:
    return build_fidelity_demo(tmp_path_factory.mktemp("fidelity"))


@pytest.fixture(scope="module")
def exported(fidelity_db, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    with Store.open(fidelity_db) as s:
        for fmt in ("csv", "sav", "dta"):
            export(s, fmt, out / f"f.{fmt}")
    return out


def test_cannot_rate_is_an_extended_missing_value_with_its_label(exported):
    data, meta = pyreadstat.read_dta(str(exported / "f.dta"), user_missing=True)
    assert (data["graded_return_plan"] == "a").sum() == 1  # was an ordinary 9
    assert meta.missing_user_values["graded_return_plan"] == ["a"]
    labels = meta.variable_value_labels["graded_return_plan"]
    assert labels["a"] == "Cannot rate" and 9 not in labels and labels[1] == "1"
    raw = pd.read_stata(exported / "f.dta", convert_missing=True, convert_categoricals=False)
    missing = [v for v in raw["graded_return_plan"] if isinstance(v, pd.io.stata.StataMissingValue)]
    assert [m.string for m in missing] == [".a"]


def test_stata_spss_and_pandas_give_one_mean_of_a_scale_item_with_cannot_rate(fidelity_db, exported):
    with Store.open(fidelity_db) as s:
        cannot = s.codebook.field("graded_return_plan").missing_codes
    csv = pd.read_csv(exported / "f.csv")
    expected = csv["graded_return_plan"].mask(csv["graded_return_plan"].isin(cannot)).mean()
    stata = pd.read_stata(exported / "f.dta", convert_categoricals=False)["graded_return_plan"].mean()
    spss = pyreadstat.read_sav(str(exported / "f.sav"))[0]["graded_return_plan"].mean()
    assert stata == pytest.approx(expected) and spss == pytest.approx(expected)
    assert round(expected, 2) == 3.2  # on main Stata gave 4.17: the 9 counted as a rating


def test_codes_and_dates_have_the_formats_of_their_type(tmp_path):
    s = dated_store(tmp_path / "s.db")
    try:
        export(s, "dta", tmp_path / "s.dta")
        cb = s.codebook
    finally:
        s.close()
    data, meta = pyreadstat.read_dta(str(tmp_path / "s.dta"), user_missing=True)
    formats = meta.original_variable_types
    assert formats["status"] == "%2.0f" == cb.field("status").kind.stata_format(cb.field("status"))
    assert formats["admit_date"] == "%tdCCYY-NN-DD"
    assert formats["comment"] == f"%-{len('café au lait'.encode())}s"
    assert data["status"].tolist() == [10, "c", 1, "a"]  # 99 -> .c, 97 -> .a
    assert meta.variable_value_labels["status"] == {
        1: "Low",
        2: "Middle",
        10: "High",
        "a": "Refused",
        "b": "Not asked",
        "c": "Not documented",
    }
    dates = pd.read_stata(tmp_path / "s.dta")["admit_date"]
    assert dates.iloc[0] == pd.Timestamp("2024-01-31") and pd.isna(dates.iloc[2])
    assert pd.read_stata(tmp_path / "s.dta", convert_categoricals=False)["status"].mean() == pytest.approx(5.5)


def test_de_identified_stata_dates_are_shifted_dates_and_years_whole_numbers(tmp_path):
    from chartcode.export.tables import date_offset

    s = dated_store(tmp_path / "s.db")
    try:
        export(s, "dta", tmp_path / "shift.dta", deidentify=True)
        export(s, "dta", tmp_path / "year.dta", deidentify=True, dates="year")
        salt = s.meta("deid_salt")
    finally:
        s.close()
    shifted, meta = pyreadstat.read_dta(str(tmp_path / "shift.dta"))
    assert meta.original_variable_types["admit_date"] == "%tdCCYY-NN-DD"
    moved = sorted(d for d in shifted["admit_date"] if isinstance(d, dt.date))
    # each record's date by its own offset (never 0) - not "2024-01-31 is gone": the salt is random,
    # and another record's shifted date may land on it (a 1-in-180 flake)
    given = {"R1": dt.date(2024, 1, 31), "R2": dt.date(2023, 12, 2), "R4": dt.date(2024, 2, 29)}
    assert moved == sorted(d + dt.timedelta(days=date_offset(salt, r)) for r, d in given.items())
    assert all(date_offset(salt, r) != 0 for r in given)
    years = pd.read_stata(tmp_path / "year.dta", convert_categoricals=False)
    assert sorted(years["admit_date"].dropna()) == [2023, 2024, 2024]  # numbers, not 1 January dates
    assert pyreadstat.read_dta(str(tmp_path / "year.dta"))[1].original_variable_types["admit_date"] == "%4.0f"
    assert years["status"].isna().tolist() == [False, True, False, True]  # 99 and 97 missing, not codes
