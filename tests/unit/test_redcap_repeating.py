"""Note-level data reaches REDCap: the data-import CSV holds note-level fields as a repeating instrument.

A REDCap project has one row per record; a value per chart note needs a repeating instrument
(rows with ``redcap_repeat_instrument`` and ``redcap_repeat_instance``). The dictionary puts the
note-level fields on that instrument, so the data file fits it. Read back with pandas.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from chartcode.codebook.redcap import codebook_to_redcap
from chartcode.demo import build_demo
from chartcode.export import export
from chartcode.store import Store

REPEAT = ["redcap_repeat_instrument", "redcap_repeat_instance"]


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


@pytest.fixture
def demo(tmp_path, demo_master):
    path = tmp_path / "demo.db"
    shutil.copy(demo_master, path)
    s = Store.open(path)
    yield s
    s.close()


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_dictionary_puts_note_level_fields_on_their_own_instrument(demo, tmp_path):
    codebook_to_redcap(demo.codebook, tmp_path / "dict.csv")
    d = read(tmp_path / "dict.csv")
    forms = dict(zip(d["Variable / Field Name"], d["Form Name"], strict=True))
    note_names = {f.name for f in demo.codebook.note_fields}
    assert {forms[n] for n in note_names} == {"conjoint_pain_notes"}
    assert "conjoint_pain_notes" not in {forms[f.name] for f in demo.codebook.record_fields}
    assert forms["record_id"] == "conjoint_pain"


def test_note_level_values_are_repeating_instances_of_that_instrument(demo, tmp_path):
    codebook_to_redcap(demo.codebook, tmp_path / "dict.csv")
    export(demo, "redcap", tmp_path / "data.csv")
    export(demo, "csv", tmp_path / "wide.csv")
    data, dictionary = read(tmp_path / "data.csv"), read(tmp_path / "dict.csv")
    assert list(data.columns[:3]) == ["record_id", *REPEAT]
    records, notes = data[data[REPEAT[0]] == ""], data[data[REPEAT[0]] != ""]
    assert len(records) == 24 and (records[REPEAT[1]] == "").all()
    instrument = set(dictionary.loc[dictionary["Form Name"] == "conjoint_pain_notes", "Variable / Field Name"])
    assert set(notes[REPEAT[0]]) == {"conjoint_pain_notes"}
    # instances count 1, 2, ... within each record
    for _, group in notes.groupby("record_id"):
        assert group[REPEAT[1]].astype(int).tolist() == list(range(1, len(group) + 1))
    # each row holds only its own instrument's fields
    record_cols = [c for c in data.columns[3:] if c not in instrument]
    assert (notes[record_cols] == "").all().all()
    assert (records[sorted(instrument)] == "").all().all()
    # one instance per note that has a final note-level value (the csv export's notes table)
    wide = read(tmp_path / "wide_notes.csv")
    coded = wide[(wide[sorted(instrument)] != "").any(axis=1)]
    assert len(notes) == len(coded) > 0
    assert notes.groupby("record_id").size().to_dict() == coded.groupby("record_id").size().to_dict()


def test_deidentified_note_rows_carry_the_same_hashed_record_ids(demo, tmp_path):
    export(demo, "redcap", tmp_path / "data.csv", deidentify=True)
    data = read(tmp_path / "data.csv")
    records, notes = data[data[REPEAT[0]] == ""], data[data[REPEAT[0]] != ""]
    assert len(notes) > 0
    assert set(notes["record_id"]) <= set(records["record_id"])
    assert not set(records["record_id"]) & set(demo.record_ids())


def test_data_file_names_the_record_id_column_as_the_dictionary_it_came_from(tmp_path):
    from chartcode.codebook import load_codebook
    from chartcode.codebook.redcap import redcap_to_yaml
    from chartcode.export.redcap import redcap_frame

    src = Path(__file__).resolve().parents[1] / "data" / "redcap" / "redcapr_longitudinal_dictionary.csv"
    cb = load_codebook(src, text=redcap_to_yaml(src)[0])
    records = pd.DataFrame({"record_id": ["R1"], cb.fields[0].name: [None]})
    table = redcap_frame(records, pd.DataFrame(), cb)
    assert list(table.columns) == ["study_id", cb.fields[0].name]
    assert table.iloc[0].tolist() == ["R1", ""]
