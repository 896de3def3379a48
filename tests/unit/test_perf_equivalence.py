"""The vectorised helpers give exactly what the straightforward per-row versions gave.

Each test compares a fast function with a plain reference implementation (mostly the code it
replaced) on awkward inputs: mixed int/str/float codes, None/NaN/pd.NA, "3" vs 3 vs 3.0,
True vs 1, 0.0 vs -0.0, bytes, empty frames; the database tests write such codes straight
into the codes table. Covered: analysis _same/_equals, export neutralise (CSV's formula guard)
and xlsx cells as openpyxl and pandas read them back, dataset finals/records_frame/
open_disagreements, agreement collect.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from chartcode import agreement, dataset
from chartcode.analysis.derived import _same, distinct
from chartcode.analysis.models import _equals
from chartcode.codebook import load_codebook
from chartcode.consensus import disagreements, final_rows
from chartcode.export import writers
from chartcode.store import Store


def _same_reference(series: pd.Series, value: Any) -> np.ndarray:
    def eq(x: Any) -> bool:
        if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(value, str):
            return float(x) == float(value)
        return str(x) == str(value)

    return np.array([False if pd.isna(x) else eq(x) for x in series], dtype=bool)


def _equals_reference(series: pd.Series, g: Any) -> np.ndarray:
    return series.map(lambda v: (not pd.isna(v)) and v == g).astype(bool).to_numpy()


SERIES = {
    "mixed object": pd.Series(
        [3, "3", 3.0, True, 1, "1", None, np.nan, pd.NA, "a", 0, 0.0, -0.0, "3.0", 2.5, False], dtype=object
    ),
    "single merged class": pd.Series([3, 3.0, True, 1], dtype=object),
    "Int64": pd.Series([1, 0, None, 3, 1, 2], dtype="Int64"),
    "Float64": pd.Series([1.0, 0.0, None, 3.5, -0.0, 1.0], dtype="Float64"),
    "float64": pd.Series([1.0, np.nan, 0.0, -0.0, 3.0, 2.5]),
    "int64": pd.Series([1, 2, 3, 1, 0]),
    "bool": pd.Series([True, False, True]),
    "str": pd.Series(["1", "2", None, "x", "1"], dtype="str"),
    "object strings": pd.Series(["1", "2", None, "x", "1"], dtype=object),
    "all missing": pd.Series([None, np.nan, pd.NA], dtype=object),
    "empty object": pd.Series([], dtype=object),
    "empty Int64": pd.Series([], dtype="Int64"),
    "non-default index": pd.Series([2, 1, None, 2], index=[10, 5, 7, 1], dtype="Int64"),
}
VALUES = [3, "3", 3.0, 1, "1", True, False, 0, "0", 0.0, "0.0", "-0.0", "True", "a", 2.5, "2.5", "3.0", "x"]


@pytest.mark.parametrize("name", list(SERIES))
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_same_matches_the_per_row_reference(name, value):
    series = SERIES[name]
    got = _same(series, value)
    assert got.dtype == bool and got.shape == (len(series),)
    assert got.tolist() == _same_reference(series, value).tolist()


@pytest.mark.parametrize("name", list(SERIES))
@pytest.mark.parametrize("g", [3, "3", 3.0, 1, True, 0, 0.0, "x", 2.5], ids=repr)
def test_equals_matches_the_per_row_reference(name, g):
    series = SERIES[name]
    assert _equals(series, g).tolist() == _equals_reference(series, g).tolist()


def test_distinct_keeps_types_apart_and_missing_out():
    codes, reps = distinct(SERIES["mixed object"])
    values = SERIES["mixed object"].tolist()
    for i, v in enumerate(values):
        if pd.isna(v):
            assert codes[i] == -1
        else:
            rep = reps[codes[i]]
            assert type(rep) is type(v) and rep == v and str(rep) == str(v)


# ---- export: neutralise and xlsx cells -------------------------------------------------------


def _neutralise_reference(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            df[col] = df[col].map(writers.safe_cell).astype(object)
    return df


def _tricky_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": pd.Series(["R1", "=R2", "R3", None, "-4", "R6"], dtype="str"),
            "mixed": pd.Series([3, "3", 3.0, True, None, "=SUM(A1)"], dtype=object),
            "floats": [1.5, np.nan, -0.0, 0.0, 1e20, 2.0],
            "ints": pd.Series([1, None, 3, 0, -2, 7], dtype="Int64"),
            "flags": [True, False, True, False, True, False],
            "text": pd.Series(["  lead", "trail ", "a&b<c>", "ctrl\x01x_x0041_", "<r>rich</r>", "@x"], dtype=object),
            "string": pd.Series(["+1", pd.NA, "", "plain", "x" * 40000, "é😀"], dtype="string"),
            "more text": ["a\n", "\tx", "a_x00G1_", "\ufffe", "x\x0b", "_x005F_"],
            "empty": pd.Series([None] * 6, dtype=object),
            "": [pd.NA, None, np.nan, pd.NaT, 1, "x"],
        }
    )


def test_neutralise_matches_the_per_cell_reference():
    df = _tricky_frame()
    pd.testing.assert_frame_equal(writers.neutralise(df), _neutralise_reference(df))
    empty = df.iloc[0:0]
    pd.testing.assert_frame_equal(writers.neutralise(empty), _neutralise_reference(empty))


def _xlsx_expected(value: Any) -> Any:
    """What a cell of an exported workbook holds for ``value`` (the per-cell rule of
    chartcode.export.xlsx written out plainly): None for an empty cell."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    text = value if isinstance(value, str) else str(value)
    units = 0
    for i, ch in enumerate(text):  # Excel's limit: 32,767 UTF-16 units
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > 32767:
            return text[:i]
    return text


