"""SPSS (.sav) exports as SPSS users get them, read back with pyreadstat (user_missing=True,
variable_measure, original_variable_types): each variable's measurement level and format come
from its field type, codes are whole numbers, dates are date variables, declared missing codes
are user-missing values. PSPP itself reads them in tests/integration/test_pspp_reads_exports.py."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from chartcode.codebook import load_codebook
from chartcode.codebook.types import field_type
from chartcode.demo import build_demo
from chartcode.errors import UserError
from chartcode.export import export
from chartcode.store import Store

DATED_CODEBOOK = """
id: dated
title: Dated test codebook
version: "1"
fields:
  - name: admit_date
    label: Admission date
    type: date
  - name: status
    label: Status
    type: ordinal
    choices:
      1: Low
      2: Middle
      10: High
      97: Refused
      98: Not asked
      99: Not documented
    missing: [97, 98, 99]
  - name: weight_kg
    label: Weight
    type: numeric
    min: 0
    max: 400
  - name: comment
    label: Comment
    type: text
"""


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


@pytest.fixture
def demo(tmp_path, demo_master):
    path = tmp_path / "demo.db"
    shutil.copy(demo_master, path)
    s = Store.open(path)
    yield s
    s.close()


def dated_store(path: Path, codebook: str = DATED_CODEBOOK, rows=None) -> Store:
    s = Store.create(path, load_codebook("dated.yaml", text=codebook), coders=[("ann", "coder")])
    rows = rows or [
        ("R1", {"admit_date": "2024-01-31", "status": 10, "weight_kg": 81.5, "comment": "café au lait"}),
        ("R2", {"admit_date": "2023-12-02", "status": 99, "weight_kg": 70, "comment": "ok"}),
        ("R3", {"status": 1}),
        ("R4", {"admit_date": "2024-02-29", "status": 97}),
    ]
    s.add_records([r for r, _ in rows])
    s.assign("ann", [r for r, _ in rows])
    for rid, values in rows:
        for name, value in values.items():
            s.set_code("ann", rid, name, s.codebook.field(name).parse(value))
        s.submit("ann", rid)
    return s


def read(path: Path, **kw):
    return pyreadstat.read_sav(str(path), **kw)


def test_codes_are_whole_numbers_at_the_measurement_level_of_their_type(demo, tmp_path):
    export(demo, "sav", tmp_path / "d.sav")
    _, meta = read(tmp_path / "d.sav")
    formats, measures = meta.original_variable_types, meta.variable_measure
    assert (formats["sex"], measures["sex"]) == ("F1.0", "nominal")  # was F8.2: codes shown as 1.00
    assert (formats["mh_diagnosis"], measures["mh_diagnosis"]) == ("F1.0", "nominal")  # binary
    assert (formats["last_note_outcome"], measures["last_note_outcome"]) == ("F1.0", "ordinal")
    assert (formats["age"], measures["age"]) == ("F3.0", "scale")  # a count up to 110
    assert measures["followup_sessions"] == "scale" and formats["followup_sessions"].endswith(".0")
    assert measures["record_id"] == "nominal" and measures["sex_src"] == "nominal"
    for f in demo.codebook.record_fields:  # one rule: the type registry
        assert measures[f.name] == f.kind.spss_measure
        assert formats[f.name] == f.kind.spss_format(f)
    _, notes = read(tmp_path / "d_notes.sav")
    assert notes.original_variable_types["session_content"] == "F1.0"


def test_string_variables_are_as_wide_as_their_longest_value_in_bytes(tmp_path):
    s = dated_store(tmp_path / "s.db")
    try:
        export(s, "sav", tmp_path / "s.sav")
    finally:
        s.close()
    data, meta = read(tmp_path / "s.sav")
    assert meta.original_variable_types["comment"] == f"A{len('café au lait'.encode())}"  # 13 bytes in UTF-8
    assert meta.original_variable_types["record_id"] == "A2"
    assert sorted(data["comment"]) == ["", "", "café au lait", "ok"]


def test_dates_are_spss_date_variables(demo, tmp_path):
    s = dated_store(tmp_path / "s.db")
    try:
        export(s, "sav", tmp_path / "s.sav")
    finally:
        s.close()
    data, meta = read(tmp_path / "s.sav")
    assert meta.original_variable_types["admit_date"] == "SDATE10"  # was A10 text
    assert meta.variable_measure["admit_date"] == "scale"
    assert data["admit_date"].tolist()[:2] == [dt.date(2024, 1, 31), dt.date(2023, 12, 2)]
    assert pd.isna(data["admit_date"].iloc[2])
    export(demo, "sav", tmp_path / "d.sav")
    notes, nmeta = read(tmp_path / "d_notes.sav")
    assert nmeta.original_variable_types["note_date"] == "SDATE10"
    assert all(isinstance(d, dt.date) for d in notes["note_date"])


def test_declared_missing_codes_are_user_missing_values(demo, tmp_path):
    export(demo, "sav", tmp_path / "d.sav")
    kept, meta = read(tmp_path / "d.sav", user_missing=True)
    assert meta.missing_ranges["race_ethnicity"] == [{"lo": 9.0, "hi": 9.0}]
    assert meta.missing_ranges["sex"] == [{"lo": 9.0, "hi": 9.0}]
    assert (kept["race_ethnicity"] == 9).sum() == 2  # the code stays in the file ...
    assert meta.variable_value_labels["race_ethnicity"][9] == "Not disclosed"
    plain, _ = read(tmp_path / "d.sav")
    assert (plain["race_ethnicity"] == 9).sum() == 0  # ... and reads as missing
    assert plain["race_ethnicity"].isna().sum() == kept["race_ethnicity"].isna().sum() + 2
    assert "age" not in meta.missing_ranges


def test_three_missing_codes_are_discrete_values_and_more_need_a_range(tmp_path):
    s = dated_store(tmp_path / "s.db")
    try:
        export(s, "sav", tmp_path / "s.sav")
    finally:
        s.close()
    data, meta = read(tmp_path / "s.sav", user_missing=True)
    assert meta.missing_ranges["status"] == [{"lo": c, "hi": c} for c in (97.0, 98.0, 99.0)]
    assert meta.original_variable_types["status"] == "F2.0"  # the widest code, 99
    assert data["status"].tolist() == [10, 99, 1, 97]
    four = DATED_CODEBOOK.replace("99: Not documented", "99: Not documented\n      96: Skipped").replace(
        "missing: [97, 98, 99]", "missing: [96, 97, 98, 99]"
    )
    s = dated_store(tmp_path / "four.db", four)
    try:
        export(s, "sav", tmp_path / "four.sav")
    finally:
        s.close()
    _, meta = read(tmp_path / "four.sav", user_missing=True)
    assert meta.missing_ranges["status"] == [{"lo": 96.0, "hi": 99.0}]  # one range, no valid code inside


def test_missing_codes_spss_cannot_declare_are_refused_naming_the_field(tmp_path):
    spread = DATED_CODEBOOK.replace("2: Middle", "2: Middle\n      5: Unclear\n      6: Other").replace(
        "missing: [97, 98, 99]", "missing: [5, 97, 98, 99]"
    )
    s = dated_store(tmp_path / "spread.db", spread)
    try:
        with pytest.raises(
            UserError, match=r"spread.sav: field 'status' declares 4 missing codes; SPSS takes at most 3"
        ):
            export(s, "sav", tmp_path / "spread.sav")
        export(s, "dta", tmp_path / "spread.dta")  # Stata has 26 extended missing values
    finally:
        s.close()
    assert not (tmp_path / "spread.sav").exists()  # nothing written


@pytest.mark.parametrize("dates", ["shift", "year"])
def test_de_identified_dates_stay_date_variables_or_become_whole_years(tmp_path, dates):
    s = dated_store(tmp_path / "s.db")
    try:
        export(s, "sav", tmp_path / "s.sav", deidentify=True, dates=dates)
    finally:
        s.close()
    data, meta = read(tmp_path / "s.sav")
    if dates == "shift":
        assert meta.original_variable_types["admit_date"] == "SDATE10"
        moved = [d for d in data["admit_date"] if not pd.isna(d)]
        assert len(moved) == 3 and all(isinstance(d, dt.date) for d in moved)
        assert dt.date(2024, 1, 31) not in moved
        assert "shifted" in meta.column_names_to_labels["admit_date"]
    else:
        assert meta.original_variable_types["admit_date"] == "F4.0"
        assert meta.variable_measure["admit_date"] == "scale"
        assert sorted(data["admit_date"].dropna()) == [2023.0, 2024.0, 2024.0]
    assert "comment" not in data  # free text left out


def test_date_times_are_date_times_and_dates_with_offsets_stay_text():
    from chartcode.export.writers import _as_dates

    timed = _as_dates(pd.Series(["2024-01-31T10:30:00", None, "2024-02-01"]))
    assert timed is not None and str(timed.dtype).startswith("datetime64")
    assert _as_dates(pd.Series(["2024-01-31T10:30:00+02:00"])) is None  # no time zone in SPSS: stays text
    assert _as_dates(pd.Series([None, None])) is None
    assert field_type("date").spss_format(None) == "SDATE10"  # type: ignore[arg-type]
