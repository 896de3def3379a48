"""Streaming keeps the output: the submitted codes read chunk by chunk, the CSV written block by block
of rows and the XLSX sheets' cells looked up block by block give exactly what one read and one
write gave -- on a small audit with every field type at both levels, two coders (agreed,
unresolved and consensus units), a formula-like memo and text, read back with pandas and openpyxl."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from chartcode import dataset
from chartcode.codebook import load_codebook
from chartcode.export import export, writers
from chartcode.export import xlsx as xl
from chartcode.export.tables import wide_tables
from chartcode.store import Store, dataset_queries

CODEBOOK = """
id: every-type
title: Every field type
version: "1"
fields:
  - {name: kind, label: Kind, level: record, type: nominal, choices: {1: One, 2: Two, 3: Three}}
  - {name: word, label: Word codes, level: record, type: nominal, choices: {a: Alpha, b: Beta}}
  - {name: grade, label: Grade, level: record, type: ordinal, choices: {1: Low, 2: Mid, 3: High}}
  - {name: smoker, label: Smoker, level: record, type: binary}
  - {name: visits, label: Visits, level: record, type: count}
  - {name: weight, label: Weight, level: record, type: numeric}
  - {name: seen, label: Seen on, level: record, type: date}
  - {name: remark, label: Remark, level: record, type: text}
  - {name: visit_kind, label: Visit kind, level: note, type: nominal, choices: {1: First, 2: Follow-up}}
  - {name: minutes, label: Minutes, level: note, type: count}
  - {name: note_remark, label: Note remark, level: note, type: text}
