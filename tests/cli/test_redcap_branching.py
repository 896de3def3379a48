"""REDCap branching logic and calc fields through `codebook import-redcap` and `codebook export --format redcap`.

import-redcap turns the Branching Logic column into ``show_if`` and calc rows into calc fields
(``calc:``) where chartcode can represent them; what it cannot (events, smart variables, a
function chartcode lacks, a field that is not converted, a value the field never takes) it
reports line by line and keeps verbatim, so export --format redcap writes every cell back. The
real dictionaries are those of tests/data/redcap (sources in its README).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest

from chartcode.codebook import load_codebook, logic
from chartcode.codebook.redcap import BRANCHING, CHOICES, FTYPE, VAR, redcap_to_yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "redcap"
BROKEN = {"cypress_data-dictionary-file-3.csv"}  # REDCap's own test of a broken dictionary
DICTIONARIES = sorted(p for p in DATA.glob("*.csv") if p.name not in BROKEN)
HEADER = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]


def read(path: Path) -> pd.DataFrame:
    """A dictionary as pandas reads it: every cell text, R's NA as blank, API headers as labels."""
    from chartcode.codebook.redcap import API

    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [c.strip() for c in df.columns]
    by_api = {v: k for k, v in API.items()}
    df = df.rename(columns={c: by_api[c.lower()] for c in df.columns if c.lower() in by_api})
    if BRANCHING not in df.columns:
        df[BRANCHING] = ""
    df = df.replace("NA", "") if path.name.endswith("_metadata.csv") else df
    return df[(df != "").any(axis=1)].reset_index(drop=True)


def dictionary(tmp_path: Path, rows: list[dict[str, str]], name: str = "dictionary.csv") -> Path:
    path = tmp_path / name
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerow(["record_id", "form", "", "text", "Record ID"] + [""] * 13)
        for r in rows:
            w.writerow([r.get(h, "") for h in HEADER])
    return path


