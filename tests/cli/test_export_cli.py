"""`chartcode export`: options, messages on stderr, exit 2 for what the user can fix."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pyreadstat
import pytest

from chartcode.cli import cli as _cli
from chartcode.cli.export import export as _export
from chartcode.demo import build_demo
from chartcode.store import Store
from tests.unit.test_export import NOTE_TEXT, small_store

if "export" not in _cli.commands:  # cli.py may register it already
    _cli.add_command(_export)


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


@pytest.fixture
def demo_db(tmp_path, demo_master):
    path = tmp_path / "demo.db"
    shutil.copy(demo_master, path)
    return path


def test_export_writes_the_csv_pair_and_says_what_it_wrote(cli, demo_db, tmp_path):
    r = cli("export", demo_db, "--format", "csv", "--out", tmp_path / "final.csv")
    assert r.code == 0, r.err
    assert "final.csv" in r.out and "final_notes.csv" in r.out and "24 records" in r.out
    assert len(pd.read_csv(tmp_path / "final.csv")) == 24
    assert "session_content__source" in pd.read_csv(tmp_path / "final_notes.csv")


def test_export_sav_from_the_command_line_has_labels(cli, demo_db, tmp_path):
    r = cli("export", demo_db, "--format", "sav", "--out", tmp_path / "final.sav")
    assert r.code == 0, r.err
    df, meta = pyreadstat.read_sav(str(tmp_path / "final.sav"))
    assert meta.column_names_to_labels["sex"] == "Sex" and meta.variable_value_labels["sex"]
    assert "termination_src" in df


def test_long_export_reports_codes_held_back_and_a_lead_sees_them(cli, demo_db, tmp_path):
    with Store.open(demo_db) as s:
        s.add_coder("third", "coder")
        s.assign("third", ["VET-002"])
        held = s._db.execute("SELECT count(*) FROM codes WHERE value IS NOT NULL").fetchone()[0]
    r = cli("export", demo_db, "--format", "json", "--long", "--out", tmp_path / "blind.json")
    assert r.code == 0, r.err
    assert f"({held} codes held back" in r.err  # no --as: no coder's codes at all
    assert json.loads((tmp_path / "blind.json").read_text())["codes"] == []
    r = cli("export", demo_db, "--format", "json", "--long", "--as", "intern", "--out", tmp_path / "intern.json")
    assert r.code == 0, r.err
    mine = json.loads((tmp_path / "intern.json").read_text())["codes"]
    assert {c["coder"] for c in mine if c["record_id"] == "VET-002"} == {"intern"}  # open again: own codes only
    r = cli("export", demo_db, "--format", "json", "--long", "--as", "qi-lead", "--out", tmp_path / "lead.json")
    assert r.code == 0, r.err
    assert "held back" not in r.err
    assert "VET-002" in {c["record_id"] for c in json.loads((tmp_path / "lead.json").read_text())["codes"]}


def test_redcap_export_writes_note_level_fields_as_a_repeating_instrument(cli, demo_db, tmp_path):
    r = cli("export", demo_db, "--format", "redcap", "--out", tmp_path / "data.csv")
    assert r.code == 0, r.err
    assert "left out" not in r.err
    data = pd.read_csv(tmp_path / "data.csv", dtype=str, keep_default_na=False)
    notes = data[data["redcap_repeat_instrument"] != ""]
    assert set(notes["redcap_repeat_instrument"]) == {"conjoint_pain_notes"}
    assert (notes["session_content"] != "").any()


def test_deidentified_export_from_the_command_line(cli, tmp_path):
    db = small_store(tmp_path)
    r = cli("export", db, "--format", "xlsx", "--deidentify", "--out", tmp_path / "d.xlsx")
    assert r.code == 0, r.err
    records = pd.read_excel(tmp_path / "d.xlsx", sheet_name="records", dtype=str)
    assert "mrn" not in records and set(records["record_id"]).isdisjoint({"R1", "R2"})
    codebook = pd.read_excel(tmp_path / "d.xlsx", sheet_name="codebook")
    assert "mrn" not in set(codebook["name"])
    assert NOTE_TEXT not in r.out + r.err


@pytest.mark.parametrize(
    "args,message",
    [
        (("--format", "parquet", "--out", "x.parquet"), "unknown export format 'parquet'"),
        (("--format", "sav", "--long", "--out", "x.sav"), "--long exports every coder's codes as csv, xlsx or json"),
        (("--format", "dta", "--long", "--out", "x.dta"), "not dta"),
        (("--format", "json", "--out", "missing/x.json"), "no such folder"),
        (("--format", "csv", "--long", "--as", "nobody", "--out", "x.csv"), "nobody"),
    ],
)
def test_export_refusals_exit_2_with_a_message(cli, tmp_path, args, message):
    db = small_store(tmp_path)
    args = tuple(str(tmp_path / a) if a.startswith(("x.", "missing/")) else a for a in args)
    r = cli("export", db, *args)
    assert r.code == 2, (r.out, r.err)
    assert message in r.err
    assert "Traceback" not in r.err


def test_export_refuses_to_overwrite_without_force(cli, tmp_path):
    db = small_store(tmp_path)
    out = tmp_path / "x.json"
    out.write_text("precious")
    r = cli("export", db, "--format", "json", "--out", out)
    assert r.code == 2 and "already exists" in r.err and "--force" in r.err
    assert out.read_text() == "precious"
    r = cli("export", db, "--format", "json", "--out", out, "--force")
    assert r.code == 0, r.err
    assert len(json.loads(out.read_text())["records"]) == 2


def test_export_of_a_missing_database_exits_2(cli, tmp_path):
    r = cli("export", tmp_path / "none.db", "--format", "csv", "--out", tmp_path / "x.csv")
    assert r.code == 2 and "no such audit database" in r.err