"""

RECORDS = [f"R{i}" for i in range(7)]


def _values(i: int) -> dict:
    return {
        "kind": 1 + i % 3,
        "word": "ab"[i % 2],
        "grade": 1 + i % 3,
        "smoker": i % 2,
        "visits": i * 3,
        "weight": 60.5 + i if i % 3 else float(70 + i),  # some whole floats
        "seen": f"2024-0{1 + i % 9}-1{i}",
        "remark": ["=SUM(A1)", "plain", "+1 call", "-", "line\nbreak", "@home", "ok"][i],
    }


@pytest.fixture
def store(tmp_path: Path):
    s = Store.create(
        tmp_path / "every.db",
        load_codebook("every.yaml", text=CODEBOOK),
        coders=[("intern", "coder"), ("supervisor", "supervisor"), ("lead", "lead")],
    )
    s.add_records([*RECORDS, "R-empty"])
    with s._write() as db:
        for n, rid in enumerate(RECORDS):
            for k in range(1 + n % 2):
                db.conn.execute(
                    "INSERT INTO notes(note_id, record_id, note_date, note_type, text, content_sha)"
                    " VALUES (?, ?, ?, 'visit', 'text', ?)",
                    [f"{rid}-N{k}", rid, f"2024-02-0{k + 1}", f"{rid}{k}"],
                )
    s.assign("intern", RECORDS)
    s.assign("supervisor", RECORDS[:4])
    for i, rid in enumerate(RECORDS):
        for coder in ("intern", "supervisor") if i < 4 else ("intern",):
            vals = _values(i)
            if coder == "supervisor" and i in (1, 3):  # disagreements: one settled by consensus below
                vals = vals | {"kind": 1 + (i + 1) % 3, "weight": 99.25}
            for name, value in vals.items():
                s.set_code(coder, rid, name, value)
            s.set_memo(coder, rid, "remark", "=HYPERLINK(1)")
            for k in range(1 + i % 2):
                s.set_code(coder, rid, "visit_kind", 1 + k, note_id=f"{rid}-N{k}")
                s.set_code(coder, rid, "minutes", 10 * k + i, note_id=f"{rid}-N{k}")
                s.set_code(coder, rid, "note_remark", "=1+1" if k else "fine", note_id=f"{rid}-N{k}")
            s.submit(coder, rid)
    s.set_consensus("R1", "kind", 2, reason="talked it through", decided_by="supervisor")
    yield s
    s.close()


def _old_submitted_codes(store: Store) -> pd.DataFrame:
    """The one-read version the chunked read replaced (the reference)."""
    fields = [f.name for f in store.codebook.fields]
    coders = [c["name"] for c in store.coders()]
    rows = store.submitted_code_rows(fields, coders)
    table = np.array(rows, dtype=object) if rows else np.empty((0, 5), dtype=object)
    codes, uniques = pd.factorize(table[:, 1], sort=True)
    return pd.DataFrame(
        {
            "field": dataset._categorical(table[:, 0], fields),
            "record_id": pd.Categorical.from_codes(codes, pd.Index(uniques, dtype=object)),
            "note_key": dataset._categorical(table[:, 2], [], missing=""),
            "coder": dataset._categorical(table[:, 3], coders),
            "value": pd.Series(table[:, 4], dtype=object),
        }
    )


@pytest.mark.parametrize("chunk", [1, 2, 7, 50_000])
def test_submitted_codes_read_in_chunks_equal_one_read(store, monkeypatch, chunk):
    monkeypatch.setattr(dataset_queries, "CHUNK_ROWS", chunk)
    got = dataset.submitted_codes(store)
    want = _old_submitted_codes(store)
    assert len(got) > 100
    pd.testing.assert_frame_equal(got, want)
    assert [type(v) for v in got["value"]] == [type(v) for v in want["value"]]  # 70.0 stays a float


def test_submitted_codes_of_an_audit_with_no_submitted_code_is_empty(tmp_path):
    s = Store.create(tmp_path / "e.db", load_codebook("every.yaml", text=CODEBOOK), coders=[("intern", "coder")])
    try:
        pd.testing.assert_frame_equal(dataset.submitted_codes(s), _old_submitted_codes(s))
    finally:
        s.close()


@pytest.mark.parametrize("block", [1, 2, 3, 20_000])
def test_csv_written_block_by_block_is_byte_identical_to_one_pandas_call(store, tmp_path, monkeypatch, block):
    monkeypatch.setattr(writers, "CSV_BLOCK_ROWS", block)
    out = tmp_path / "out.csv"
    export(store, "csv", out)
    records, notes = wide_tables(store, extras=True)
    for path, frame in ((out, records), (tmp_path / "out_notes.csv", notes)):
        want = writers.neutralise(frame).to_csv(index=False)
        assert path.read_bytes().decode("utf-8") == want
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert back.loc[back["record_id"] == "R0", "remark"].item() == "'=SUM(A1)"  # the guard, in every block
    assert back.loc[back["record_id"] == "R1", "kind__source"].item() == "consensus"
    assert back.loc[back["record_id"] == "R3", "kind"].item() == ""  # unresolved: no final value


def test_csv_of_an_empty_table_is_its_header(tmp_path, monkeypatch):
    monkeypatch.setattr(writers, "CSV_BLOCK_ROWS", 1)
    frame = pd.DataFrame({"record_id": pd.Series([], dtype=object), "x": pd.Series([], dtype="Int64")})
    writers.write_csv(frame, tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_text() == "record_id,x\n"


def _cells(path: Path) -> dict[str, list[list]]:
    book = openpyxl.load_workbook(path, read_only=True)
    try:
        return {ws.title: [[c for c in row] for row in ws.iter_rows(values_only=True)] for ws in book.worksheets}
    finally:
        book.close()


def test_xlsx_written_block_by_block_reads_back_the_same(store, tmp_path, monkeypatch):
    export(store, "xlsx", tmp_path / "one.xlsx")
    monkeypatch.setattr(xl, "BLOCK_ROWS", 2)
    export(store, "xlsx", tmp_path / "blocks.xlsx")
    one, blocks = _cells(tmp_path / "one.xlsx"), _cells(tmp_path / "blocks.xlsx")
    assert one == blocks
    assert len(one["records"]) == len(RECORDS) + 2  # header and the record without codes
    for sheet in ("records", "notes"):
        pd.testing.assert_frame_equal(
            pd.read_excel(tmp_path / "blocks.xlsx", sheet_name=sheet),
            pd.read_excel(tmp_path / "one.xlsx", sheet_name=sheet),
        )
    records, _ = wide_tables(store, extras=True)
    back = pd.read_excel(tmp_path / "blocks.xlsx", sheet_name="records", dtype=object)
    got = back.set_index("record_id").loc[RECORDS]
    assert got["remark"].tolist() == records.set_index("record_id").loc[RECORDS, "remark"].tolist()  # as entered
    assert got.loc[["R0", "R2"], "weight"].tolist() == [70, 62.5]
    assert pd.isna(got.loc["R1", "weight"])  # the coders disagree: no final value