def _assert_cell(got: Any, want: Any, where: str) -> None:
    if want is None:
        assert got is None, where
    elif isinstance(want, bool):
        assert got is want, where
    elif isinstance(want, float):
        assert isinstance(got, (int, float)) and not isinstance(got, bool) and got == want, where
    else:  # text: control characters are stored as Excel's _xHHHH_ escapes (openpyxl shows them as such)
        from openpyxl.utils.escape import unescape

        assert isinstance(got, str) and unescape(got) == want, where
        if not re.search(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_", want):
            assert got == want, where  # anything else is the very text


def _tricky_sheets() -> dict[str, pd.DataFrame]:
    frame = _tricky_frame()
    return {
        "tricky": frame,
        "empty rows": pd.DataFrame({"a": [None, 1, None], "b": [None, "x", None]}),
        "no rows": frame.iloc[0:0],
        "no columns": pd.DataFrame(index=range(3)),
        "late column": pd.DataFrame({"": [None, None], "b": [None, 2]}),
        "formula-like": pd.DataFrame(
            {
                "=A1": ["=1+1", "+1", "-1", "@SUM(A1)", '=HYPERLINK("http://x")', "'=x"],
                "<r>h</r>": ["<r><t>x</t></r>", "<r>", "</r>", "<f>1</f>", "&amp;", "]]>"],
            }
        ),
        "big": pd.DataFrame(
            {
                "id": [f"R{i}" for i in range(5_000)],
                "n": np.arange(5_000) % 7,
                "src": ["single", "agreed", "unresolved"] * 1_666 + ["single", "agreed"],
            }
        ),
    }


def test_xlsx_cells_read_back_as_the_values_written(tmp_path):
    """openpyxl (what pandas reads with) sees each value: text identical, numbers equal, missing empty."""
    import openpyxl

    sheets = _tricky_sheets()
    writers.write_xlsx(sheets, tmp_path / "x.xlsx")
    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    assert book.sheetnames == list(sheets)
    for name, df in sheets.items():
        ws = book[name]
        rows = list(ws.iter_rows(values_only=True))
        if df.shape[1]:
            assert list(rows[0]) == [str(c) for c in df.columns], name
            assert ws.freeze_panes == "A2" and ws.auto_filter.ref is not None, name
        body = [list(r) + [None] * (df.shape[1] - len(r)) for r in rows[1:]]
        body += [[None] * df.shape[1]] * (len(df) - len(body))
        assert len(body) == len(df), name
        for r in range(len(df)):
            for c in range(df.shape[1]):
                _assert_cell(body[r][c], _xlsx_expected(df.iat[r, c]), f"{name}[{r}, {df.columns[c]!r}]")
        for f in ws._cells.values():  # noqa: SLF001 - every stored cell: none is a formula
            assert f.data_type != "f", name


def test_xlsx_reads_back_with_pandas_read_excel(tmp_path):
    """The analyst's read: pd.read_excel (openpyxl) gives the values back, typed."""
    sheets = _tricky_sheets()
    writers.write_xlsx(sheets, tmp_path / "x.xlsx")
    got = pd.read_excel(tmp_path / "x.xlsx", sheet_name=None, engine="openpyxl", dtype=object)
    for name in ("tricky", "formula-like", "big"):  # (a trailing row of empty cells is no row to pandas)
        df, back = sheets[name], got[name]
        assert back.shape == df.shape, name
        for r in range(len(df)):
            for c in range(df.shape[1]):
                want, cell = _xlsx_expected(df.iat[r, c]), back.iat[r, c]
                if want is None or want == "":  # an empty text cell is missing to pandas too
                    assert pd.isna(cell), (name, r, c)
                else:
                    _assert_cell(cell, want, f"{name}[{r}, {c}]")
    assert got["big"]["n"].tolist() == (np.arange(5_000) % 7).tolist()
    assert got["tricky"]["mixed"].tolist()[:3] == [3, "3", 3]  # "3" stays text; 3 and 3.0 the number 3


# ---- the data layer: final values, record tables, agreement input ---------------------------

CODEBOOK = """
id: tricky
title: Tricky values
version: "1"
fields:
  - name: kind
    label: Kind
    level: record
    type: nominal
    choices: {1: One, 2: Two, 3: Three}
  - name: n
    label: A count
    level: record
    type: count
  - name: size
    label: A number
    level: record
    type: numeric
  - name: remark
    label: Remark
    level: record
    type: text
  - name: seen
    label: Seen on
    level: record
    type: date
  - name: visit
    label: Visit
    level: note
    type: nominal
    choices: {1: First, 2: Later}
"""


@pytest.fixture
def tricky(tmp_path):
    """Codes written straight into the table: mixed types, disagreements, consensus, blocked records."""
    s = Store.create(
        tmp_path / "t.db",
        load_codebook("t.yaml", text=CODEBOOK),
        coders=[("a", "coder"), ("b", "coder"), ("c", "coder"), ("lead", "lead")],
    )
    ids = [f"R{i}" for i in range(1, 9)]
    s.add_records(ids)
    with s._write() as db:
        db.conn.execute(
            "INSERT INTO notes(note_id, record_id, note_date, note_type, text, content_sha) VALUES"
            " ('R1-N1', 'R1', '2024-01-01', 'visit', 't', 'a'), ('R1-N2', 'R1', '2024-02-01', 'visit', 't', 'b'),"
            " ('R2-N1', 'R2', '2024-01-05', 'phone', 't', 'c')"
        )
    for coder in ("a", "b", "c"):
        s.assign(coder, ids)
    h = s._db.execute("SELECT hash FROM codebooks").fetchone()[0]
    rows = [  # coder, record, note_key, field, submitted value
        ("a", "R1", "", "kind", 3),
        ("b", "R1", "", "kind", 3.0),
        ("c", "R1", "", "kind", "3"),
        ("a", "R2", "", "kind", 2),
        ("b", "R2", "", "kind", 2.0),
        ("a", "R3", "", "kind", 1),
        ("b", "R3", "", "kind", 2),
        ("a", "R4", "", "kind", True),
        ("a", "R5", "", "kind", "x"),
        ("a", "R1", "", "n", 4),
        ("b", "R1", "", "n", 4),
        ("a", "R2", "", "n", 2.5),
        ("b", "R2", "", "n", "2"),
        ("a", "R3", "", "n", b"\x01"),
        ("b", "R3", "", "n", "z"),
        ("c", "R3", "", "n", 7),
        ("a", "R6", "", "n", 10**18),
        ("b", "R6", "", "n", 10**18 + 1),
        ("a", "R1", "", "size", 1.25),
        ("b", "R1", "", "size", 1.25),
        ("a", "R2", "", "size", -0.0),
        ("b", "R2", "", "size", 0.0),
        ("a", "R7", "", "size", 7),
        ("a", "R4", "", "n", "7"),
        ("a", "R1", "", "remark", "é"),
        ("b", "R1", "", "remark", "e"),
        ("a", "R2", "", "remark", ""),
        ("a", "R1", "", "seen", "2024-01-02"),
        ("b", "R1", "", "seen", "2024-01-05T10:00"),
        ("a", "R2", "", "seen", "not a date"),
        ("a", "R1", "R1-N1", "visit", 1),
        ("b", "R1", "R1-N1", "visit", 2),
        ("a", "R1", "R1-N2", "visit", 2),
        ("a", "R2", "R2-N1", "visit", 1),
        ("a", "R1", "", "retired", "old"),
        ("ghost", "R5", "", "kind", 1),
        ("a", "R8", "", "kind", 1),
        ("b", "R8", "", "kind", 2),  # R8: c has not submitted
    ]
    with s._write() as db:
        db.conn.execute("INSERT INTO coders(name, role, added_at) VALUES ('ghost', 'coder', 'now')")
        for coder, rid, key, fname, v in rows:
            db.conn.execute(
                "INSERT INTO codes(coder, record_id, note_key, field, value, submitted_value, submitted_at,"
                " codebook_hash, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'then', ?, 'then')",
                [coder, rid, key, fname, v, v, h],
            )
        db.conn.execute(
            "UPDATE assignments SET submitted_at = 'then', status = 'done' WHERE NOT (coder = 'c' AND record_id = 'R8')"
        )
        db.conn.execute(
            "UPDATE codes SET memo = 'unsure' WHERE (record_id = 'R2' AND field IN ('n', 'size'))"
            " OR (record_id = 'R1' AND coder = 'b')"
        )
        db.conn.execute("UPDATE codes SET memo = '' WHERE record_id = 'R6' AND coder = 'a'")
        for rid, fname, v in (
            ("R3", "kind", 2),
            ("R3", "n", None),
            ("R1", "visit", 1),
            ("R6", "size", 5),
            ("R6", "n", None),
        ):
            key = "R1-N1" if fname == "visit" else ""
            db.conn.execute(
                "INSERT INTO consensus(record_id, note_key, field, value, reason, decided_by, decided_at,"
                " codebook_hash) VALUES (?, ?, ?, ?, 'r', 'lead', 'then', ?)",
                [rid, key, fname, v, h],
            )
    yield s
    s.close()


def _finals_reference(store) -> pd.DataFrame:
    rows = final_rows(store)
    df = pd.DataFrame(rows, columns=["record_id", "note_key", "field", "n", "lo", "hi", "consensus"], dtype=object)
    has_consensus = df["consensus"].notna().to_numpy(dtype=bool)
    same = (df["lo"] == df["hi"]).to_numpy(dtype=bool)
    single = (df["n"] == 1).to_numpy(dtype=bool)
    df["value"] = np.where(has_consensus, df["consensus"], np.where(same, df["lo"], None))
    df["source"] = np.select([has_consensus, same & single, same], ["consensus", "single", "agreed"], "unresolved")
    return df[["record_id", "note_key", "field", "value", "source"]]


def _assert_same_objects(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b)
    for col in a.columns:
        assert [type(x) for x in a[col]] == [type(x) for x in b[col]], col
        assert [repr(x) for x in a[col]] == [repr(x) for x in b[col]], col


def test_finals_match_the_sql_rule(tricky):
    _assert_same_objects(dataset.finals(tricky), _finals_reference(tricky))


def test_finals_of_an_empty_audit(tmp_path):
    s = Store.create(tmp_path / "e.db", load_codebook("t.yaml", text=CODEBOOK), coders=[("a", "coder")])
    try:
        _assert_same_objects(dataset.finals(s), _finals_reference(s))
        assert agreement.collect(s)[0].matrix.shape == (0, 0)
        _assert_same_objects(dataset.records_frame(s, sources=True), _records_reference(s, True))
    finally:
        s.close()


def _records_reference(store, sources: bool) -> pd.DataFrame:
    """records_frame as pivot + reindex + per-cell _cells/_column."""
    values = _finals_reference(store)
    ids = store.record_ids()
    rec = values[values["note_key"] == ""]

    def pivot(column):
        if rec.empty:
            return pd.DataFrame(columns=["record_id"])
        return rec.pivot(index=["record_id"], columns="field", values=column).reindex(ids)

    def cells(table, name):
        if name not in table.columns:
            return [None] * len(ids)
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in table[name].tolist()]

    val, src = pivot("value"), pivot("source")
    data = {"record_id": ids}
    for f in store.codebook.record_fields:
        data[f.name] = dataset._column(cells(val, f.name), f.type)
        if sources:
            data[f.name + dataset.SOURCE_SUFFIX] = cells(src, f.name)
    return pd.DataFrame(data)


