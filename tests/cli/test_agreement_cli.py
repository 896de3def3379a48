"""`chartcode agreement` end to end: published worked examples fed through the tool's own path.

For every case in the shared irr-reference ``cases.json`` (Krippendorff 2011, Gwet's irrCAC,
R irr via statsmodels' tests, Shrout & Fleiss 1979, Feinstein & Cicchetti 1990): write a one-field
codebook fitting the case, `chartcode init`, `records add`, one codes CSV per coder (missing values
simply absent), `import-codes`, then `chartcode agreement --json`, and compare every expected value
within the case's tolerance. The test is data-driven: a further published case in the same format
is checked the same way, and an expected key the tool cannot map fails until it is mapped or
explicitly skipped below.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

# Published worked examples: the copy kept in tests/data (from shared/irr-reference), or another file
# in the same format named by CHARTCODE_IRR_CASES (further published cases are checked the same way).
CASES_FILE = Path(
    os.environ.get("CHARTCODE_IRR_CASES", Path(__file__).resolve().parents[1] / "data" / "irr-reference" / "cases.json")
)

# expected key -> where it is in one field's JSON result
KEY_MAP = {
    # Krippendorff's alpha by level of measurement
    "nominal": "alpha_by_level.nominal",
    "ordinal": "alpha_by_level.ordinal",
    "interval": "alpha_by_level.interval",
    "ratio": "alpha_by_level.ratio",
    "krippendorff_alpha_nominal": "alpha_by_level.nominal",
    # irrCAC's quadratic-weighted alpha is the interval metric when the categories are equally
    # spaced numbers (1..5 here): (k - l)^2 / (q - 1)^2 is the interval distance rescaled.
    "krippendorff_alpha_quadratic": "alpha_by_level.interval",
    # Gwet
    "ac1": "gwet_ac1",
    "ac2_quadratic": "gwet_ac2_quadratic",
    # the tool implements Gwet's generalised Fleiss kappa for missing ratings (noted in `notes`)
    "fleiss_kappa_gwet_generalised": "fleiss_kappa",
    "percent_agreement": "percent_agreement",
    # Cohen
    "unweighted": "cohen_kappa",
    "linear": "cohen_kappa_linear",
    "quadratic": "cohen_kappa_quadratic",
    "cohen_kappa": "cohen_kappa",
}
# expected keys deliberately not checked through the CLI, with the reason
SKIPPED = {
    "conger_kappa": "not in the agreement JSON shape (Conger's kappa is not computed)",
    "brennan_prediger": "not in the agreement JSON shape (Brennan-Prediger is not computed)",
    "ac1_pe": "Gwet's chance agreement is not in the JSON shape; tests/unit/test_agreement.py checks it",
    "p_expected": "kappa's chance agreement is not in the JSON shape; tests/unit/test_agreement.py checks it",
}
ICC_KEY = re.compile(r"^ICC\((\d),(\d+|k)\)$")


def _load_cases() -> list[dict]:
    if not CASES_FILE.exists():
        return []
    return json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]


CASES = _load_cases()


@pytest.fixture(autouse=True)
def _register_agreement():
    from chartcode.cli import cli
    from chartcode.cli.agreement import agreement

    if "agreement" not in cli.commands:
        cli.add_command(agreement)


def _json_path(key: str, n_coders: int) -> str | None:
    if key in KEY_MAP:
        return KEY_MAP[key]
    m = ICC_KEY.match(key)
    if m:
        form, k = m.groups()
        if k == "1":
            return f"icc.ICC{form}"
        assert k == "k" or int(k) == n_coders, f"{key}: average of {k} coders, but the case has {n_coders}"
        return f"icc.ICC{form}k"
    return None


def _get(result: dict, path: str):
    for part in path.split("."):
        assert result is not None, f"{path}: a parent is null"
        result = result[part]
    return result


def _rater_rows(case: dict) -> tuple[list[list], str]:
    """The case as rater rows (None = missing) and the field type that fits it."""
    orient = case["data_orientation"]
    if orient.startswith("contingency_table"):
        # rows = first rater, columns = second; category order (+, -) -> codes 1, 0
        table = case["data"]
        codes = [1, 0] if len(table) == 2 else list(range(len(table)))
        a, b = [], []
        for i, row in enumerate(table):
            for j, count in enumerate(row):
                a += [codes[i]] * count
                b += [codes[j]] * count
        return [a, b], "binary" if len(table) == 2 else "nominal"
    assert orient.startswith("raters_as_rows"), f"unknown orientation {orient!r}"
    rows = case["data"]
    if any(ICC_KEY.match(k) for k in case["expected"]):
        return rows, "numeric"
    observed = {v for row in rows for v in row if v is not None}
    return rows, "binary" if observed <= {0, 1} else "ordinal"


def _codebook_yaml(ftype: str, categories: list) -> str:
    lines = [
        "id: irr-case",
        "title: Published agreement example",
        'version: "1"',
        "fields:",
        "  - name: score",
        "    label: Score",
        "    level: record",
        f"    type: {ftype}",
    ]
    if ftype == "ordinal":
        # the case's categories: the codebook lists the categories the published analysis used
        lines.append("    choices:")
        lines += [f'      {c}: "category {c}"' for c in categories]
    return "\n".join(lines) + "\n"


def _num(v) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def run_case(cli, tmp_path: Path, rows: list[list], ftype: str) -> dict:
    """Build an audit from rater rows through the CLI and return `agreement --json` for its field."""
    categories = sorted({v for row in rows for v in row if v is not None})
    cb = tmp_path / "codebook.yaml"
    cb.write_text(_codebook_yaml(ftype, categories), encoding="utf-8")
    db = tmp_path / "case.db"
    coders = [f"rater{i + 1}" for i in range(len(rows))]
    args = ["init", db, "--codebook", cb]
    for c in coders:
        args += ["--coder", c]
    r = cli(*args)
    assert r.code == 0, r.err
    n_units = len(rows[0])
    units = [f"U{i + 1:03d}" for i in range(n_units)]
    r = cli("records", "add", db, *units)
    assert r.code == 0, r.err
    for coder, row in zip(coders, rows, strict=True):
        path = tmp_path / f"codes-{coder}.csv"
        lines = ["record_id,note_id,field,value"]
        lines += [f"{u},,score,{_num(v)}" for u, v in zip(units, row, strict=True) if v is not None]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        r = cli("import-codes", db, path, "--coder", coder)
        assert r.code == 0, r.err
    r = cli("agreement", db, "--json")
    assert r.code == 0, r.err
    fields = r.json["fields"]
    assert len(fields) == 1 and fields[0]["field"] == "score"
    return fields[0]


@pytest.mark.skipif(not CASES, reason=f"{CASES_FILE} not found (set CHARTCODE_IRR_CASES)")
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_published_case_through_the_tool(cli, tmp_path, case):
    rows, ftype = _rater_rows(case)
    result = run_case(cli, tmp_path, rows, ftype)
    n_coders = len(rows)
    assert result["n_coders"] == n_coders
    assert result["n_units"] == sum(1 for j in range(len(rows[0])) if sum(row[j] is not None for row in rows) >= 2)
    tol = case["tolerance"]
    checked = []
    for key, expected in case["expected"].items():
        if key in SKIPPED:
            continue
        path = _json_path(key, n_coders)
        assert path is not None, f"{case['name']}: expected key {key!r} has no JSON mapping; map it or skip it"
        got = _get(result, path)
        assert got is not None, f"{case['name']}: {key} -> {path} is null; notes: {result['notes']}"
        assert abs(got - expected) <= tol, f"{case['name']}: {key} -> {path} = {got}, published {expected} ± {tol}"
        checked.append(key)
    assert checked, f"{case['name']}: nothing checked"


def test_every_case_key_is_mapped_or_skipped():
    for case in CASES:
        for key in case["expected"]:
            assert key in SKIPPED or _json_path(key, 4) is not None, (case["name"], key)


# ---------------------------------------------------------------------------- behaviour
FEINSTEIN = [[40, 9], [6, 45]]


def _feinstein_rows():
    return _rater_rows({"data_orientation": "contingency_table", "data": FEINSTEIN, "expected": {}})


def test_human_output_has_table_confusion_matrix_and_landis_koch(cli, tmp_path):
    rows, ftype = _feinstein_rows()
    result = run_case(cli, tmp_path, rows, ftype)
    assert abs(result["cohen_kappa"] - 0.6995) < 1e-3
    r = cli("agreement", tmp_path / "case.db")
    assert r.code == 0, r.err
    out = r.out
    assert "Score [score] (nominal): 100 units coded by 2 or more coders, 2 coders" in out  # label, then name
    assert "Cohen's kappa" in out and "0.700" in out
    assert "substantial (Landis & Koch convention)" in out
    assert "confusion matrix (rows: rater1, columns: rater2" in out
    # codes 0 (-) and 1 (+): rater1 + / rater2 + = 40, - / - = 45, + / - = 9, - / + = 6
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if "confusion matrix" in line)
    assert lines[i + 1].split() == ["0", "1"]
    assert lines[i + 2].split() == ["0", "45", "6"]
    assert lines[i + 3].split() == ["1", "9", "40"]
    assert "{" not in out  # not JSON


def test_bootstrap_is_reproducible_with_a_seed_and_contains_the_estimate(cli, tmp_path):
    rows, ftype = _feinstein_rows()
    run_case(cli, tmp_path, rows, ftype)
    db = tmp_path / "case.db"
    a = cli("agreement", db, "--json", "--bootstrap", 300, "--seed", 11)
    b = cli("agreement", db, "--json", "--bootstrap", 300, "--seed", 11)
    c = cli("agreement", db, "--json", "--bootstrap", 300, "--seed", 12)
    assert a.code == b.code == c.code == 0, a.err
    assert a.out == b.out
    assert a.json["fields"][0]["ci"] != c.json["fields"][0]["ci"]
    res = a.json["fields"][0]
    for name in (
        "percent_agreement",
        "cohen_kappa",
        "fleiss_kappa",
        "krippendorff_alpha",
        "alpha_by_level.nominal",
        "gwet_ac1",
    ):
        lo, hi = res["ci"][name]
        point = _get(res, name)
        assert lo <= point <= hi, (name, lo, point, hi)
    assert any("seed 11" in n for n in res["notes"])
    narrower = cli("agreement", db, "--json", "--bootstrap", 300, "--seed", 11, "--ci", 0.5).json["fields"][0]
    lo, hi = narrower["ci"]["cohen_kappa"]
    assert res["ci"]["cohen_kappa"][0] <= lo <= hi <= res["ci"]["cohen_kappa"][1]
    human = cli("agreement", db, "--bootstrap", 200, "--seed", 1)
    assert human.code == 0 and "95% CI" in human.out


def test_unknown_field_is_a_user_error(cli, tmp_path):
    rows, ftype = _feinstein_rows()
    run_case(cli, tmp_path, rows, ftype)
    r = cli("agreement", tmp_path / "case.db", "--field", "no_such_field")
    assert r.code == 2
    assert "no_such_field" in r.err and "score" in r.err
    r = cli("agreement", tmp_path / "case.db", "--ci", 1.5)
    assert r.code == 2


def test_a_library_warning_during_agreement_is_a_note_in_the_json(cli, tmp_path, monkeypatch):
    """A warning raised while the coefficients are computed (say, a library dividing by zero) is part
    of the result: a top-level note, not a line on the terminal; with none, no notes key."""
    import warnings

    import chartcode.agreement as agreement

    rows, ftype = _feinstein_rows()
    run_case(cli, tmp_path, rows, ftype)
    plain = cli("agreement", tmp_path / "case.db", "--json")
    assert plain.code == 0 and "notes" not in plain.json
    real = agreement.agreement_report

    def warning_report(*args, **kwargs):
        warnings.warn("invalid value encountered in divide", RuntimeWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(agreement, "agreement_report", warning_report)
    r = cli("agreement", tmp_path / "case.db", "--json")
    assert r.code == 0, r.err
    assert r.json["notes"] == ["note from a library (RuntimeWarning): invalid value encountered in divide"]
    assert r.err == ""


def _two_field_audit(cli, tmp_path) -> Path:
    cb = tmp_path / "cb.yaml"
    cb.write_text(
        'id: two\ntitle: Two fields\nversion: "1"\nfields:\n'
        "  - name: severity\n    label: Severity\n    type: ordinal\n"
        '    choices:\n      1: "mild"\n      2: "moderate"\n      3: "severe"\n'
        "  - name: sessions\n    label: Sessions\n    type: count\n"
        "  - name: remark\n    label: Remark\n    type: text\n"
        "  - name: mentioned\n    label: Mentioned\n    level: note\n    type: binary\n",
        encoding="utf-8",
    )
    db = tmp_path / "two.db"
    assert cli("init", db, "--codebook", cb, "--coder", "ann", "--coder", "bob").code == 0
    notes = tmp_path / "notes.csv"
    notes.write_text(
        "record_id,note_id,note_date,note_type,author,text\n"
        + "".join(
            f"R{i},R{i}-N{j},2024-01-0{j + 1},visit,Dr X,note {j} of record {i}\n"
            for i in range(1, 7)
            for j in range(2)
        ),
        encoding="utf-8",
    )
    r = cli("import", db, notes)
    assert r.code == 0, r.err
    ann = ["record_id,note_id,field,value"]
    bob = ["record_id,note_id,field,value"]
    sev_a, sev_b = [1, 2, 3, 2, 1, 3], [1, 2, 2, 2, 1, 3]
    for i in range(6):
        ann.append(f"R{i + 1},,severity,{sev_a[i]}")
        bob.append(f"R{i + 1},,severity,{sev_b[i]}")
        ann.append(f"R{i + 1},,sessions,{i}")  # only ann codes sessions
        for j in range(2):
            ann.append(f"R{i + 1},R{i + 1}-N{j},mentioned,{(i + j) % 2}")
            bob.append(f"R{i + 1},R{i + 1}-N{j},mentioned,{(i + j) % 2 if i else 1 - j}")
    for name, lines in (("ann", ann), ("bob", bob)):
        path = tmp_path / f"{name}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        r = cli("import-codes", db, path, "--coder", name)
        assert r.code == 0, r.err
    return db


def test_field_without_double_coded_units_and_note_level_units(cli, tmp_path):
    db = _two_field_audit(cli, tmp_path)
    r = cli("agreement", db, "--json")
    assert r.code == 0, r.err
    by = {f["field"]: f for f in r.json["fields"]}
    assert list(by) == ["severity", "sessions", "remark", "mentioned"]
    for name in ("sessions", "remark"):
        f = by[name]
        assert f["n_units"] == 0
        assert "no units coded by 2 or more coders" in f["notes"]
        assert f["percent_agreement"] is None and f["krippendorff_alpha"] is None and f["icc"] is None
        assert f["alpha_by_level"] == {"nominal": None, "ordinal": None, "interval": None, "ratio": None}
    assert by["sessions"]["level"] == "ratio" and by["remark"]["level"] == "nominal"
    sev = by["severity"]
    assert sev["level"] == "ordinal" and sev["n_units"] == 6 and sev["n_coders"] == 2
    assert sev["percent_agreement"] == pytest.approx(5 / 6)
    assert sev["cohen_kappa_linear"] is not None and sev["icc"] is None
    assert any("scale: the codebook's 3 choices in order (1, 2, 3)" in n for n in sev["notes"])
    men = by["mentioned"]
    assert men["n_units"] == 12  # notes are the units of a note-level field
    assert men["percent_agreement"] == pytest.approx(10 / 12)
    # the human output says so too, and a single --field gives the same numbers as the full report
    human = cli("agreement", db)
    assert human.code == 0 and "no units coded by 2 or more coders" in human.out
    one = cli("agreement", db, "--json", "--field", "severity", "--bootstrap", 100, "--seed", 5)
    full = cli("agreement", db, "--json", "--bootstrap", 100, "--seed", 5)
    assert one.json["fields"][0] == next(f for f in full.json["fields"] if f["field"] == "severity")


def test_draft_codes_do_not_count(cli, tmp_path):
    rows, ftype = _feinstein_rows()
    run_case(cli, tmp_path, rows, ftype)
    db = tmp_path / "case.db"
    # a third coder's drafts (not submitted) never count; on the records they are on, nothing counts
    # until every assigned coder has submitted (the blinding rule's "record closed" clause)
    assert cli("coders", "add", db, "rater3").code == 0
    path = tmp_path / "draft.csv"
    path.write_text(
        "record_id,note_id,field,value\n" + "".join(f"U{i + 1:03d},,score,1\n" for i in range(50)), encoding="utf-8"
    )
    assert cli("import-codes", db, path, "--coder", "rater3", "--draft").code == 0
    res = cli("agreement", db, "--json").json["fields"][0]
    assert res["n_coders"] == 2 and res["n_units"] == 50  # U051..U100: the two raters only
    assert res["percent_agreement"] is not None


def test_json_shape_is_exact(cli, tmp_path):
    rows, ftype = _feinstein_rows()
    res = run_case(cli, tmp_path, rows, ftype)
    assert list(res) == [
        "field",
        "level",
        "n_units",
        "n_coders",
        "percent_agreement",
        "cohen_kappa",
        "cohen_kappa_linear",
        "cohen_kappa_quadratic",
        "fleiss_kappa",
        "krippendorff_alpha",
        "alpha_by_level",
        "gwet_ac1",
        "gwet_ac2_quadratic",
        "icc",
        "ci",
        "notes",
        "label",  # the field's codebook label (the CLI adds it; the table shows it first)
    ]
    assert list(res["alpha_by_level"]) == ["nominal", "ordinal", "interval", "ratio"]
    assert all(isinstance(n, str) for n in res["notes"])
