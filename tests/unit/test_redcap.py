"""REDCap data dictionaries convert to codebooks that load, and codebooks convert back.

Bad input is a UserError naming the file and the CSV line, never a traceback.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from chartcode.codebook import load_codebook
from chartcode.codebook.redcap import COLUMNS, codebook_to_redcap, redcap_to_yaml
from chartcode.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "redcap" / "pain_intake.csv"
CONJOINT = ROOT / "codebooks" / "conjoint-pain.yaml"

SHORT = {
    "var": "Variable / Field Name",
    "type": "Field Type",
    "label": "Field Label",
    "choices": "Choices, Calculations, OR Slider Labels",
    "note": "Field Note",
    "validation": "Text Validation Type OR Show Slider Number",
    "min": "Text Validation Min",
    "max": "Text Validation Max",
    "annotation": "Field Annotation",
}


def write_dict(tmp_path: Path, *rows: dict, name: str = "dict.csv") -> Path:
    """A dictionary whose header is line 1, record_id line 2 and ``rows`` from line 3 on."""
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for row in ({"var": "record_id", "type": "text", "label": "Record ID"}, *rows):
            cells = {SHORT.get(k, k): v for k, v in row.items()} | {"Form Name": "f"}
            w.writerow([cells.get(c, "") for c in COLUMNS])
    return path


def convert(path: Path):
    text, warnings = redcap_to_yaml(path)
    return load_codebook(path, text=text), warnings


def error_of(path: Path) -> str:
    with pytest.raises(UserError) as e:
        redcap_to_yaml(path)
    return str(e.value)


# ---- REDCap -> codebook ----------------------------------------------------------------------


def test_converted_dictionary_loads_with_load_codebook():
    text, _ = redcap_to_yaml(FIXTURE)
    cb = load_codebook(FIXTURE, text=text)
    assert cb.id == "pain_intake"
    assert cb.version == "1.0"
    assert all(f.level == "record" for f in cb.fields)


def test_converted_yaml_is_readable_with_choices_as_code_label_mapping():
    text, _ = redcap_to_yaml(FIXTURE)
    assert "    choices:\n      1: Male\n      2: Female\n      9: Not documented\n" in text
    assert "back: Back, lower or upper" in text


def test_byte_order_mark_is_dropped_from_the_header():
    assert FIXTURE.read_bytes().startswith(b"\xef\xbb\xbf")
    cb, _ = convert(FIXTURE)
    assert cb.get("sex") is not None


def test_radio_and_dropdown_become_nominal_splitting_on_the_first_comma():
    cb, _ = convert(FIXTURE)
    sex, site = cb.field("sex"), cb.field("pain_site")
    assert (sex.type, site.type) == ("nominal", "nominal")
    assert [(c.code, c.label) for c in sex.choices] == [(1, "Male"), (2, "Female"), (9, "Not documented")]
    assert [(c.code, c.label) for c in site.choices] == [
        ("back", "Back, lower or upper"),
        ("knee", "Knee"),
        ("other", "Other, not listed"),
    ]


def test_yesno_and_truefalse_become_binary_with_their_labels():
    cb, _ = convert(FIXTURE)
    assert cb.field("smoker").type == "binary"
    assert [(c.code, c.label) for c in cb.field("smoker").choices] == [(0, "No"), (1, "Yes")]
    assert [(c.code, c.label) for c in cb.field("pain_consent").choices] == [(0, "False"), (1, "True")]


def test_checkbox_becomes_one_checkbox_field_with_its_options():
    cb, _ = convert(FIXTURE)
    names = [f.name for f in cb.fields if f.name.startswith("treatments")]
    assert names == ["treatments"]
    f = cb.field("treatments")
    assert (f.type, f.label, f.required) == ("checkbox", "Treatments tried", True)
    assert [(c.code, c.label) for c in f.choices] == [(1, "Physical therapy"), (2, "Opioids, any"), (3, "Acupuncture")]


def test_text_validation_decides_count_numeric_date_or_text():
    cb, _ = convert(FIXTURE)
    types = {f.name: (f.type, f.min, f.max) for f in cb.fields}
    assert types["visits_ed"] == ("count", 0, 50)
    assert types["pain_change"] == ("numeric", -10, 10)  # integer allowing negatives
    assert types["bmi_entered"] == ("numeric", 10, 80)
    assert types["visit_date"] == ("date", None, None)
    assert types["email"] == ("text", None, None)
    assert types["comments"] == ("text", None, None)  # notes


def test_required_identifier_and_field_note_are_kept():
    cb, _ = convert(FIXTURE)
    assert cb.field("sex").required and not cb.field("pain_site").required
    assert cb.field("visit_date").identifier and not cb.field("sex").identifier
    assert cb.field("sex").rules == "As recorded in the chart."
    assert cb.field("smoker").rules == "Code 1 if the chart says\nthe veteran smokes now."


def test_html_tags_are_stripped_from_labels():
    cb, _ = convert(FIXTURE)
    assert cb.field("sex").label == "Sex at birth"


def test_variable_names_are_lower_cased():
    cb, _ = convert(FIXTURE)
    assert cb.get("visits_ed") is not None and cb.get("Visits_ED") is None


def test_unconvertible_field_types_are_skipped_with_one_warning_each_naming_the_line():
    cb, warnings = convert(FIXTURE)
    warnings = [w for w in warnings if "renamed" not in w]  # Visits_ED: see the rename test
    # line 12, not 11: the Field Note of the smoker row spans two lines
    assert warnings[0] == (
        f"{FIXTURE}:12: field 'bmi': calculation not converted: unknown field [weight]; unknown field [height];"
        " kept for export --format redcap, not computed by chartcode"
    )
    assert [w.split(": field ")[1].split(":")[0] for w in warnings] == ["'bmi'", "'intro'", "'scan'", "'pain_now'"]
    assert not {"bmi", "intro", "scan", "pain_now"} & {f.name for f in cb.fields}


def test_record_id_is_skipped_without_a_warning():
    cb, warnings = convert(FIXTURE)
    assert cb.get("record_id") is None
    assert not any("record_id" in w for w in warnings)


def test_sql_and_unknown_field_types_are_skipped_with_a_warning(tmp_path):
    path = write_dict(
        tmp_path,
        {"var": "age", "type": "text", "label": "Age"},
        {"var": "site", "type": "sql", "label": "Site", "choices": "select 1"},
        {"var": "pic", "type": "photo", "label": "Picture"},
    )
    _, warnings = convert(path)
    assert warnings == [
        f"{path}:4: field 'site': sql fields are not coded (they run database queries, they hold no coded value);"
        " kept for export --format redcap",
        f"{path}:5: field 'pic': photo fields are not coded (not a REDCap field type chartcode converts);"
        " kept for export --format redcap",
    ]


def test_a_first_field_named_and_labelled_as_a_study_id_is_the_record_id_not_a_coded_field(tmp_path):
    path = tmp_path / "dict.csv"
    path.write_text(
        ",".join(f'"{c}"' for c in COLUMNS)
        + "\n"
        + "study_id,f,,text,Study ID"
        + "," * 13
        + "\n"
        + "age,f,,text,Age"
        + "," * 13
        + "\n",
        encoding="utf-8",
    )
    cb, warnings = convert(path)
    assert [f.name for f in cb.fields] == ["age"]
    assert warnings == []
    assert cb.redcap["record_id"]["field_name"] == "study_id"


def test_codebook_id_title_and_version_can_be_given(tmp_path):
    path = write_dict(tmp_path, {"var": "age", "type": "text", "label": "Age", "validation": "integer", "min": "0"})
    text, _ = redcap_to_yaml(path, codebook_id="intake-2024", title="Intake review", version="2.1")
    cb = load_codebook(path, text=text)
    assert (cb.id, cb.title, cb.version) == ("intake-2024", "Intake review", "2.1")


def test_chartcode_annotation_restores_note_level_and_note_types(tmp_path):
    path = write_dict(
        tmp_path,
        {
            "var": "skill",
            "type": "radio",
            "label": "Skill taught",
            "choices": "1, Low | 2, High",
            "annotation": "@HIDDEN @chartcode-level=note @chartcode-note-types=conjoint,phone @chartcode-type=ordinal",
        },
    )
    cb, _ = convert(path)
    skill = cb.field("skill")
    assert (skill.level, skill.note_types, skill.type) == ("note", ("conjoint", "phone"), "ordinal")


# ---- bad input: file and line in the message ---------------------------------------------------


def test_missing_file_is_a_user_error_naming_the_file(tmp_path):
    path = tmp_path / "dict.csv"
    assert error_of(path) == f"{path}: no such file"


def test_missing_required_columns_are_named_on_line_1(tmp_path):
    path = tmp_path / "dict.csv"
    path.write_text("Variable / Field Name,Form Name,Field Label\nrecord_id,f,Record ID\n", encoding="utf-8")
    msg = error_of(path)
    assert msg.startswith(f"{path}:1: missing column(s) ")
    assert "'Field Type'" in msg and "'Choices, Calculations, OR Slider Labels'" in msg


def test_empty_file_is_a_user_error(tmp_path):
    path = tmp_path / "dict.csv"
    path.write_text("", encoding="utf-8")
    assert error_of(path).startswith(f"{path}:1: the file is empty")


def test_radio_field_without_choices_names_file_line_and_field(tmp_path):
    path = write_dict(
        tmp_path, {"var": "age", "type": "text", "label": "Age"}, {"var": "sex", "type": "radio", "label": "Sex"}
    )
    assert error_of(path).startswith(f"{path}:4: field 'sex': a field of this type needs choices")


def test_choice_without_comma_must_be_written_code_comma_label(tmp_path):
    path = write_dict(
        tmp_path,
        {"var": "age", "type": "text", "label": "Age"},
        {"var": "x", "type": "text", "label": "X"},
        {"var": "sex", "type": "radio", "label": "Sex", "choices": "1 Yes | 0, No"},
    )
    assert error_of(path) == f"{path}:5: field 'sex': choice '1 Yes' must be written 'code, label'"


def test_choice_line_counts_multi_line_cells_before_it(tmp_path):
    path = write_dict(
        tmp_path,
        {"var": "a", "type": "text", "label": "A", "note": "one\ntwo\nthree"},
        {"var": "sex", "type": "dropdown", "label": "Sex", "choices": "1, Yes | 0 No"},
    )
    assert error_of(path).startswith(f"{path}:6: field 'sex': choice '0 No'")


def test_invalid_utf8_names_the_line_of_the_bad_byte(tmp_path):
    path = tmp_path / "dict.csv"
    good = write_dict(tmp_path, {"var": "sex", "type": "text", "label": "Sex"}, name="good.csv").read_bytes()
    path.write_bytes(good.replace(b"Sex", b"S\xe9x"))  # latin-1, as old Excel saves it
    assert error_of(path).startswith(f"{path}:3: the file is not UTF-8 text")


def test_invalid_variable_name_is_a_user_error(tmp_path):
    path = write_dict(tmp_path, {"var": "1st_visit", "type": "text", "label": "First visit"})
    assert error_of(path).startswith(f"{path}:3: field '1st_visit': name '1st_visit' must start with a letter")


def test_duplicate_variable_name_after_lower_casing_is_a_user_error(tmp_path):
    path = write_dict(
        tmp_path, {"var": "age", "type": "text", "label": "Age"}, {"var": "AGE", "type": "text", "label": "Age again"}
    )
    assert error_of(path) == f"{path}:4: field 'age': field name appears twice (first at line 3)"


# ---- codebook -> REDCap ---------------------------------------------------------------------


def read_dict(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_written_dictionary_has_the_18_standard_columns_in_order(tmp_path):
    out = tmp_path / "out.csv"
    codebook_to_redcap(load_codebook(CONJOINT), out)
    with open(out, encoding="utf-8", newline="") as fh:
        assert tuple(next(csv.reader(fh))) == COLUMNS
    assert len(COLUMNS) == 18


def test_written_dictionary_starts_with_record_id_and_uses_the_codebook_id_as_form(tmp_path):
    out = tmp_path / "out.csv"
    cb = load_codebook(CONJOINT)
    codebook_to_redcap(cb, out)
    rows = read_dict(out)
    assert (rows[0]["Variable / Field Name"], rows[0]["Field Type"], rows[0]["Field Label"]) == (
        "record_id",
        "text",
        "Record ID",
    )
    assert [r["Variable / Field Name"] for r in rows[1:]] == [f.name for f in cb.fields]
    assert {r["Form Name"] for r in rows} == {"conjoint_pain", "conjoint_pain_notes"}
    notes = {r["Variable / Field Name"] for r in rows if r["Form Name"] == "conjoint_pain_notes"}
    assert notes == {f.name for f in cb.note_fields}  # the repeating instrument of the data import


def test_written_dictionary_maps_types_to_redcap_field_types(tmp_path):
    out = tmp_path / "out.csv"
    codebook_to_redcap(load_codebook(CONJOINT), out)
    rows = {r["Variable / Field Name"]: r for r in read_dict(out)}
    sex = rows["sex"]
    assert (sex["Field Type"], sex["Choices, Calculations, OR Slider Labels"]) == (
        "radio",
        "1, Male | 2, Female | 9, Not documented",
    )
    assert rows["mh_diagnosis"]["Field Type"] == "yesno"
    assert rows["followup_evident"]["Field Type"] == "radio"  # binary with its own labels
    assert "@chartcode-type=binary" in rows["followup_evident"]["Field Annotation"]
    assert "@chartcode-type=ordinal" in rows["last_note_outcome"]["Field Annotation"]
    age = rows["age"]
    assert [
        age[k]
        for k in (
            "Field Type",
            "Text Validation Type OR Show Slider Number",
            "Text Validation Min",
            "Text Validation Max",
        )
    ] == ["text", "integer", "18", "110"]
    assert sex["Required Field?"] == "y" and rows["followup_type"]["Required Field?"] == ""
    assert sex["Field Note"] == "As recorded in the chart demographics or the note header."


def test_written_dictionary_marks_note_level_fields_in_the_annotation(tmp_path):
    out = tmp_path / "out.csv"
    codebook_to_redcap(load_codebook(CONJOINT), out)
    rows = {r["Variable / Field Name"]: r for r in read_dict(out)}
    assert "@chartcode-level=note @chartcode-note-types=conjoint" in rows["session_content"]["Field Annotation"]
    assert "@chartcode-level" not in rows["sex"]["Field Annotation"]


def test_count_without_min_is_written_with_min_0_and_date_text_types(tmp_path):
    text = """\
