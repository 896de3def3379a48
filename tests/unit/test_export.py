"""Exports read back with the tools an analyst uses: pandas, openpyxl, pyreadstat, json."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from chartcode.codebook import load_codebook
from chartcode.codebook.redcap import codebook_to_redcap
from chartcode.consensus import auto_agreed
from chartcode.dataset import records_frame
from chartcode.demo import build_demo
from chartcode.errors import UserError
from chartcode.export import export, planned_files
from chartcode.export.writers import stat_names
from chartcode.store import Store

NOTE_TEXT = "PATIENT-NOTE-TEXT-MUST-NOT-LEAK"
LONG_FIELD = "a_very_long_field_name_for_tests"  # 32 characters: `<name>_src` would be 36
SMALL_CODEBOOK = f"""
id: small
title: Small test codebook
version: "1"
fields:
  - name: mrn
    label: Medical record number
    level: record
    type: text
    identifier: true
  - name: smoker
    label: Current smoker
    level: record
    type: binary
  - name: {LONG_FIELD}
    label: A count with a long name
    level: record
    type: count
  - name: visit_kind
    label: Kind of visit
    level: note
    type: nominal
    choices:
      1: First
      2: Follow-up
"""


def small_store(directory: Path, name: str = "small.db") -> Path:
    """Two records (R1 with two notes, R2 with one), coded and submitted by `intern`."""
    path = directory / name
    s = Store.create(
        path, load_codebook("small.yaml", text=SMALL_CODEBOOK), coders=[("intern", "coder"), ("lead", "lead")]
    )
    try:
        s.add_records(["R1", "R2"])
        with s._write() as db:
            db.conn.execute(
                "INSERT INTO notes(note_id, record_id, note_date, note_type, text, content_sha) VALUES"
                f" ('R1-N1', 'R1', '2024-01-01', 'visit', '{NOTE_TEXT} one', 'a'),"
                f" ('R1-N2', 'R1', '2024-02-01', 'visit', '{NOTE_TEXT} two', 'b'),"
                f" ('R2-N1', 'R2', '2024-01-05', 'visit', '{NOTE_TEXT} three', 'c')"
            )
        s.assign("intern", ["R1", "R2"])
        for rid, mrn, smoker, n in (("R1", "MRN-111", 1, 3), ("R2", "MRN-222", 0, 0)):
            s.set_code("intern", rid, "mrn", mrn)
            s.set_code("intern", rid, "smoker", smoker)
            s.set_code("intern", rid, LONG_FIELD, n)
        s.set_code("intern", "R1", "visit_kind", 1, note_id="R1-N1")
        s.set_code("intern", "R1", "visit_kind", 2, note_id="R1-N2")
        s.set_code("intern", "R2", "visit_kind", 1, note_id="R2-N1")
        s.submit("intern", "R1")
        s.submit("intern", "R2")
    finally:
        s.close()
    return path


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


@pytest.fixture
def demo(tmp_path, demo_master):
    """A private copy of the complete demo database, open."""
    path = tmp_path / "demo.db"
    shutil.copy(demo_master, path)
    s = Store.open(path)
    yield s
    s.close()


@pytest.fixture
def small(tmp_path):
    s = Store.open(small_store(tmp_path))
    yield s
    s.close()


# ---- wide ---------------------------------------------------------------------------------


def test_wide_csv_holds_final_values_with_source_flags_and_a_notes_sibling(demo, tmp_path):
    out = tmp_path / "final.csv"
    result = export(demo, "csv", out)
    assert result.files == [out, tmp_path / "final_notes.csv"]
    records = pd.read_csv(out)
    notes = pd.read_csv(tmp_path / "final_notes.csv")
    assert len(records) == 24 and records["record_id"].is_unique
    assert len(notes) == demo._db.execute("SELECT count(*) FROM notes").fetchone()[0]
    for f in demo.codebook.record_fields:
        assert f.name in records and f.name + "__source" in records
    for f in demo.codebook.note_fields:
        assert f.name in notes and f.name + "__source" in notes
    expected = records_frame(demo)
    assert records["age"].tolist() == expected["age"].astype(float).tolist()


def test_wide_export_flags_consensus_and_leaves_unresolved_units_empty(demo, tmp_path):
    before = pd.read_csv(export(demo, "csv", tmp_path / "a.csv").files[0])
    flags = before.filter(like="__source").stack()
    assert "unresolved" in set(flags)  # the supervisor disagreed on a few units
    for f in demo.codebook.record_fields:
        unresolved = before[f.name + "__source"] == "unresolved"
        assert before.loc[unresolved, f.name].isna().all()
    assert auto_agreed(demo, "supervisor") > 0
    after = pd.read_csv(export(demo, "csv", tmp_path / "b.csv").files[0])
    assert "consensus" in set(after.filter(like="__source").stack())


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_spss_and_stata_files_carry_variable_and_value_labels(demo, tmp_path, fmt):
    out = tmp_path / f"final.{fmt}"
    export(demo, fmt, out)
    read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    records, meta = read(str(out))
    assert len(records) == 24
    cb = demo.codebook
    sex = cb.field("sex")
    assert meta.column_names_to_labels["sex"] == sex.label
    # 9 "Not documented" is declared missing: SPSS keeps the code (user-missing), Stata stores .a
    expected = {("a" if fmt == "dta" and c.missing else c.code): c.label for c in sex.choices}
    assert {(k if isinstance(k, str) else int(k)): v for k, v in meta.variable_value_labels["sex"].items()} == expected
    assert "sex_src" in records.columns and "sex__source" not in records.columns
    assert set(records["sex_src"]) <= {"single", "agreed", "consensus", "unresolved", ""}
    notes, nmeta = read(str(tmp_path / f"final_notes.{fmt}"))
    sc = cb.field("session_content")
    assert nmeta.column_names_to_labels["session_content"] == sc.label
    assert {int(k): v for k, v in nmeta.variable_value_labels["session_content"].items()} == {
        c.code: c.label for c in sc.choices
    }
    assert len(notes) > 0


def test_stata_source_names_fit_32_characters_with_a_stable_short_form(small, tmp_path):
    names = stat_names(["smoker", "smoker__source", LONG_FIELD, LONG_FIELD + "__source"])
    assert names["smoker__source"] == "smoker_src"
    short = names[LONG_FIELD + "__source"]
    assert len(short) <= 32 and short.endswith("_src") and short.startswith(LONG_FIELD[:23])
    assert stat_names([LONG_FIELD + "__source"])[LONG_FIELD + "__source"] == short  # stable
    export(small, "dta", tmp_path / "s.dta")
    df, meta = pyreadstat.read_dta(str(tmp_path / "s.dta"))
    assert short in df.columns and all(len(c) <= 32 for c in df.columns)
    assert meta.column_names_to_labels[short] == f"Source of final value: {LONG_FIELD}"


def test_xlsx_has_records_notes_codebook_agreement_and_analyses_sheets(demo, tmp_path):
    out = tmp_path / "final.xlsx"
    export(demo, "xlsx", out)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["records", "notes", "codebook", "agreement", "analyses", "audit"]
    records = pd.read_excel(out, sheet_name="records")
    assert len(records) == 24 and "age__source" in records
    codebook = pd.read_excel(out, sheet_name="codebook")
    # conjoint-pain has branching logic (1.1), so the sheet also gives each field's show_if and calc
    assert list(codebook.columns) == [
        "name", "label", "level", "type", "code", "choice_label", "rules", "show_if", "calc"
    ]  # fmt: skip
    assert set(codebook.loc[codebook["name"] == "followup_type", "show_if"]) == {"[accepted_followup] = '1'"}
    sex = codebook[codebook["name"] == "sex"]
    assert sorted(sex["code"]) == [1, 2, 9] and "Female" in set(sex["choice_label"])
    agreement = pd.read_excel(out, sheet_name="agreement")
    assert "field" in agreement and "percent_agreement" in agreement
    analyses = pd.read_excel(out, sheet_name="analyses")
    assert {"kind", "spec", "term", "coef", "p", "odds_ratio"} <= set(analyses.columns)
    assert "accepted_followup ~ mh_diagnosis" in set(analyses["spec"])
    assert {"linear", "logistic", "welch"} <= set(analyses["kind"])


def test_json_export_has_records_notes_and_codebook(demo, tmp_path):
    out = tmp_path / "final.json"
    export(demo, "json", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc) == {"records", "notes", "codebook", "history_entries", "history_head"}
    assert (doc["history_entries"], doc["history_head"]) == demo.history_head()
    assert len(doc["records"]) == 24 and "sex__source" in doc["records"][0]
    assert isinstance(doc["records"][0]["sex"], int)
    assert [f["name"] for f in doc["codebook"]["fields"]] == [f.name for f in demo.codebook.fields]


def test_redcap_data_fits_the_dictionary_codebook_to_redcap_writes(demo, tmp_path):
    dictionary = tmp_path / "dict.csv"
    codebook_to_redcap(demo.codebook, dictionary)
    export(demo, "redcap", tmp_path / "data.csv")
    with open(dictionary, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    variables = [r["Variable / Field Name"] for r in rows]
    choices = {r["Variable / Field Name"]: r["Choices, Calculations, OR Slider Labels"] for r in rows}
    data = pd.read_csv(tmp_path / "data.csv", dtype=str, keep_default_na=False)
    assert list(data.columns)[0] == "record_id" == variables[0]
    assert set(data.columns) - {"redcap_repeat_instrument", "redcap_repeat_instance"} <= set(variables)
    assert (data["redcap_repeat_instrument"] == "").sum() == 24  # one row per record, then the notes
    for col in data.columns[3:]:
        fld = demo.codebook.field(col)
        if fld.has_choices:
            allowed = {str(c.code) for c in fld.choices}
            if choices[col]:  # radio: the dictionary's own codes
                allowed = {e.split(",")[0].strip() for e in choices[col].split("|")}
            assert set(data[col]) - {""} <= allowed, col


# ---- long and blinding ------------------------------------------------------------------


def test_long_export_holds_back_codes_until_every_assigned_coder_submitted(demo, tmp_path):
    demo.add_coder("third", "coder")
    demo.assign("third", ["VET-001"])
    demo.set_code("third", "VET-001", "age", 54)  # a draft: not submitted
    blind = export(demo, "csv", tmp_path / "blind.csv", long=True, viewer="intern")
    df = pd.read_csv(tmp_path / "blind.csv")
    assert set(df.loc[df["record_id"] == "VET-001", "coder"]) <= {"intern"}  # the intern's own only
    assert (
        blind.hidden
        == demo._db.execute(
            "SELECT count(*) FROM codes WHERE coder != 'intern' AND value IS NOT NULL"
            " AND record_id NOT IN (SELECT record_id FROM assignments WHERE coder = 'intern'"
            " AND submitted_at IS NOT NULL AND record_id != 'VET-001')"
        ).fetchone()[0]
    )
    own = pd.read_csv(export(demo, "csv", tmp_path / "own.csv", long=True, viewer="third").files[0])
    assert set(own.loc[own["record_id"] == "VET-001", "coder"]) == {"third"}
    lead = export(demo, "csv", tmp_path / "lead.csv", long=True, viewer="qi-lead")
    everything = pd.read_csv(tmp_path / "lead.csv")
    assert lead.hidden == 0
    assert len(everything) == demo._db.execute("SELECT count(*) FROM codes WHERE value IS NOT NULL").fetchone()[0]
    draft = everything[(everything["coder"] == "third")].iloc[0]
    assert not draft["submitted"] and not draft["revised"]


def test_long_export_marks_values_revised_after_submission(small, tmp_path):
    small.set_code("intern", "R1", "smoker", 0)
    df = pd.read_csv(export(small, "csv", tmp_path / "l.csv", long=True, viewer="lead").files[0])
    assert list(df.columns) == [
        "coder",
        "record_id",
        "note_id",
        "field",
        "value",
        "label",
        "memo",
        "submitted",
        "submitted_value",
        "revised",
        "updated_at",
    ]
    row = df[(df["record_id"] == "R1") & (df["field"] == "smoker")].iloc[0]
    # the value column mixes fields of every type (text too), so pandas reads it as text
    assert (str(row["value"]), str(row["submitted_value"]), row["label"]) == ("0", "1", "No") and row["revised"]
    assert df["revised"].sum() == 1


def test_formulas_in_memos_are_neutralised_in_csv_and_plain_text_in_xlsx(small, tmp_path):
    memo_text = '=HYPERLINK("http://evil.example","click")'
    small.set_memo("intern", "R1", "smoker", memo_text)
    export(small, "csv", tmp_path / "l.csv", long=True, viewer="lead")
    df = pd.read_csv(tmp_path / "l.csv")
    memo = df.loc[df["memo"].notna(), "memo"].iloc[0]
    assert memo.startswith("'=HYPERLINK(")
    smoker = df[df["field"] == "smoker"]
    assert set(smoker["value"].astype(str)) == {"0", "1"}  # numbers stay numbers (no apostrophe)
    # xlsx: a text cell holding exactly what was typed (a text cell is never run as a formula)
    export(small, "xlsx", tmp_path / "l.xlsx", long=True, viewer="lead")
    ws = openpyxl.load_workbook(tmp_path / "l.xlsx")["codes"]
    header = [c.value for c in ws[1]]
    memos = [r[header.index("memo")] for r in ws.iter_rows(min_row=2) if r[header.index("memo")].value]
    assert [(c.value, c.data_type) for c in memos] == [(memo_text, "s")]
    values = [r[header.index("value")] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert any(isinstance(v, int) for v in values)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"


# ---- de-identification --------------------------------------------------------------------


def test_deidentify_drops_identifier_fields_and_hashes_ids_with_the_database_salt(small, tmp_path):
    salt = small.meta("deid_salt")
    expected = hashlib.sha256((salt + "R1").encode()).hexdigest()[:16]
    export(small, "csv", tmp_path / "a.csv", deidentify=True)
    records = pd.read_csv(tmp_path / "a.csv", dtype=str)
    notes = pd.read_csv(tmp_path / "a_notes.csv", dtype=str)
    assert "mrn" not in records and "mrn__source" not in records
    assert "MRN-111" not in (tmp_path / "a.csv").read_text()
    assert expected in set(records["record_id"]) and "R1" not in set(records["record_id"])
    assert set(notes["note_id"]) == {
        hashlib.sha256((salt + n).encode()).hexdigest()[:16] for n in ("R1-N1", "R1-N2", "R2-N1")
    }
    assert not any("R1" in n for n in notes["note_id"])
    # stable across runs of the same database
    export(small, "csv", tmp_path / "b.csv", deidentify=True)
    assert pd.read_csv(tmp_path / "b.csv", dtype=str)["record_id"].tolist() == records["record_id"].tolist()
    # different for another database with the same ids
    with Store.open(small_store(tmp_path, "other.db")) as other:
        export(other, "csv", tmp_path / "c.csv", deidentify=True)
    assert set(pd.read_csv(tmp_path / "c.csv", dtype=str)["record_id"]).isdisjoint(records["record_id"])


def test_deidentified_long_export_hashes_ids_and_drops_identifiers_and_memos(small, tmp_path):
    small.set_memo("intern", "R1", "smoker", "mentions the patient by name")
    doc = json.loads(
        export(small, "json", tmp_path / "l.json", long=True, deidentify=True, viewer="lead").files[0].read_text()
    )
    codes = doc["codes"]
    assert codes and {c["field"] for c in codes} == {"smoker", LONG_FIELD, "visit_kind"}
    assert all(c["memo"] is None for c in codes)
    assert all(len(c["record_id"]) == 16 and c["record_id"] not in ("R1", "R2") for c in codes)
    assert "mrn" not in {f["name"] for f in doc["codebook"]["fields"]}


@pytest.mark.parametrize(
    "fmt,long",
    [
        ("csv", False),
        ("xlsx", False),
        ("sav", False),
        ("dta", False),
        ("json", False),
        ("redcap", False),
        ("csv", True),
        ("xlsx", True),
        ("json", True),
    ],
)
def test_no_export_contains_note_text(small, tmp_path, fmt, long):
    out = tmp_path / f"x.{'csv' if fmt == 'redcap' else fmt}"
    for path in export(small, fmt, out, long=long).files:
        data = path.read_bytes()
        if fmt == "xlsx":
            import zipfile

            with zipfile.ZipFile(path) as z:
                data = b"".join(z.read(n) for n in z.namelist())
        assert NOTE_TEXT.encode() not in data


# ---- refusals ----------------------------------------------------------------------------


def test_unknown_format_is_refused(small, tmp_path):
    with pytest.raises(UserError, match="unknown export format 'parquet'"):
        export(small, "parquet", tmp_path / "x.parquet")


@pytest.mark.parametrize("fmt", ["sav", "dta", "redcap"])
def test_long_export_is_refused_for_formats_without_a_long_form(small, tmp_path, fmt):
    with pytest.raises(UserError, match="--long"):
        export(small, fmt, tmp_path / f"x.{fmt}", long=True)
    assert not (tmp_path / f"x.{fmt}").exists()


def test_existing_files_are_not_overwritten_without_force(small, tmp_path):
    out = tmp_path / "x.csv"
    (tmp_path / "x_notes.csv").write_text("keep me")
    with pytest.raises(UserError, match="already exists.*--force"):
        export(small, "csv", out)
    assert not out.exists() and (tmp_path / "x_notes.csv").read_text() == "keep me"
    export(small, "csv", out, force=True)
    assert len(pd.read_csv(tmp_path / "x_notes.csv")) == 3


def test_missing_folder_is_a_user_error(small, tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        export(small, "json", tmp_path / "nope" / "x.json")


def test_unknown_viewer_is_a_user_error(small, tmp_path):
    with pytest.raises(UserError):
        export(small, "csv", tmp_path / "x.csv", long=True, viewer="nobody")


def test_sibling_notes_file_takes_the_stem_and_format_suffix():
    assert planned_files("dta", Path("out/final.dta")) == [Path("out/final.dta"), Path("out/final_notes.dta")]
    assert planned_files("csv", Path("final.csv"), long=True) == [Path("final.csv")]