@pytest.mark.parametrize("sources", [False, True])
def test_records_frame_matches_pivot_and_per_cell_cleaning(tricky, sources):
    frame = dataset.records_frame(tricky, sources=sources)
    _assert_same_objects(frame, _records_reference(tricky, sources))
    frame.loc[0, "record_id"] = "changed"  # callers get a copy of the cached frame
    assert dataset.records_frame(tricky, sources=sources).loc[0, "record_id"] == "R1"


def _collect_reference(store) -> list[agreement.Ratings]:
    """collect as it was: one SQL read, a groupby per field, MultiIndex units; only records every
    assigned coder has submitted (the blinding rule's "record closed" clause)."""
    cb = store.codebook
    order = {c["name"]: i for i, c in enumerate(store.coders())}
    frame = pd.DataFrame(
        store._db.execute(
            "SELECT field, record_id, note_key, coder, submitted_value FROM codes"
            " WHERE submitted_at IS NOT NULL AND submitted_value IS NOT NULL"
            " AND record_id NOT IN (SELECT record_id FROM assignments WHERE submitted_at IS NULL)"
        ).fetchall(),
        columns=["field", "record_id", "note_key", "coder", "value"],
        dtype=object,
    )
    groups = {name: g for name, g in frame.groupby("field", sort=False)} if len(frame) else {}
    out = []
    for fld in cb.fields:
        g = groups.get(fld.name, frame.iloc[0:0])
        coders = sorted(set(g["coder"]), key=lambda c: (order.get(c, len(order)), c))
        keys = pd.MultiIndex.from_arrays([g["record_id"].to_numpy(), g["note_key"].to_numpy()])
        unit_index = keys.unique().sort_values() if len(g) else keys
        units = list(unit_index)
        matrix = np.full((len(units), len(coders)), np.nan)
        categories, unreadable = [], 0
        if len(g):
            u = unit_index.get_indexer(keys)
            c = pd.Index(coders).get_indexer(g["coder"])
            if fld.type == "text":
                text = g["value"].map(str)
                categories = sorted(set(text))
                x = text.map({k: float(i) for i, k in enumerate(categories)}).to_numpy(dtype=float)
            elif fld.has_choices:
                x = g["value"].map({code: float(i) for i, code in enumerate(fld.rating_codes)}).to_numpy(dtype=float)
            elif fld.type in ("count", "numeric"):  # (a copy: pandas' own array can be read-only)
                x = np.array(pd.to_numeric(g["value"], errors="coerce"), dtype=float)
                x[~np.isfinite(x)] = np.nan
            else:
                x = np.array(
                    [np.nan if (e := agreement.encode_value(fld, v)) is None else e for v in g["value"]], dtype=float
                )
            ok = ~np.isnan(x)
            unreadable = int((~ok).sum())
            if fld.missing_codes:
                unreadable -= int(g["value"].isin(fld.missing_codes).sum())
            matrix[u[ok], c[ok]] = x[ok]
        out.append(agreement.Ratings(fld, units, coders, matrix, categories, unreadable))
    return out


def test_agreement_collect_matches_the_groupby_reference(tricky):
    got, want = agreement.collect(tricky), _collect_reference(tricky)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert (a.field.name, a.units, a.coders, a.categories, a.unreadable) == (
            b.field.name,
            b.units,
            b.coders,
            b.categories,
            b.unreadable,
        )
        assert np.array_equal(a.matrix, b.matrix, equal_nan=True), a.field.name
    one = agreement.collect(tricky, "kind")
    assert len(one) == 1 and np.array_equal(one[0].matrix, want[0].matrix, equal_nan=True)


def test_open_disagreements_match_consensus_disagreements(tricky):
    want = disagreements(tricky)
    assert want and any(u.memos for u in want) and any(u.consensus_reason for u in want)
    got = dataset.open_disagreements(tricky)
    assert got == want
    assert [list(u.values) for u in got] == [list(u.values) for u in want]
    assert [[type(v) for v in u.values.values()] for u in got] == [[type(v) for v in u.values.values()] for u in want]