id: small
title: Small
version: "1"
fields:
  - {name: visits, label: Visits, type: count}
  - {name: weight, label: Weight, type: numeric, min: 20.5}
  - {name: seen_on, label: Seen on, type: date}
  - {name: mrn, label: MRN, type: text, identifier: true}
"""
    out = tmp_path / "out.csv"
    codebook_to_redcap(load_codebook("small.yaml", text=text), out)
    rows = {r["Variable / Field Name"]: r for r in read_dict(out)}
    pick = ("Field Type", "Text Validation Type OR Show Slider Number", "Text Validation Min", "Identifier?")
    assert [rows["visits"][k] for k in pick] == ["text", "integer", "0", ""]
    assert [rows["weight"][k] for k in pick] == ["text", "number", "20.5", ""]
    assert [rows["seen_on"][k] for k in pick] == ["text", "date_ymd", "", ""]
    assert [rows["mrn"][k] for k in pick] == ["notes", "", "", "y"]


def test_round_trip_through_redcap_keeps_every_field(tmp_path):
    original = load_codebook(CONJOINT)
    out = tmp_path / "conjoint.csv"
    codebook_to_redcap(original, out)
    text, warnings = redcap_to_yaml(out, codebook_id=original.id)
    back = load_codebook(out, text=text)
    assert warnings == []

    def shape(cb):
        return [
            (
                f.name,
                f.type,
                f.level,
                f.note_types,
                [(c.code, c.label) for c in f.choices],
                f.required,
                f.min,
                f.max,
                f.rules,
                f.cues,
                f.identifier,
            )
            for f in cb.fields
        ]

    assert shape(back) == shape(original)
