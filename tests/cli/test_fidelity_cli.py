"""A fidelity review without the TUI: unit-periods, ratings from files, consensus, scores, report."""

from __future__ import annotations

import json

from chartcode import resources
from chartcode.codebook import load_codebook


def ratings_csv(path, unit_periods, values):
    """values: item -> rating for every unit-period (one file per rater)."""
    lines = ["record_id,note_id,field,value"]
    for up in unit_periods:
        lines += [f"{up},,{item},{v}" for item, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ips_review_from_files_to_scores_and_report(cli, tmp_path):
    db = tmp_path / "ips.db"
    assert cli("init", db, "--audit", "ips-fidelity").code == 0
    ups = ["Team A @ 2025-H1", "Team A @ 2025-H2"]
    assert cli("records", "add", db, *ups).code == 0
    items = [f.name for f in load_codebook(resources.shipped_dir("codebooks") / "ips-fidelity.yaml").items]
    assert len(items) == 25
    a = {name: 4 for name in items}
    b = dict(a, **{items[0]: 3})  # one disagreement per unit-period
    a[items[1]] = 9  # cannot rate... by one reviewer only: a disagreement too
    assert cli("import-codes", db, ratings_csv(tmp_path / "a.csv", ups, a), "--coder", "reviewer-a").code == 0
    assert cli("import-codes", db, ratings_csv(tmp_path / "b.csv", ups, b), "--coder", "reviewer-b").code == 0
    r = cli("fidelity", db, "--json")
    assert r.code == 0, r.err
    units = json.loads(r.out)["units"]
    assert [(u["unit"], u["period"], u["items_rated"], u["total"]) for u in units] == [
        ("Team A", "2025-H1", 23, None),
        ("Team A", "2025-H2", 23, None),
    ]  # unresolved: no total yet
    for up in ups:
        for item, value in ((items[0], 4), (items[1], 5)):
            r = cli(
                "consensus",
                db,
                "--record",
                up,
                "--field",
                item,
                "--value",
                value,
                "--reason",
                "caseload list",
                "--by",
                "lead-reviewer",
            )
            assert r.code == 0, r.err
    units = json.loads(cli("fidelity", db, "--json").out)["units"]
    assert [(u["total"], u["band"], u["change_from_previous"]) for u in units] == [
        (101, "Good fidelity", None),
        (101, "Good fidelity", 0),
    ]
    text = cli("fidelity", db).out
    assert "Team A" in text and "Good fidelity" in text
    r = cli("report", db, "--out", tmp_path / "r.md", "--bootstrap", "20")
    assert r.code == 0, r.err
    md = (tmp_path / "r.md").read_text()
    assert "## Fidelity: IPS Supported Employment Fidelity Scale" in md
    assert "| Team A | 2025-H2 |" in md


def test_codebook_check_summarises_a_scale(cli):
    r = cli("codebook", "check", "ips-fidelity")
    assert r.code == 0
    assert "scale: 25 items (Staffing 3, Organization 8, Services 14), scored by sum" in r.out
    assert (
        "Exemplary fidelity >= 115; Good fidelity >= 100; Fair fidelity >= 74; Not supported employment below" in r.out
    )


def test_fidelity_scores_to_csv_read_back_with_pandas(cli, tmp_path):
    import pandas as pd

    assert cli("demo", "--audit", "ibbis-fidelity", "--dir", tmp_path).code == 0
    out = tmp_path / "scores.csv"
    r = cli("fidelity", tmp_path / "ibbis-demo.db", "--csv", out)
    assert r.code == 0, r.err
    df = pd.read_csv(out)
    assert list(df["unit"]) == ["Team East"] * 2 + ["Team North"] * 2 + ["Team South"] * 2
    assert list(df["total"]) == [54.1875, 60, 69, 73, 39, 52]  # East H1: one item cannot be rated, prorated exactly
    assert list(df["band"]) == [
        "Fair fidelity",
        "Fair fidelity",
        "Good fidelity",
        "Good fidelity",
        "Poor fidelity",
        "Fair fidelity",
    ]
    assert df.loc[5, "change_from_previous"] == 13
    assert {"integration_score", "vocational_rehabilitation_band"} <= set(df.columns)


def test_cannot_rate_is_user_missing_in_spss_and_missing_in_statistics(cli, tmp_path):
    import json as _json

    import pyreadstat

    assert cli("demo", "--audit", "ibbis-fidelity", "--dir", tmp_path).code == 0
    db = tmp_path / "ibbis-demo.db"
    out = tmp_path / "ratings.sav"
    r = cli("export", db, "--format", "sav", "--out", out)
    assert r.code == 0, r.err
    df, meta = pyreadstat.read_sav(str(out), user_missing=True)
    assert meta.missing_ranges["graded_return_plan"] == [{"lo": 9.0, "hi": 9.0}]
    assert meta.variable_value_labels["graded_return_plan"][9] == "Cannot rate"
    assert 9 in set(df["graded_return_plan"])  # kept in the data, declared missing
    plain, _ = pyreadstat.read_sav(str(out))  # as SPSS applies it: missing
    assert 9 not in set(plain["graded_return_plan"].dropna())
    r = cli("stats", db, "--json", "--describe", "graded_return_plan")
    assert r.code == 0, r.err
    (res,) = _json.loads(r.out)["analyses"]
    cell = res["stats"]["variables"][0]["cells"][0]
    assert cell["missing"] == 1 and cell["n"] == 5
    assert [c["code"] for c in cell["counts"]] == [1, 2, 3, 4, 5]  # no "Cannot rate" category


def test_xlsx_and_json_exports_carry_the_scores_and_deidentify_the_units(cli, tmp_path):
    import json as _json

    import pandas as pd

    assert cli("demo", "--audit", "ibbis-fidelity", "--dir", tmp_path).code == 0
    db = tmp_path / "ibbis-demo.db"
    assert cli("export", db, "--format", "xlsx", "--out", tmp_path / "f.xlsx").code == 0
    sheet = pd.read_excel(tmp_path / "f.xlsx", sheet_name="fidelity")
    assert list(sheet["total"]) == [54.1875, 60, 69, 73, 39, 52]
    assert list(sheet["unit"])[:2] == ["Team East", "Team East"]
    assert cli("export", db, "--format", "json", "--out", tmp_path / "f.json", "--deidentify").code == 0
    doc = _json.loads((tmp_path / "f.json").read_text())
    assert [r["total"] for r in doc["fidelity"]] == [54.1875, 60, 69, 73, 39, 52]
    assert not any("Team" in str(r["unit"]) or "Team" in str(r["record_id"]) for r in doc["fidelity"])
    assert len({r["unit"] for r in doc["fidelity"]}) == 3  # the same pseudonym for a unit's two periods
