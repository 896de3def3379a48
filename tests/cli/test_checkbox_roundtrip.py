"""Check-all-that-apply fields through the command line: import-codes takes ``1|3``; every wide export
writes ``<field>___<code>`` 0/1 columns (blank where not coded), read back with pandas and pyreadstat;
the REDCap dictionary and data round-trip; the real REDCap dictionaries' checkboxes stay one field."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from chartcode.codebook import load_codebook
from chartcode.store import Store

ROOT = Path(__file__).resolve().parents[2]
REDCAP = ROOT / "tests" / "data" / "redcap"

CODEBOOK = """\
id: cbx
title: Services audit
version: '1'
fields:
  - name: services
    label: Services offered
    level: record
    type: checkbox
    required: true
    choices:
      1: Therapy
      2: Medication
      3: Peer support
      oth: Other
  - name: content
    label: Session content
    level: note
    type: checkbox
    choices:
      1: Assessment
      2: Education
"""
NOTES = (
    "record_id,note_id,note_date,note_type,author,text\n"
    'R1,R1-N1,2024-01-05,conjoint,Dr A,"Veteran assessed."\n'
    'R2,R2-N1,2024-01-09,conjoint,Dr A,"Declined."\n'
    'R3,R3-N1,2024-01-12,conjoint,Dr A,"Education on pacing."\n'
)
CODES = (
    "record_id,note_id,field,value\n"
    "R1,,services,3|1\n"  # any order: stored in choice order
    "R1,R1-N1,content,1\n"
    "R2,,services,|\n"  # coded, nothing ticked (an empty cell is skipped)
    "R2,R2-N1,content,2|1\n"
)  # R3: not coded (a draft: services is required)
OPTIONS = ["services___1", "services___2", "services___3", "services___oth"]


@pytest.fixture
def db(cli, tmp_path):
    (tmp_path / "cbx.yaml").write_text(CODEBOOK, encoding="utf-8")
    (tmp_path / "notes.csv").write_text(NOTES, encoding="utf-8")
    (tmp_path / "codes.csv").write_text(CODES, encoding="utf-8")
    path = tmp_path / "audit.db"
    r = cli("init", path, "--codebook", tmp_path / "cbx.yaml", "--coder", "intern", "--coder", "lead:lead")
    assert r.code == 0, r.err
    assert cli("import", path, tmp_path / "notes.csv").code == 0
    r = cli("import-codes", path, tmp_path / "codes.csv", "--coder", "intern")
    assert r.code == 0, r.err
    return path


def _codes(db) -> dict[tuple[str, str | None, str], tuple[str, str]]:
    with Store.open(db) as s:
        return {(c["record_id"], c["note_id"], c["field"]): (c["value"], c["label"]) for c in s.codes(coder="intern")}


def test_import_codes_stores_the_set_in_choice_order_with_history(db):
    codes = _codes(db)
    assert codes[("R1", None, "services")] == ("1|3", "Therapy, Peer support")
    assert codes[("R2", None, "services")] == ("", "(none ticked)")
    assert codes[("R2", "R2-N1", "content")] == ("1|2", "Assessment, Education")
    with Store.open(db) as s:
        rows = [h for h in s.history() if h["field"] == "services" and h["record_id"] == "R1"]
    assert [(h["old_value"], h["new_value"]) for h in rows] == [(None, "1|3")]


def test_import_codes_refuses_a_code_not_among_the_options_and_changes_nothing(cli, db, tmp_path):
    with Store.open(db) as s:
        before = s.history_head()
    bad = tmp_path / "bad.csv"
    bad.write_text("record_id,note_id,field,value\nR3,R3-N1,content,2\nR3,,services,1|7\n", encoding="utf-8")
    r = cli("import-codes", db, bad, "--coder", "intern")
    assert r.code == 2
    assert r.err.strip() == (
        f"chartcode: error: {bad}:3: field 'services': '7' is not an option of this field"
        " (options: 1 = Therapy, 2 = Medication, 3 = Peer support, oth = Other)"
    )
    assert "Traceback" not in r.err
    with Store.open(db) as s:
        assert s.history_head() == before
        assert ("R3", "R3-N1", "content") not in _codes(db)


def _export(cli, db, tmp_path, fmt):
    out = tmp_path / f"final.{fmt if fmt != 'redcap' else 'csv'}"
    r = cli("export", db, "--format", fmt, "--out", out)
    assert r.code == 0, r.err
    return out


def _by_record(df: pd.DataFrame, columns: list[str]) -> dict[str, list]:
    df = df.set_index("record_id")
    return {rid: [None if pd.isna(v) else int(v) for v in df.loc[rid, columns]] for rid in sorted(df.index.astype(str))}


EXPECTED = {"R1": [1, 0, 1, 0], "R2": [0, 0, 0, 0], "R3": [None, None, None, None]}
EXPECTED_NOTES = {"R1": [1, 0], "R2": [1, 1], "R3": [None, None]}


def test_csv_export_has_one_zero_one_column_per_option_blank_where_not_coded(cli, db, tmp_path):
    out = _export(cli, db, tmp_path, "csv")
    records = pd.read_csv(out)
    cols = list(records.columns)
    assert "services" not in cols
    assert cols[cols.index("services___1") : cols.index("services___1") + 5] == [*OPTIONS, "services__source"]
    assert _by_record(records, OPTIONS) == EXPECTED
    notes = pd.read_csv(out.with_name("final_notes.csv"))
    assert _by_record(notes, ["content___1", "content___2"]) == EXPECTED_NOTES


def test_xlsx_and_json_exports_have_the_option_columns(cli, db, tmp_path):
    records = pd.read_excel(_export(cli, db, tmp_path, "xlsx"), sheet_name="records")
    assert _by_record(records, OPTIONS) == EXPECTED
    doc = json.loads(_export(cli, db, tmp_path, "json").read_text(encoding="utf-8"))
    by_id = {r["record_id"]: [r[c] for c in OPTIONS] for r in doc["records"]}
    assert by_id == EXPECTED


def test_sav_export_labels_each_option_for_an_spss_multiple_response_set(cli, db, tmp_path):
    df, meta = pyreadstat.read_sav(str(_export(cli, db, tmp_path, "sav")))
    assert _by_record(df, OPTIONS) == EXPECTED
    labels = meta.column_names_to_labels
    assert [labels[c] for c in OPTIONS] == [
        "Services offered: Therapy",
        "Services offered: Medication",
        "Services offered: Peer support",
        "Services offered: Other",
    ]
    assert meta.variable_value_labels["services___1"] == {0: "No", 1: "Yes"}
    assert meta.variable_measure["services___1"] == "nominal"
    notes, nmeta = pyreadstat.read_sav(str(tmp_path / "final_notes.sav"))
    assert _by_record(notes, ["content___1", "content___2"]) == EXPECTED_NOTES
    assert nmeta.column_names_to_labels["content___2"] == "Session content: Education"


def test_dta_export_has_the_option_columns_with_labels(cli, db, tmp_path):
    df, meta = pyreadstat.read_dta(str(_export(cli, db, tmp_path, "dta")))
    assert _by_record(df, OPTIONS) == EXPECTED
    assert meta.column_names_to_labels["services___oth"] == "Services offered: Other"
    assert meta.variable_value_labels["services___3"] == {0: "No", 1: "Yes"}


def test_redcap_export_writes_the_dictionary_row_and_the_data_columns(cli, db, tmp_path):
    data = _export(cli, db, tmp_path, "redcap")
    rows = list(csv.DictReader(data.open(encoding="utf-8")))
    base = [r for r in rows if not r["redcap_repeat_instrument"]]
    # REDCap names the option columns with lower-case codes
    assert {r["record_id"]: [r[c.lower()] for c in OPTIONS] for r in base} == {
        "R1": ["1", "0", "1", "0"],
        "R2": ["0", "0", "0", "0"],
        "R3": ["", "", "", ""],
    }
    repeat = {r["record_id"]: [r["content___1"], r["content___2"]] for r in rows if r["redcap_repeat_instrument"]}
    assert repeat == {"R1": ["1", "0"], "R2": ["1", "1"]}
    dictionary = tmp_path / "dict.csv"
    r = cli("codebook", "export", tmp_path / "cbx.yaml", "--format", "redcap", "--out", dictionary)
    assert r.code == 0, r.err
    drows = {r["Variable / Field Name"]: r for r in csv.DictReader(dictionary.open(encoding="utf-8"))}
    assert drows["services"]["Field Type"] == "checkbox"
    assert drows["services"]["Choices, Calculations, OR Slider Labels"] == (
        "1, Therapy | 2, Medication | 3, Peer support | oth, Other"
    )
    back = tmp_path / "back.yaml"
    assert cli("codebook", "import-redcap", dictionary, "--out", back).code == 0
    f = load_codebook(back).field("services")
    assert (f.type, [(c.code, c.label) for c in f.choices]) == (
        "checkbox",
        [(1, "Therapy"), (2, "Medication"), (3, "Peer support"), ("oth", "Other")],
    )


def _checkbox_rows(path: Path) -> dict[str, str]:
    """Field name -> choices of every checkbox row of a REDCap dictionary (either header style)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = [h.strip().lower() for h in rows[0]]
    name = header.index("field_name") if "field_name" in header else header.index("variable / field name")
    ftype = header.index("field_type") if "field_type" in header else header.index("field type")
    choices = next(i for i, h in enumerate(header) if h.startswith("choices") or h == "select_choices_or_calculations")
    return {r[name]: r[choices] for r in rows[1:] if len(r) > ftype and r[ftype].strip().lower() == "checkbox"}


