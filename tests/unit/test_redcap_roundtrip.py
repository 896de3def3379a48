"""Real REDCap data dictionaries survive `codebook import-redcap` then `codebook export --format redcap`.

Every column of every dictionary in tests/data/redcap (see its README for where each came from)
is compared with pandas, cell by cell: forms, section headers, dropdown vs radio, text vs notes,
validations with their min/max, identifier and required flags, branching logic, action tags,
matrix groups, alignment, question numbers, and the rows chartcode does not code (the record
id, calc, descriptive, file, slider, sql). What chartcode must change it reports on stderr with
file:line and still exits 0.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pandas as pd
import pytest

from chartcode.codebook import load_codebook
from chartcode.codebook.redcap import COLUMNS, codebook_to_redcap, redcap_to_yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "redcap"
BROKEN = {"cypress_data-dictionary-file-3.csv"}  # REDCap's own test of a broken dictionary
DICTIONARIES = sorted(p.name for p in DATA.glob("*.csv") if p.name not in BROKEN)

sys.path.insert(0, str(ROOT / "bench"))
from redcap_roundtrip import read, unchanged_columns  # noqa: E402  (the figures the bench script prints)


def cli_round_trip(cli, src: Path, tmp_path: Path) -> tuple[Path, str]:
    yaml_path, out = tmp_path / "codebook.yaml", tmp_path / "back.csv"
    r = cli("codebook", "import-redcap", src, "--out", yaml_path)
    assert r.code == 0, r.err
    r2 = cli("codebook", "export", yaml_path, "--format", "redcap", "--out", out)
    assert r2.code == 0, r2.err
    return out, r.err


def original_of(src: Path) -> pd.DataFrame:
    df = read(src)
    if src.name.endswith("_metadata.csv"):  # written by R: NA is its blank cell (reported, see below)
        df = df.replace("NA", "")
    return df[(df != "").any(axis=1)].reset_index(drop=True)


@pytest.mark.parametrize("name", DICTIONARIES)
def test_real_dictionary_round_trips_every_column_unchanged(cli, tmp_path, name):
    src = DATA / name
    out, _ = cli_round_trip(cli, src, tmp_path)
    original, back = original_of(src), read(out)
    assert list(back["Variable / Field Name"]) == list(original["Variable / Field Name"])
    changed = [c for c, same in unchanged_columns(original, back).items() if not same]
    assert changed == [], {c: _first_difference(original, back, c) for c in changed}


def _first_difference(a: pd.DataFrame, b: pd.DataFrame, col: str) -> tuple[int, str, str]:
    for i, (x, y) in enumerate(zip(a[col], b[col], strict=False)):
        if x != y:
            return i + 2, x, y
    return -1, "", ""


def test_every_column_of_the_round_trip_is_counted_per_dictionary(capsys):
    """The summary the note gives: per REDCap column, how many dictionaries come back unchanged."""
    from redcap_roundtrip import main

    assert main([]) == 0
    out = capsys.readouterr().out
    print(out, file=sys.stderr)  # shown with -s or on failure
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines() if line.startswith("  ")}
    assert set(lines) == set(COLUMNS)
    n = len(DICTIONARIES)
    for col in COLUMNS:
        same, had = (int(x) for x in lines[col].split("unchanged")[0].split()[-3::2])
        # R's NA cells (redcapr_simple_metadata.csv) are read as blank: the one reported change
        assert same >= had - 1 and had >= n - 3, lines[col]
    assert "refused: cypress_data-dictionary-file-3.csv" in out


def test_the_broken_dictionary_from_redcaps_tests_is_refused_with_its_line(cli, tmp_path):
    src = DATA / "cypress_data-dictionary-file-3.csv"
    r = cli("codebook", "import-redcap", src, "--out", tmp_path / "x.yaml")
    assert r.code == 2
    assert f"{src}:7: field 'required_2'" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "x.yaml").exists()


# ---- what the round trip keeps, one column at a time -------------------------------------------


def rows_of(path: Path) -> dict[str, dict[str, str]]:
    return {r["Variable / Field Name"]: r for r in read(path).to_dict("records")}


def test_form_names_are_kept_per_field(cli, tmp_path):
    out, _ = cli_round_trip(cli, DATA / "redcapr_simple_dictionary.csv", tmp_path)
    forms = pd.read_csv(out, dtype=str)["Form Name"].unique().tolist()
    assert forms == ["demographics", "health", "race_and_ethnicity"]


def test_dropdown_and_notes_stay_dropdown_and_notes_and_the_codebook_types_are_nominal_and_text(cli, tmp_path):
    src = DATA / "redcapr_validation-types-1_dictionary.csv"
    text, _ = redcap_to_yaml(src)
    cb = load_codebook(src, text=text)
    original = rows_of(src)
    dropdowns = [n for n, r in original.items() if r["Field Type"] == "dropdown"]
    assert dropdowns and all(cb.field(n).type == "nominal" for n in dropdowns if cb.get(n))
    out, _ = cli_round_trip(cli, src, tmp_path)
    back = rows_of(out)
    assert all(back[n]["Field Type"] == "dropdown" for n in dropdowns)


def test_every_validation_type_comes_back_with_its_min_and_max(cli, tmp_path):
    src = DATA / "redcapr_validation-types-1_dictionary.csv"
    out, _ = cli_round_trip(cli, src, tmp_path)
    cols = ["Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max"]
    original, back = original_of(src)[cols], read(out)[cols]
    assert len(set(original[cols[0]]) - {""}) >= 30  # email, phone, zipcode, datetime_ymd, time, date_dmy ...
    pd.testing.assert_frame_equal(back, original)


def test_integer_without_min_stays_integer_and_is_a_numeric_field(tmp_path):
    src = DATA / "redcapr_longitudinal_dictionary.csv"
    text, _ = redcap_to_yaml(src)
    cb = load_codebook(src, text=text)
    out = tmp_path / "back.csv"
    codebook_to_redcap(cb, out)
    back = rows_of(out)
    assert (cb.field("weight2").type, cb.field("weight2").min) == ("numeric", None)  # negatives allowed
    assert back["weight2"]["Text Validation Type OR Show Slider Number"] == "integer"
    assert back["weight2"]["Text Validation Min"] == ""


def test_action_tags_are_kept_and_chartcode_tags_still_read(tmp_path):
    src = DATA / "abcd_residential-history.csv"
    text, _ = redcap_to_yaml(src)
    out = tmp_path / "back.csv"
    codebook_to_redcap(load_codebook(src, text=text), out)
    assert set(read(out)["Field Annotation"]) == {"@READONLY"}


def test_an_instrument_export_keeps_its_first_field_as_an_item(cli, tmp_path):
    for name, first in (("abcd_residential-history.csv", "reshist_addr1_id"), ("scid5_instrument.csv", "scid_p8")):
        src = DATA / name
        cb = load_codebook(src, text=redcap_to_yaml(src)[0])
        assert cb.fields[0].name == first, name
        assert cb.redcap["record_id"] is False
        work = tmp_path / src.stem
        work.mkdir()
        out, _ = cli_round_trip(cli, src, work)
        assert read(out)["Variable / Field Name"][0] == first  # no record_id row added


def test_branching_logic_becomes_show_if_and_its_redcap_text_is_kept_verbatim(tmp_path):
    src = DATA / "scid5_instrument.csv"
    cb = load_codebook(src, text=redcap_to_yaml(src)[0])
    p9 = cb.field("scid_p9")
    assert dict(p9.redcap)["branching_logic"] == '[scid_p8] = "3" '  # its trailing space included
    assert p9.show_if == "[scid_p8] = '3'" and "REDCap shows" not in p9.rules
    out = tmp_path / "back.csv"
    codebook_to_redcap(cb, out)
    branching = "Branching Logic (Show field only if...)"
    original, back = original_of(src), read(out)
    assert (original[branching] != "").sum() == 57
    assert back[branching].tolist() == original[branching].tolist()
    assert back["Field Note"].tolist() == original["Field Note"].tolist()


def test_api_header_names_are_read_and_written_back(cli, tmp_path):
    src = DATA / "redcapapi_metadata.csv"
    out, _ = cli_round_trip(cli, src, tmp_path)
    with open(out, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:5] == ["field_name", "form_name", "section_header", "field_type", "field_label"]
    assert header[-1] == "field_annotation" and len(header) == 18


def test_na_cells_of_an_r_export_are_read_as_blank_and_reported_line_by_line(cli, tmp_path):
    src = DATA / "redcapr_simple_metadata.csv"
    _, err = cli_round_trip(cli, src, tmp_path)
    assert f"warning: {src}:2: cells written NA (R's blank) read as blank" in err
    cb = load_codebook(src, text=redcap_to_yaml(src)[0])
    assert "NA" not in {f.rules for f in cb.fields}


# ---- edits win over what was kept --------------------------------------------------------------


def test_an_edited_label_type_or_choice_is_exported_not_the_kept_text(tmp_path):
    src = DATA / "redcapr_simple_dictionary.csv"
    text, _ = redcap_to_yaml(src)
    edited = (
        text.replace("label: E-mail", "label: Email address")
        .replace("      0: Female\n      1: Male\n", "      0: Female\n      1: Male\n      2: Other\n")
        .replace("  - name: name_first\n    label: First Name", "  - name: given_name\n    label: First Name")
    )
    out = tmp_path / "back.csv"
    codebook_to_redcap(load_codebook("edited.yaml", text=edited), out)
    back = rows_of(out)
    assert back["email"]["Field Label"] == "Email address"
    assert back["email"]["Text Validation Type OR Show Slider Number"] == "email"  # still kept
    assert back["sex"]["Choices, Calculations, OR Slider Labels"] == "0, Female | 1, Male | 2, Other"
    assert "given_name" in back and back["given_name"]["Section Header"] == "Contact Information"


# ---- synthetic rows for what no real dictionary here uses --------------------------------------


def write_dict(tmp_path: Path, rows: list[dict[str, str]], name: str = "dict.csv") -> Path:
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerow(["record_id", "f", "", "text", "Record ID"] + [""] * 13)
        for r in rows:
            w.writerow([r.get(c, "") for c in COLUMNS])
    return path


def test_question_numbers_matrix_groups_and_ranking_round_trip(cli, tmp_path):
    common = {
        "Form Name": "survey",
        "Field Type": "radio",
        "Choices, Calculations, OR Slider Labels": "1, Low | 2, High",
    }
    src = write_dict(
        tmp_path,
        [
            common
            | {
                "Variable / Field Name": "q1",
                "Field Label": "First",
                "Question Number (surveys only)": "1a",
                "Matrix Group Name": "grid",
                "Matrix Ranking?": "y",
                "Custom Alignment": "LH",
            },
            common | {"Variable / Field Name": "q2", "Field Label": "Second", "Matrix Group Name": "grid"},
        ],
    )
    out, _ = cli_round_trip(cli, src, tmp_path)
    pd.testing.assert_frame_equal(read(out), original_of(src))


def test_field_names_up_to_100_characters_are_accepted_renamed_and_written_back(cli, tmp_path):
    long_name = "a" + "b" * 99
    src = write_dict(tmp_path, [{"Variable / Field Name": long_name, "Form Name": "f", "Field Type": "notes"}])
    out, err = cli_round_trip(cli, src, tmp_path)
    assert f"{src}:3: field" in err and "renamed to" in err
    cb = load_codebook(tmp_path / "codebook.yaml")
    assert len(cb.fields[0].name) == 32
    assert read(out)["Variable / Field Name"].tolist() == ["record_id", long_name]


def test_a_name_over_100_characters_is_refused_with_its_line(cli, tmp_path):
    src = write_dict(tmp_path, [{"Variable / Field Name": "a" * 101, "Form Name": "f", "Field Type": "notes"}])
    r = cli("codebook", "import-redcap", src, "--out", tmp_path / "x.yaml")
    assert r.code == 2 and f"{src}:3:" in r.err and "at most 100 characters" in r.err
    assert not (tmp_path / "x.yaml").exists()


def test_a_stray_quote_that_swallows_the_next_rows_is_refused_with_its_line(cli, tmp_path):
    src = tmp_path / "dict.csv"
    header = ",".join(f'"{c}"' for c in COLUMNS)
    blank = "," * 13
    src.write_text(
        f"{header}\nrecord_id,f,,text,Record ID{blank}\n"
        f'smoking,f,,text,"Smoking{blank}\n'
        f"alcohol,f,,text,Alcohol{blank}\n"
        f'drugs,f,,text,Drugs"{blank}\n',
        encoding="utf-8",
    )
    r = cli("codebook", "import-redcap", src, "--out", tmp_path / "x.yaml")
    assert r.code == 2, r.err
    assert f"{src}:3: a quote opened on this line swallows the row on line 4" in r.err
    assert not (tmp_path / "x.yaml").exists()


def test_a_quote_closed_in_the_middle_of_a_cell_names_the_line_the_row_starts_on(cli, tmp_path):
    src = tmp_path / "dict.csv"
    header = ",".join(f'"{c}"' for c in COLUMNS)
    blank = "," * 13
    src.write_text(
        f"{header}\nrecord_id,f,,text,Record ID{blank}\n"
        f'smoking,f,,text,"Smoking{blank}\n'
        f'alcohol,f,,text,Alcohol" use{blank}\n',
        encoding="utf-8",
    )
    r = cli("codebook", "import-redcap", src, "--out", tmp_path / "x.yaml")
    assert r.code == 2, r.err
    assert f"{src}:3: a quote opened on this line" in r.err


def test_codebook_diff_reports_a_change_of_the_kept_redcap_columns_as_info():
    from chartcode.codebook import diff

    src = DATA / "redcapr_simple_dictionary.csv"
    text, _ = redcap_to_yaml(src)
    old = load_codebook(src, text=text)
    new = load_codebook(src, text=text.replace('section_header: "Contact Information"', 'section_header: "Contact"'))
    assert old.hash != new.hash
    assert [(c.severity, c.field) for c in diff(old, new)] == [("info", "name_first")]
