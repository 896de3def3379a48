"""Columns the wide exports add to the codebook's fields, in every wide format (csv, xlsx, sav, dta,
json): a rating scale's ``unit`` and ``period`` and its scores per unit-period (as
chartcode.fidelity computes them), and the audit's derived variables with their labels (as the
analyses compute them, chartcode.analysis). Read back with pandas, openpyxl-backed read_excel,
pyreadstat and json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from chartcode.analysis import analysis_frame
from chartcode.codebook import load_codebook
from chartcode.demo import build_demo
from chartcode.demo_fidelity import build_fidelity_demo
from chartcode.errors import UserError
from chartcode.export import export
from chartcode.export.tables import Deidentifier
from chartcode.fidelity import fidelity
from chartcode.resources import resolve
from chartcode.store import Store

WIDE = ("csv", "xlsx", "sav", "dta", "json")


def records_of(files: list[Path], fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(files[0])
    if fmt == "xlsx":
        return pd.read_excel(files[0], sheet_name="records")
    if fmt == "json":
        return pd.DataFrame(json.loads(files[0].read_text(encoding="utf-8"))["records"])
    if fmt == "sav":
        return pyreadstat.read_sav(str(files[0]))[0]
    return pd.read_stata(files[0], convert_categoricals=False)


@pytest.fixture(scope="module")
def fidelity_db(tmp_path_factory) -> Path:
    return build_fidelity_demo(tmp_path_factory.mktemp("fidelity"))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


@pytest.fixture
def fid(fidelity_db, tmp_path):
    shutil.copy(fidelity_db, tmp_path / "f.db")
    with Store.open(tmp_path / "f.db") as s:
        yield s


@pytest.fixture
def demo(demo_db, tmp_path):
    shutil.copy(demo_db, tmp_path / "d.db")
    with Store.open(tmp_path / "d.db") as s:
        yield s


# ---- fidelity: unit, period and scores ---------------------------------------------------------


@pytest.mark.parametrize("fmt", WIDE)
def test_every_wide_format_carries_unit_period_and_the_scores_per_unit_period(fid, tmp_path, fmt):
    records = records_of(export(fid, fmt, tmp_path / f"f.{fmt}").files, fmt)
    assert list(records.columns[:3]) == ["record_id", "unit", "period"]
    scores = {u.record_id: u for u in fidelity(fid)}
    assert len(records) == len(scores) == 6
    sections = [s.id for s in fid.codebook.scale.sections]
    for _, row in records.iterrows():
        u = scores[row["record_id"]]
        assert (row["unit"], row["period"]) == (u.unit, u.period)
        assert row["total"] == pytest.approx(u.total) and row["mean"] == pytest.approx(u.mean)
        assert row["band"] == u.band
        assert row["items_cannot_rate"] == u.items_cannot_rate and row["items_rated"] == u.items_rated
        by = {x.section: x for x in u.sections}
        for sid in sections:
            assert row[f"{sid}_score"] == pytest.approx(by[sid].score) and row[f"{sid}_band"] == by[sid].band
        if u.change_from_previous is None:
            assert pd.isna(row["change_from_previous"])
        else:
            assert row["change_from_previous"] == pytest.approx(u.change_from_previous)


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_scores_are_labelled_numbers_and_bands_text_in_spss_and_stata(fid, tmp_path, fmt):
    files = export(fid, fmt, tmp_path / f"f.{fmt}").files
    read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    _, meta = read(str(files[0]))
    labels = meta.column_names_to_labels
    assert labels["unit"] == "Rated unit" and labels["period"] == "Review period"
    assert labels["total"] == "Total score" and labels["integration_score"] == "Integration: section score"
    assert meta.readstat_variable_types["total"] == "double" and meta.readstat_variable_types["band"] == "string"
    if fmt == "sav":
        assert meta.variable_measure["total"] == "scale" and meta.variable_measure["band"] == "nominal"
        assert meta.original_variable_types["items_rated"] == "F8.0"


def test_de_identified_units_are_hashed_as_in_the_fidelity_sheet_and_periods_kept(fid, tmp_path):
    records = records_of(export(fid, "csv", tmp_path / "f.csv", deidentify=True).files, "csv")
    deid = Deidentifier.for_store(fid)
    assert sorted(set(records["unit"])) == sorted({deid.hash_id(u.unit) for u in fidelity(fid)})
    assert not {"Team East", "Team North", "Team South"} & set(records["unit"])
    assert sorted(set(records["period"])) == ["2025-H1", "2025-H2"]
    sheet = pd.read_excel(export(fid, "xlsx", tmp_path / "f.xlsx", deidentify=True).files[0], sheet_name="fidelity")
    assert sorted(sheet["unit"]) == sorted(records["unit"])


def test_a_derived_variable_named_like_a_score_column_is_refused(tmp_path):
    audit = (
        "id: clash\ntitle: Clash\ncodebook: ibbis-fidelity\n"
        "coders:\n  - {name: ann, role: coder}\n"
        "derived:\n  - name: total\n    label: A clashing name\n    count: {}\n"
    )
    path = tmp_path / "c.db"
    cb = load_codebook(resolve("codebooks", "ibbis-fidelity"))
    with Store.create(path, cb, audit_source=audit, coders=[("ann", "coder")]) as s:
        s.add_unit_period("Team A", "2025-H1")
        with pytest.raises(UserError, match="cannot export column 'total'"):
            export(s, "csv", tmp_path / "c.csv")
    assert not (tmp_path / "c.csv").exists()


def test_a_codebook_without_a_scale_has_no_fidelity_columns(demo, tmp_path):
    records = records_of(export(demo, "csv", tmp_path / "d.csv").files, "csv")
    assert not {"unit", "period", "total", "band"} & set(records.columns)


# ---- derived variables --------------------------------------------------------------------------

DERIVED = ("n_conjoint_sessions", "prior_hp_any", "followed_through")


@pytest.mark.parametrize("fmt", WIDE)
def test_derived_variables_are_in_every_wide_format_as_the_analyses_compute_them(demo, tmp_path, fmt):
    records = records_of(export(demo, fmt, tmp_path / f"d.{fmt}").files, fmt)
    frame, _ = analysis_frame(demo)
    expected = frame.set_index("record_id")
    for name in DERIVED:
        got = records.set_index("record_id")[name]
        want = expected[name].reindex(got.index)
        assert got.isna().tolist() == want.isna().tolist()
        assert got.dropna().astype(float).tolist() == want.dropna().astype(float).tolist()
    assert records["followed_through"].isna().any()  # missing where the condition is not met: kept missing
    assert list(records.columns[-3:]) == list(DERIVED)


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_derived_variables_carry_their_labels_and_yes_no_value_labels(demo, tmp_path, fmt):
    files = export(demo, fmt, tmp_path / f"d.{fmt}").files
    read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    _, meta = read(str(files[0]))
    assert meta.column_names_to_labels["n_conjoint_sessions"] == "Number of conjoint sessions"
    assert meta.column_names_to_labels["prior_hp_any"] == "Any previous health psychology contact"
    assert {int(k): v for k, v in meta.variable_value_labels["prior_hp_any"].items()} == {0: "No", 1: "Yes"}
    assert "n_conjoint_sessions" not in meta.variable_value_labels
    if fmt == "sav":
        assert meta.variable_measure["n_conjoint_sessions"] == "scale"
        assert (meta.variable_measure["prior_hp_any"], meta.original_variable_types["prior_hp_any"]) == (
            "nominal",
            "F1.0",
        )


def test_xlsx_codebook_sheet_and_json_codebook_describe_the_added_columns(demo, tmp_path):
    sheet = pd.read_excel(export(demo, "xlsx", tmp_path / "d.xlsx").files[0], sheet_name="codebook")
    rows = sheet[sheet["name"] == "prior_hp_any"]
    assert rows["label"].unique().tolist() == ["Any previous health psychology contact"]
    assert rows["choice_label"].tolist() == ["No", "Yes"]
    doc = json.loads(export(demo, "json", tmp_path / "d.json").files[0].read_text(encoding="utf-8"))
    columns = {c["name"]: c for c in doc["codebook"]["columns"]}
    assert set(columns) == set(DERIVED)
    assert columns["n_conjoint_sessions"]["type"] == "count" and columns["prior_hp_any"]["type"] == "binary"


def test_redcap_data_stays_the_dictionary_fields_only(demo, tmp_path):
    data = pd.read_csv(export(demo, "redcap", tmp_path / "r.csv").files[0])
    assert not set(DERIVED) & set(data.columns)


def test_a_derived_name_too_long_for_stata_is_refused_naming_it(tmp_path):
    name = "a_derived_variable_name_longer_than_32_chars"
    audit = (
        "id: x\ntitle: X\ncodebook: conjoint-pain\ncoders:\n  - {name: ann, role: coder}\n"
        f"derived:\n  - name: {name}\n    count: {{}}\n"
    )
    cb = load_codebook(resolve("codebooks", "conjoint-pain"))
    with Store.create(tmp_path / "l.db", cb, audit_source=audit, coders=[("ann", "coder")]) as s:
        s.add_records(["R1"])
        with pytest.raises(UserError, match=f"l.dta: column '{name}' has 44 characters; Stata takes at most 32"):
            export(s, "dta", tmp_path / "l.dta")
        assert pyreadstat.read_sav(str(export(s, "sav", tmp_path / "l.sav").files[0]))[0][name].tolist() == [0]
    assert not (tmp_path / "l.dta").exists()