REAL = sorted(
    p.name for p in REDCAP.glob("*.csv") if p.name != "cypress_data-dictionary-file-3.csv" and _checkbox_rows(p)
)


def test_the_real_dictionaries_with_checkboxes_are_the_ones_expected():
    assert "redcapr_checkboxes-1_dictionary.csv" in REAL and len(REAL) >= 10


@pytest.mark.parametrize("name", REAL)
def test_each_real_redcap_checkbox_is_one_checkbox_field_and_comes_back_unchanged(cli, tmp_path, name):
    src = REDCAP / name
    yaml_path, back = tmp_path / "cb.yaml", tmp_path / "back.csv"
    r = cli("codebook", "import-redcap", src, "--out", yaml_path)
    assert r.code == 0, r.err
    cb = load_codebook(yaml_path)
    original = _checkbox_rows(src)
    for var, spec in original.items():
        f = cb.field(var.lower())
        assert f.type == "checkbox"
        assert [str(c.code) for c in f.choices] == [e.split(",", 1)[0].strip() for e in spec.split("|") if e.strip()]
        assert not any(g.name.startswith(f"{f.name}___") for g in cb.fields)  # no binary field per option
    r = cli("codebook", "export", yaml_path, "--format", "redcap", "--out", back)
    assert r.code == 0, r.err
    assert _checkbox_rows(back) == original  # the row, its choices text byte for byte


