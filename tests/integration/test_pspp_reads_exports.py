"""GNU PSPP (the free SPSS) opens chartcode's .sav exports as an SPSS user would: a syntax file
with GET FILE, DISPLAY DICTIONARY and DESCRIPTIVES, run by ``pspp``, its tables written as CSV
(``-O format=csv``) and read here. Measurement levels, formats, user-missing values and the
mean of a scale item with a "cannot rate" all come from PSPP, not from our writer.

Skips on a machine without pspp; fails under CI=true (.ci/run installs it)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chartcode.demo import build_demo
from chartcode.demo_fidelity import build_fidelity_demo
from chartcode.export import export
from chartcode.store import Store


def pspp_path() -> str:
    path = shutil.which("pspp")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pspp is required on CI (.ci/run installs it)")
        pytest.skip("pspp is not installed (apt-get install pspp)")
    return path


def run_pspp(syntax: str, folder: Path) -> dict[str, list[list[str]]]:
    """Run ``syntax`` in ``folder``; PSPP's output tables by title (the first of a title wins
    unless numbered: "Variables", "Variables 2" ...), each a list of CSV rows."""
    sps = folder / "check.sps"
    sps.write_text(syntax, encoding="utf-8")
    out = folder / "out.csv"
    done = subprocess.run(
        [pspp_path(), "-O", "format=csv", "-o", str(out), str(sps)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = out.read_text(encoding="utf-8")
    assert "error" not in text.lower(), text
    tables: dict[str, list[list[str]]] = {}
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        if not lines or not lines[0].startswith("Table: "):
            continue
        title = lines[0][len("Table: ") :]
        key, n = title, 1
        while key in tables:
            n += 1
            key = f"{title} {n}"
        tables[key] = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    return tables


def by_name(table: list[list[str]]) -> dict[str, dict[str, str]]:
    header, *rows = table
    return {row[0]: dict(zip(header, row, strict=False)) for row in rows}


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pspp")
    with Store.open(build_demo(tmp_path_factory.mktemp("demo"), complete=True)) as s:
        export(s, "sav", folder / "demo.sav")
        export(s, "sav", folder / "deid.sav", deidentify=True)
    with Store.open(build_fidelity_demo(tmp_path_factory.mktemp("fidelity"))) as s:
        export(s, "sav", folder / "fidelity.sav")
    return folder


def test_pspp_sees_measure_levels_whole_number_formats_and_missing_codes(exports):
    tables = run_pspp(
        "GET FILE='demo.sav'.\n"
        "DISPLAY DICTIONARY /VARIABLES=sex race_ethnicity age last_note_outcome prior_hp_any.\n"
        "DESCRIPTIVES /VARIABLES=race_ethnicity age.\n",
        exports,
    )
    variables = by_name(tables["Variables"])
    assert {n: v["Measurement Level"] for n, v in variables.items()} == {
        "sex": "Nominal",
        "race_ethnicity": "Nominal",
        "age": "Scale",
        "last_note_outcome": "Ordinal",
        "prior_hp_any": "Nominal",  # a derived 0/1 variable
    }
    assert {n: v["Print Format"] for n, v in variables.items()} == {
        "sex": "F1.0",
        "race_ethnicity": "F1.0",
        "age": "F3.0",
        "last_note_outcome": "F1.0",
        "prior_hp_any": "F1.0",
    }
    assert variables["sex"]["Missing Values"] == "9" and variables["race_ethnicity"]["Missing Values"] == "9"
    assert variables["age"]["Missing Values"] == ""
    labels = tables["Value Labels"]
    assert ["", "9[a]", "Not disclosed"] in labels and ["", "9[a]", "Not documented"] in labels  # a: user-missing
    stats = by_name(tables["Descriptive Statistics"])
    assert stats["Race / ethnicity"]["N"] == "22"  # the 2 records coded 9 "Not disclosed" are missing


def test_pspp_reads_note_dates_as_date_variables(exports):
    tables = run_pspp(
        "GET FILE='demo_notes.sav'.\nDISPLAY DICTIONARY /VARIABLES=note_date.\n"
        "GET FILE='deid_notes.sav'.\nDISPLAY DICTIONARY /VARIABLES=note_date.\n",
        exports,
    )
    for key in ("Variables", "Variables 2"):
        note_date = by_name(tables[key])["note_date"]
        assert (note_date["Print Format"], note_date["Measurement Level"]) == ("SDATE10", "Scale")


def test_pspp_mean_of_a_scale_item_leaves_cannot_rate_out(exports):
    tables = run_pspp(
        "GET FILE='fidelity.sav'.\n"
        "DISPLAY DICTIONARY /VARIABLES=graded_return_plan unit period total band.\n"
        "DESCRIPTIVES /VARIABLES=graded_return_plan total.\n",
        exports,
    )
    variables = by_name(tables["Variables"])
    assert variables["graded_return_plan"]["Measurement Level"] == "Ordinal"
    assert variables["graded_return_plan"]["Missing Values"] == "9"
    assert variables["unit"]["Print Format"].startswith("A") and variables["period"]["Print Format"] == "A7"
    assert variables["total"]["Measurement Level"] == "Scale"
    assert ["", "9[a]", "Cannot rate"] in tables["Value Labels"]
    stats = by_name(tables["Descriptive Statistics"])
    assert (stats["Graded return-to-work plan"]["N"], stats["Graded return-to-work plan"]["Mean"]) == ("5", "3.20")
    assert stats["Total score"]["N"] == "6"