def round_trip(cli, src: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    yaml_path, out = tmp_path / f"{src.stem}.yaml", tmp_path / f"{src.stem}_back.csv"
    r = cli("codebook", "import-redcap", src, "--out", yaml_path)
    assert r.code == 0, r.err
    r2 = cli("codebook", "export", yaml_path, "--format", "redcap", "--out", out)
    assert r2.code == 0, r2.err
    return yaml_path, out, r.err


def _is_calc(row: dict[str, str]) -> bool:
    return row[FTYPE].strip().lower() == "calc"


# ---- how much converts -------------------------------------------------------------------------


def conversion_counts() -> dict[str, list[int]]:
    """{"show_if": [expressions, converted, reported], "calc": [...]} over the real dictionaries."""
    counts = {"show_if": [0, 0, 0], "calc": [0, 0, 0]}
    for src in DICTIONARIES:
        text, warnings = redcap_to_yaml(src)
        cb = load_codebook(src, text=text)
        reported = {int(m.group(1)): w for w in warnings if (m := re.match(rf"{re.escape(str(src))}:(\d+): ", w))}
        original = read(src)
        for line, row in zip(_lines(src), original.to_dict("records"), strict=True):
            for what, present in (("show_if", row[BRANCHING].strip() != ""), ("calc", _is_calc(row))):
                if not present:
                    continue
                name = row[VAR].strip().lower()
                fld = cb.get(name) or next(
                    (f for f in cb.fields if dict(f.redcap).get("field_name", "").strip().lower() == name), None
                )
                counts[what][0] += 1
                if fld is not None and getattr(fld, what):
                    counts[what][1] += 1
                elif line in reported and "not converted" in reported[line]:
                    counts[what][2] += 1
    return counts


def _lines(src: Path) -> list[int]:
    """The CSV line of each non-blank row (a cell may hold line breaks)."""
    with open(src, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        out, start = [], 2
        for raw in reader:
            if any(c.strip() and c != "NA" for c in raw):
                out.append(start)
            start = reader.line_num + 1
    return out


def test_at_least_nine_in_ten_real_branching_logics_and_calcs_become_show_if_and_calc_and_the_rest_are_reported():
    counts = conversion_counts()
    print(counts)  # shown with -s: [expressions, converted, reported as not converted]
    for what, (total, converted, reported) in counts.items():
        assert total >= (70 if what == "show_if" else 25), what
        assert converted / total >= 0.9, (what, converted, total)
        # nothing silently dropped: every expression is converted or reported with its line
        assert converted + reported == total, (what, counts)


def test_an_expression_chartcode_cannot_represent_is_reported_with_its_line_kept_and_the_field_shows_always(
    cli, tmp_path
):
    rows = [
        {VAR: "ok", FTYPE: "yesno", "Field Label": "Ok"},
        {VAR: "age", FTYPE: "text", "Field Label": "Age", "Text Validation Type OR Show Slider Number": "integer"},
        {VAR: "event", FTYPE: "text", "Field Label": "E", BRANCHING: "[visit_1_arm_1][ok] = '1'"},
        {VAR: "smart", FTYPE: "text", "Field Label": "S", BRANCHING: "[user-role-label] = 'x'"},
        {VAR: "func", FTYPE: "text", "Field Label": "F", BRANCHING: "contains([ok], '1')"},
        {VAR: "gone", FTYPE: "text", "Field Label": "G", BRANCHING: "[intro] = '1'"},
        {VAR: "intro", FTYPE: "descriptive", "Field Label": "Read this"},
        {VAR: "mismatch", FTYPE: "text", "Field Label": "M", BRANCHING: "[age] = 'yes'"},
        {VAR: "fine", FTYPE: "text", "Field Label": "Fine", BRANCHING: "[ok] = '1' and [age] >= 18"},
        {VAR: "zero", FTYPE: "calc", "Field Label": "Z", CHOICES: "[age] / 0"},
        {VAR: "on_text", FTYPE: "calc", "Field Label": "T", CHOICES: "[event] + 1"},
        {VAR: "double", FTYPE: "calc", "Field Label": "D", CHOICES: "[age]*2"},
        {VAR: "on_calc", FTYPE: "calc", "Field Label": "C", CHOICES: "[zero] + 1"},
    ]
    src = dictionary(tmp_path, rows)
    yaml_path, out, err = round_trip(cli, src, tmp_path)
    expected = {
        5: "field 'event': branching logic not converted: REDCap event references",
        6: "field 'smart': branching logic not converted: REDCap smart variables",
        7: "field 'func': branching logic not converted: REDCap's function contains() is not supported",
        8: "field 'gone': branching logic not converted: unknown field [intro]",
        10: "field 'mismatch': branching logic not converted: [age] is a number; 'yes' is not",
        12: "field 'zero': calculation not converted: division by zero",
        13: "field 'on_text': calculation not converted: text field [event] is not a number",
        15: "field 'on_calc': calculation not converted: unknown field [zero]",  # [zero] was left out
    }
    lines = err.splitlines()
    for line, message in expected.items():
        assert any(x.startswith(f"warning: {src}:{line}: {message}") for x in lines), (line, err)
    assert "shows always" in err and "Traceback" not in err
    assert not any(f"{src}:{n}:" in err for n in (3, 4, 11, 14))  # the rows that convert say nothing

    cb = load_codebook(yaml_path)
    assert cb.field("fine").show_if == "[ok] = '1' and [age] >= 18"
    assert cb.field("double").calc == "[age] * 2" and cb.field("double").type == "numeric"
    assert {f.name for f in cb.calc_fields} == {"double"}  # the others stay rows REDCap computes
    for name in ("event", "smart", "func", "gone", "mismatch"):
        f = cb.field(name)
        assert f.show_if == "" and "REDCap shows this field only if: " in f.rules
        assert cb.form([], {}).applies(None, f)  # shows always
    form = cb.form([], {(None, "ok"): 1, (None, "age"): 17})
    assert not form.applies(None, "fine") and form.calculated(None, "double") == 34

    original, back = read(src), read(out)
    assert back[VAR].tolist() == original[VAR].tolist()
    for col in (BRANCHING, CHOICES, FTYPE, "Field Note"):
        assert back[col].tolist() == original[col].tolist(), col


@pytest.mark.parametrize(
    "src", [p for p in DICTIONARIES if (read(p)[BRANCHING] != "").any() or read(p)[FTYPE].str.lower().eq("calc").any()]
)
def test_real_dictionary_branching_and_calc_columns_round_trip_exactly_and_show_if_says_the_same(cli, tmp_path, src):
    yaml_path, out, _ = round_trip(cli, src, tmp_path)
    original, back = read(src), read(out)
    assert back[VAR].tolist() == original[VAR].tolist()
    for col in (BRANCHING, CHOICES, FTYPE, "Field Note", "Required Field?"):
        assert back[col].tolist() == original[col].tolist(), col
    # what chartcode holds says what REDCap said: the same tree (spaces, quotes, == and redundant
    # brackets aside: ([x])^2 is [x] ^ 2), while the column above came back exactly
    cb = load_codebook(yaml_path)
    by_redcap = {dict(f.redcap).get("field_name", f.name).strip().lower(): f for f in cb.fields}
    for row in original.to_dict("records"):
        f = by_redcap.get(row[VAR].strip().lower())
        if f is None:
            continue
        for text, ours in ((row[BRANCHING], f.show_if), (row[CHOICES] if _is_calc(row) else "", f.calc)):
            if ours:
                assert logic.to_redcap(logic.parse(text)) == ours, (text, ours)


def test_scid5_57_fields_branch_on_scid_p8_and_switch_off_together(cli, tmp_path):
    src = DATA / "scid5_instrument.csv"
    yaml_path, out, err = round_trip(cli, src, tmp_path)
    assert "branching logic not converted" not in err
    cb = load_codebook(yaml_path)
    conditional = [f for f in cb.fields if f.show_if]
    assert len(conditional) == 57
    assert conditional[0].name == "scid_p9" and conditional[0].show_if == "[scid_p8] = '3'"
    code = next(c for c in cb.field("scid_p8").codes if str(c) != "3")
    off = cb.form([], {(None, "scid_p8"): code})
    on = cb.form([], {(None, "scid_p8"): 3})
    assert not off.applies(None, "scid_p9") and on.applies(None, "scid_p9")
    assert len(on.applicable()) - len(off.applicable()) >= 1
    back = read(out)
    assert (back[BRANCHING] != "").sum() == 57
    assert back[BRANCHING].tolist() == read(src)[BRANCHING].tolist()


def test_pain_intake_bmi_calc_on_fields_that_do_not_exist_stays_a_redcap_row(cli, tmp_path):
    src = DATA / "pain_intake.csv"
    yaml_path, out, err = round_trip(cli, src, tmp_path)
    assert f"{src}:12: field 'bmi': calculation not converted: unknown field [weight]; unknown field [height]" in err
    cb = load_codebook(yaml_path)
    assert cb.get("bmi") is None
    assert cb.field("comments").show_if == "[smoker] = '1'"
    assert read(out)[CHOICES].tolist() == read(src)[CHOICES].tolist()


# ---- the way back from an edited or hand-written codebook ---------------------------------------


def test_an_edited_show_if_and_calc_are_exported_and_a_removed_show_if_is_blank(cli, tmp_path):
    rows = [
        {VAR: "ok", FTYPE: "yesno", "Field Label": "Ok"},
        {VAR: "age", FTYPE: "text", "Field Label": "Age", "Text Validation Type OR Show Slider Number": "integer"},
        {VAR: "a", FTYPE: "text", "Field Label": "A", BRANCHING: "[ok]='1'"},
        {VAR: "b", FTYPE: "text", "Field Label": "B", BRANCHING: "[ok] = '1'"},
        {VAR: "months", FTYPE: "calc", "Field Label": "Months", CHOICES: "[age]*12"},
    ]
    src = dictionary(tmp_path, rows)
    yaml_path, _, _ = round_trip(cli, src, tmp_path)
    text = yaml_path.read_text(encoding="utf-8")
    assert text.count("show_if: \"[ok] = '1'\"") == 2
    text = text.replace("show_if: \"[ok] = '1'\"", "show_if: \"[ok] = '0' or [age] > 65\"", 1)  # field a
    text = re.sub(r"(name: b\n(?:.*\n)*?)\s+show_if: .*\n", r"\1", text, count=1)  # field b: condition removed
    assert "calc: '[age] * 12'" in text
    text = text.replace("calc: '[age] * 12'", "calc: round([age] / 10)")
    yaml_path.write_text(text, encoding="utf-8")
    out = tmp_path / "edited.csv"
    r = cli("codebook", "export", yaml_path, "--format", "redcap", "--out", out)
    assert r.code == 0, r.err
    back = {row[VAR]: row for row in read(out).to_dict("records")}
    assert back["a"][BRANCHING] == "[ok] = '0' or [age] > 65"
    assert back["b"][BRANCHING] == ""
    assert (back["months"][FTYPE], back["months"][CHOICES]) == ("calc", "round([age] / 10)")


def test_a_codebook_written_in_yaml_exports_show_if_and_calc_and_imports_back_the_same(cli, tmp_path):
    yaml_path = tmp_path / "cb.yaml"
    yaml_path.write_text(
        "id: forms\ntitle: Forms\nversion: '1'\nfields:\n"
        "  - {name: accepted, label: Accepted, level: record, type: binary}\n"
        "  - {name: visit, label: Visit, level: record, type: date}\n"
        '  - {name: sessions, label: Sessions, level: record, type: count, show_if: "[accepted] = 1"}\n'
        "  - {name: weeks, label: Weeks, level: record, type: numeric,"
        " calc: \"rounddown(datediff([visit], '2025-01-01', 'd') / 7)\"}\n",
        encoding="utf-8",
    )
    out = tmp_path / "forms.csv"
    assert cli("codebook", "export", yaml_path, "--format", "redcap", "--out", out).code == 0
    back = {row[VAR]: row for row in read(out).to_dict("records")}
    assert back["sessions"][BRANCHING] == "[accepted] = 1"
    assert back["weeks"][FTYPE] == "calc"
    assert back["weeks"][CHOICES] == "rounddown(datediff([visit], '2025-01-01', 'd') / 7)"
    assert back["weeks"]["Text Validation Type OR Show Slider Number"] == ""
    again = tmp_path / "again.yaml"
    r = cli("codebook", "import-redcap", out, "--out", again)
    assert r.code == 0 and "not converted" not in r.err, r.err
    cb = load_codebook(again)
    assert cb.field("sessions").show_if == "[accepted] = 1"
    assert cb.field("weeks").calc == "rounddown(datediff([visit], '2025-01-01', 'd') / 7)"


def test_a_renamed_field_is_referred_to_by_its_codebook_name_and_written_back_under_its_redcap_name(cli, tmp_path):
    long_name = "a_very_long_redcap_variable_name_for_consent"  # 44 characters: renamed
    rows = [
        {VAR: long_name, FTYPE: "yesno", "Field Label": "Consent"},
        {VAR: "detail", FTYPE: "text", "Field Label": "Detail", BRANCHING: f"[{long_name}]='1'"},
        {VAR: "twice", FTYPE: "calc", "Field Label": "Twice", CHOICES: f"[{long_name}] * 2"},
    ]
    src = dictionary(tmp_path, rows)
    yaml_path, out, err = round_trip(cli, src, tmp_path)
    assert "not converted" not in err
    cb = load_codebook(yaml_path)
    short = cb.fields[0].name
    assert short != long_name and cb.field("detail").show_if == f"[{short}] = '1'"
    assert cb.field("twice").calc == f"[{short}] * 2"
    text = yaml_path.read_text(encoding="utf-8")
    yaml_path.write_text(text.replace(f"[{short}] * 2", f"[{short}] * 3"), encoding="utf-8")
    assert cli("codebook", "export", yaml_path, "--format", "redcap", "--out", out).code == 0
    back = {row[VAR]: row for row in read(out).to_dict("records")}
    assert back["detail"][BRANCHING] == f"[{long_name}]='1'"  # unchanged: verbatim
    assert back["twice"][CHOICES] == f"[{long_name}] * 3"  # edited: REDCap's name


def test_a_codebook_converted_before_show_if_existed_loads_and_exports_its_branching_verbatim(cli, tmp_path):
    """Older import-redcap put the condition in the rules and kept the cell; no show_if."""
    yaml_path = tmp_path / "old.yaml"
    yaml_path.write_text(
        "id: old\ntitle: Old\nversion: '1.0'\nfields:\n"
        "  - {name: ok, label: Ok, level: record, type: binary, choices: {0: 'No', 1: 'Yes'}}\n"
        "  - name: detail\n    label: Detail\n    level: record\n    type: text\n    required: false\n"
        "    rules: \"Say why.\\nREDCap shows this field only if: [ok] = '1'\"\n"
        '    redcap:\n      field_note: "Say why."\n      branching_logic: "[ok] = \'1\' "\n'
        "redcap:\n  record_id: false\n",
        encoding="utf-8",
    )
    cb = load_codebook(yaml_path)
    assert cb.field("detail").show_if == ""
    out = tmp_path / "old.csv"
    assert cli("codebook", "export", yaml_path, "--format", "redcap", "--out", out).code == 0
    back = {row[VAR]: row for row in read(out).to_dict("records")}
    assert back["detail"][BRANCHING] == "[ok] = '1' "
    assert back["detail"]["Field Note"] == "Say why."


def test_a_branching_logic_nested_too_deep_is_reported_not_a_traceback(cli, tmp_path):
    deep = "(" * 400 + "[ok] = '1'" + ")" * 400
    chain = "not " * 3000 + "[ok] = '1'"
    rows = [
        {VAR: "ok", FTYPE: "yesno", "Field Label": "Ok"},
        {VAR: "deep", FTYPE: "text", "Field Label": "Deep", BRANCHING: deep},
        {VAR: "chain", FTYPE: "text", "Field Label": "Chain", BRANCHING: chain},
    ]
    src = dictionary(tmp_path, rows)
    yaml_path, out, err = round_trip(cli, src, tmp_path)
    assert "Traceback" not in err and "RecursionError" not in err
    assert f"{src}:4: field 'deep': branching logic not converted: the expression nests brackets 401 deep" in err
    assert f"{src}:5: field 'chain': branching logic not converted: the expression is nested too deeply" in err
    assert read(out)[BRANCHING].tolist() == ["", "", deep, chain]
    # the same expression written in a codebook: refused with its line, exit 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: deep\ntitle: Deep\nversion: '1'\nfields:\n"
        "  - {name: ok, label: Ok, level: record, type: binary}\n"
        f'  - {{name: deep, label: Deep, level: record, type: text, show_if: "{deep}"}}\n',
        encoding="utf-8",
    )
    r = cli("codebook", "check", bad)
    assert r.code == 2 and "Traceback" not in r.err
    assert f"{bad}:6: field 'deep': show_if: the expression nests brackets 401 deep" in r.err