def test_the_report_counts_records_per_ticked_option(cli, db, tmp_path):
    out = tmp_path / "report.md"
    r = cli("report", db, "--out", out)
    assert r.code == 0, r.err
    text = out.read_text(encoding="utf-8")
    # R1 ticked 1 and 3, R2 none, R3 has no final value
    assert "Therapy 1, Medication 0, Peer support 1, Other 0" in text


def test_a_codebook_converted_with_one_binary_field_per_option_still_exports_one_checkbox_row(cli, tmp_path):
    legacy = ROOT / "tests" / "data" / "checkbox" / "split_checkboxes_redcapr_checkboxes-1.yaml"
    cb = load_codebook(legacy)
    assert [f.type for f in cb.fields if f.name.startswith("check_one")] == ["binary"] * 4
    out = tmp_path / "back.csv"
    r = cli("codebook", "export", legacy, "--format", "redcap", "--out", out)
    assert r.code == 0, r.err
    assert _checkbox_rows(out) == _checkbox_rows(REDCAP / "redcapr_checkboxes-1_dictionary.csv")


def test_import_redcap_refuses_a_checkbox_code_its_data_columns_cannot_carry_naming_the_line(cli, tmp_path):
    src = tmp_path / "dict.csv"
    header = (REDCAP / "redcapr_checkboxes-1_dictionary.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    rows = ["record_id,f,,text,Record ID,,,,,,,,,,,,,", 'svc,f,,checkbox,Services,"1, One | 2.5, Two",,,,,,,,,,,,']
    src.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    r = cli("codebook", "import-redcap", src, "--out", tmp_path / "cb.yaml")
    assert r.code == 2
    assert f"{src}:3: field 'svc': checkbox option code '2.5' must use only letters, digits and _" in r.err
    assert not (tmp_path / "cb.yaml").exists()


def test_pspp_defines_the_multiple_response_set_from_the_sav_export(cli, db, tmp_path):
    """PSPP (the free SPSS) reads the option columns as a multiple-dichotomy set; R3 (not coded) is
    missing in every option, so N is 2 and each mean is the share of coded records ticking it.
    Skips without pspp; fails under CI=true (tests.integration.test_pspp_reads_exports.pspp_path)."""
    from tests.integration.test_pspp_reads_exports import run_pspp

    sav = _export(cli, db, tmp_path, "sav")
    tables = run_pspp(
        f"GET FILE='{sav}'.\n"
        f"MRSETS /MDGROUP NAME=$services VARIABLES={' '.join(OPTIONS)} VALUE=1 /DISPLAY NAME=[$services].\n"
        f"DESCRIPTIVES /VARIABLES={' '.join(OPTIONS)}.\n",
        tmp_path,
    )
    (mr,) = [row for row in tables["Multiple Response Sets"][1:]]
    assert mr[:3] == ["$services", "Dichotomies", "1"] and mr[3].split() == OPTIONS
    stats = {row[0]: row[1:3] for row in tables["Descriptive Statistics"][1:]}
    assert stats["Services offered: Therapy"] == ["2", ".50"]
    assert stats["Services offered: Medication"] == ["2", ".00"]
    assert stats["Services offered: Peer support"] == ["2", ".50"]


BRANCHING = CODEBOOK.replace(
    "fields:\n",
    "fields:\n  - name: offered\n    label: Services offered at all\n    type: binary\n    required: true\n",
).replace(
    "    required: true\n    choices:\n      1: Therapy",
    "    required: true\n    show_if: \"[offered] = '1'\"\n    choices:\n      1: Therapy",
)


def test_an_inapplicable_checkbox_is_not_applicable_in_every_option_column(cli, tmp_path):
    (tmp_path / "cbx.yaml").write_text(BRANCHING, encoding="utf-8")
    (tmp_path / "notes.csv").write_text(NOTES, encoding="utf-8")
    codes = "record_id,note_id,field,value\nR1,,offered,1\nR1,,services,3|1\nR2,,offered,0\n"
    (tmp_path / "codes.csv").write_text(codes, encoding="utf-8")
    db = tmp_path / "audit.db"
    assert cli("init", db, "--codebook", tmp_path / "cbx.yaml", "--coder", "intern").code == 0
    assert cli("import", db, tmp_path / "notes.csv").code == 0
    r = cli("import-codes", db, tmp_path / "codes.csv", "--coder", "intern")
    assert r.code == 0, r.err
    records = pd.read_csv(_export(cli, db, tmp_path, "csv")).set_index("record_id")
    assert records.loc["R2", OPTIONS].isna().all() and records.loc["R2", "services__source"] == "not_applicable"
    df, meta = pyreadstat.read_sav(str(_export(cli, db, tmp_path, "sav")), user_missing=True)
    r2 = df.set_index("record_id").loc["R2", OPTIONS]
    assert list(r2) == [-8.0] * 4  # SPSS's declared "not applicable" code, in every option
    assert meta.variable_value_labels["services___1"][-8] == "not applicable"
    assert list(df.set_index("record_id").loc["R1", OPTIONS]) == [1.0, 0.0, 1.0, 0.0]
    dta, _ = pyreadstat.read_dta(str(_export(cli, db, tmp_path, "dta")), user_missing=True)
    assert list(dta.set_index("record_id").loc["R2", OPTIONS]) == ["n"] * 4  # Stata .n
