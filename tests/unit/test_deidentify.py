"""De-identified exports (HIPAA Safe Harbor items that apply to coded chart data), read back with
pandas, pyreadstat and json, and grepped byte by byte for what must not be there."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from chartcode.codebook import load_codebook
from chartcode.errors import UserError
from chartcode.export import export
from chartcode.export.tables import Deidentifier, date_offset
from chartcode.store import Store

SALT = "0123456789abcdef0123456789abcdef"  # fixed, so no shifted date lands on an original one by chance
ADDRESS = "lives at 1 Main St"
MEMO = "memo quoting the chart"
CODEBOOK = """
id: deid
title: De-identification test codebook
version: "1"
fields:
  - {name: mrn, label: Medical record number, type: text, identifier: true}
  - {name: home, label: Living situation, type: text}
  - {name: age, label: Age (years), type: count, max: 120}
  - {name: admit_date, label: Admission date, type: date}
  - {name: smoker, label: Current smoker, type: binary}
  - {name: visit_kind, label: Kind of visit, level: note, type: nominal, choices: {1: First, 2: Follow-up}}
  - {name: onset_date, label: Symptom onset, level: note, type: date}
  - {name: note_comment, label: Comment on the note, level: note, type: text}
"""
N = 12
RIDS = [f"PT-{40001 + i}" for i in range(N)]


def _day(i: int, days: int) -> str:
    # each record's dates in its own pair of years, so another record's shift (<= 182 days) cannot reach them
    return (dt.date(2000 + 2 * i, 6, 1) + dt.timedelta(days=days)).isoformat()


def dates_of(i: int) -> dict[str, str]:
    return {
        "admit_date": _day(i, -5),
        "N1": _day(i, 0),
        "N2": _day(i, 17),
        "N1.onset": _day(i, -2),
        "N2.onset": _day(i, 15),
    }


ORIGINAL_DATES = [d for i in range(N) for d in dates_of(i).values()]
NOTE_IDS = [f"{rid}-N{k}" for rid in RIDS for k in (1, 2)]


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "deid.db"
    s = Store.create(path, load_codebook("deid.yaml", text=CODEBOOK), coders=[("intern", "coder"), ("lead", "lead")])
    try:
        s.add_records(RIDS)
        with s._write() as w:
            w.conn.execute("UPDATE meta SET value = ? WHERE key = 'deid_salt'", [SALT])
            for i, rid in enumerate(RIDS):
                d = dates_of(i)
                for k in (1, 2):
                    w.conn.execute(
                        "INSERT INTO notes(note_id, record_id, note_date, note_type, text, content_sha)"
                        " VALUES (?, ?, ?, 'visit', 'note text', ?)",
                        [f"{rid}-N{k}", rid, d[f"N{k}"], f"{rid}{k}"],
                    )
        s.assign("intern", RIDS)
        for i, rid in enumerate(RIDS):
            d = dates_of(i)
            s.set_code("intern", rid, "mrn", f"MRN-{777000 + i}")
            s.set_code("intern", rid, "home", f"{ADDRESS}, flat {i}")
            s.set_code("intern", rid, "age", 93 if i == 0 else 89 if i == 1 else 40 + i)
            s.set_code("intern", rid, "admit_date", d["admit_date"])
            s.set_code("intern", rid, "smoker", i % 2)
            s.set_memo("intern", rid, "smoker", f"{MEMO} {i}")
            for k in (1, 2):
                nid = f"{rid}-N{k}"
                s.set_code("intern", rid, "visit_kind", k, note_id=nid)
                s.set_code("intern", rid, "onset_date", d[f"N{k}.onset"], note_id=nid)
                s.set_code("intern", rid, "note_comment", f"{ADDRESS} again", note_id=nid)
            s.submit("intern", rid)
    finally:
        s.close()
    return path


def _bytes(path: Path) -> bytes:
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return b"".join(z.read(n) for n in z.namelist())
    return path.read_bytes()


def _export(db: Path, fmt: str, out: Path, **kw) -> list[Path]:
    with Store.open(db) as s:
        return export(s, fmt, out, deidentify=True, **kw).files


def _wide(db: Path, fmt: str, tmp_path: Path, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    files = _export(db, fmt, tmp_path / f"w.{'csv' if fmt == 'redcap' else fmt}", **kw)
    if fmt == "redcap":
        return pd.read_csv(files[0], dtype=str), pd.DataFrame()
    if fmt == "csv":
        return pd.read_csv(files[0], dtype=str), pd.read_csv(files[1], dtype=str)
    if fmt == "xlsx":
        return (
            pd.read_excel(files[0], sheet_name="records", dtype=str),
            pd.read_excel(files[0], sheet_name="notes", dtype=str),
        )
    if fmt == "json":
        doc = json.loads(files[0].read_text())
        return pd.DataFrame(doc["records"]), pd.DataFrame(doc["notes"])
    read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    return read(str(files[0]))[0], read(str(files[1]))[0]


def _days(a: str, b: str) -> int:
    return (dt.date.fromisoformat(str(a)[:10]) - dt.date.fromisoformat(str(b)[:10])).days


# ---- the offset -----------------------------------------------------------------------------


def test_the_offset_is_stable_per_record_never_zero_within_half_a_year_and_varies_between_records():
    offsets = [date_offset(SALT, rid) for rid in RIDS + [f"R{i}" for i in range(500)]]
    assert all(o != 0 and -182 <= o <= 182 for o in offsets)
    assert [date_offset(SALT, r) for r in RIDS] == offsets[:N]
    assert len(set(offsets)) > 250  # spread over the year
    assert date_offset("another salt", RIDS[0]) != date_offset(SALT, RIDS[0]) or date_offset(
        "another salt", RIDS[1]
    ) != date_offset(SALT, RIDS[1])


# ---- dates shifted -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "sav", "dta"])
def test_every_date_of_a_record_moves_by_its_one_offset(db, tmp_path, fmt):
    records, notes = _wide(db, fmt, tmp_path)
    assert len(records) == N and len(notes) == 2 * N
    offsets = []
    for i, pseudo in enumerate(records["record_id"]):
        d = dates_of(i)
        own = notes[notes["record_id"] == pseudo].sort_values("note_date")
        assert len(own) == 2
        shift = _days(records["admit_date"].iloc[i], d["admit_date"])
        got = [
            _days(own["note_date"].iloc[0], d["N1"]),
            _days(own["note_date"].iloc[1], d["N2"]),
            _days(own["onset_date"].iloc[0], d["N1.onset"]),
            _days(own["onset_date"].iloc[1], d["N2.onset"]),
        ]
        assert got == [shift] * 4  # one offset: intervals within the record are kept
        assert shift != 0 and -182 <= shift <= 182
        assert shift == date_offset(SALT, RIDS[i])
        offsets.append(shift)
    assert len(set(offsets)) >= N - 2  # offsets differ between records (most of them)


def test_the_long_export_shifts_date_values_by_the_same_offset(db, tmp_path):
    files = _export(db, "json", tmp_path / "l.json", long=True, viewer="lead")
    codes = json.loads(files[0].read_text())["codes"]
    dates = [c for c in codes if c["field"] in ("admit_date", "onset_date")]
    assert len(dates) == 3 * N
    deid = Deidentifier(SALT)
    for i, rid in enumerate(RIDS):
        own = {(c["field"], c["note_id"]): c["value"] for c in dates if c["record_id"] == deid.hash_id(rid)}
        d = dates_of(i)
        assert (
            sorted(
                _days(v, d[k])
                for k, v in (
                    ("admit_date", own[("admit_date", None)]),
                    ("N1.onset", own[("onset_date", deid.hash_id(rid + "-N1"))]),
                    ("N2.onset", own[("onset_date", deid.hash_id(rid + "-N2"))]),
                )
            )
            == [date_offset(SALT, rid)] * 3
        )
    assert all(c["submitted_value"] == c["value"] for c in dates)
    assert not {c["field"] for c in codes} & {"mrn", "home", "note_comment"}
    assert all(c["memo"] is None for c in codes)
    assert [c["value"] for c in codes if c["field"] == "age"].count("90+") == 1


def test_dates_year_gives_years_only(db, tmp_path):
    records, notes = _wide(db, "csv", tmp_path, dates="year")
    assert [int(y) for y in records["admit_date"]] == [int(dates_of(i)["admit_date"][:4]) for i in range(N)]
    assert set(notes["note_date"]) <= {str(2000 + 2 * i) for i in range(N)}
    assert notes["onset_date"].str.fullmatch(r"\d{4}").all()
    files = _export(db, "sav", tmp_path / "y.sav", dates="year")
    data, meta = pyreadstat.read_sav(str(files[1]))
    assert data["note_date"].dtype.kind == "f" and set(data["note_date"]) <= {2000 + 2 * i for i in range(N)}
    assert "year" in meta.column_names_to_labels["note_date"].lower()
    assert "year" in meta.column_names_to_labels["onset_date"].lower()


def test_dates_option_needs_deidentify_and_a_known_mode(db, tmp_path):
    with Store.open(db) as s:
        with pytest.raises(UserError, match="--deidentify"):
            export(s, "csv", tmp_path / "a.csv", dates="year")
        with pytest.raises(UserError, match="shift"):
            export(s, "csv", tmp_path / "b.csv", deidentify=True, dates="month")
        with pytest.raises(UserError, match="REDCap"):
            export(s, "redcap", tmp_path / "c.csv", deidentify=True, dates="year")


# ---- values dropped or coarsened -----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json", "sav", "dta", "redcap"])
def test_free_text_identifiers_and_memos_are_absent_and_ages_over_89_are_90_plus(db, tmp_path, fmt):
    records, notes = _wide(db, fmt, tmp_path)
    for col in ("mrn", "home", "note_comment"):
        assert col not in records and col not in notes
    ages = records["age"].tolist()
    if fmt in ("sav", "dta"):
        assert ages[:3] == [90, 89, 42]
    elif fmt == "redcap":
        assert ages[:3] == ["90", "89", "42"]
    else:
        assert [str(a) for a in ages[:3]] == ["90+", "89", "42"]


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_spss_and_stata_label_the_top_coded_age(db, tmp_path, fmt):
    files = _export(db, fmt, tmp_path / f"a.{fmt}")
    read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    _, meta = read(str(files[0]))
    labels = meta.variable_value_labels["age"]
    assert labels == {90: "90 or older"} or labels == {90.0: "90 or older"}


# ---- nothing original left in any file -----------------------------------------------------


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
@pytest.mark.parametrize("dates", ["shift", "year"])
def test_no_original_id_date_text_or_memo_in_any_output_file(db, tmp_path, fmt, long, dates):
    if fmt == "redcap" and dates == "year":  # REDCap date fields take whole dates: refused, nothing written
        with pytest.raises(UserError):
            _export(db, fmt, tmp_path / "x.csv", long=long, viewer="lead", dates=dates)
        assert not (tmp_path / "x.csv").exists()
        return
    files = _export(db, fmt, tmp_path / f"x.{'csv' if fmt == 'redcap' else fmt}", long=long, viewer="lead", dates=dates)
    for path in files:
        data = _bytes(path)
        for needle in [*RIDS, *NOTE_IDS, *ORIGINAL_DATES, ADDRESS, MEMO, "MRN-777", "note text"]:
            assert needle.encode() not in data, (path.name, needle)


# ---- the command line ------------------------------------------------------------------------


def test_the_command_line_takes_dates_only_with_deidentify(cli, db, tmp_path):
    r = cli("export", db, "--format", "csv", "--dates", "year", "--out", tmp_path / "a.csv")
    assert r.code == 2 and "applies only with --deidentify" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "a.csv").exists()
    r = cli("export", db, "--format", "csv", "--deidentify", "--dates", "month", "--out", tmp_path / "b.csv")
    assert r.code == 2 and "month" in r.err
    r = cli("export", db, "--format", "csv", "--deidentify", "--dates", "year", "--out", tmp_path / "c.csv")
    assert r.code == 0, r.err
    years = pd.read_csv(tmp_path / "c.csv", dtype=str)["admit_date"]
    assert list(years) == [dates_of(i)["admit_date"][:4] for i in range(N)]
    r = cli("export", db, "--format", "csv", "--deidentify", "--out", tmp_path / "d.csv")  # shift by default
    assert r.code == 0, r.err
    shifted = pd.read_csv(tmp_path / "d.csv", dtype=str)["admit_date"]
    assert [_days(s, dates_of(i)["admit_date"]) for i, s in enumerate(shifted)] == [
        date_offset(SALT, rid) for rid in RIDS
    ]
