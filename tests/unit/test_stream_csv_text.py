"""The streamed csv export writes each span's rows column by column, each column's text made once per
distinct value (chartcode.export.stream._write_rows); the bytes are what writers.csv_rows (the
formula guard, then pandas' to_csv) writes for the same frame: quoting, the guard, missing cells,
values of different types that compare equal, and the frames it leaves to pandas."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from chartcode.export import stream, writers

TRICKY = [
    1, 1.0, True, False, None, np.nan, pd.NA, "a,b", 'x"y', "line\nbreak", "cr\rx", "", " lead", "trail ",
    "=SUM(A1)", "+1", "-2", "@x", "\tt", "\rr", "é ü", 1.5e-10, -0.0, 0.0, 12345678901234567890, b"by", "'q",
    '"', ",", "x\n", 2**53 + 1, 3.141592653589793, "NaN", "None", -8, "\u00a0nbsp",
]  # fmt: skip


def _frame() -> pd.DataFrame:
    n = len(TRICKY)
    ints = [1, None, -8, 0, 2**40, -888]
    words = ["a", None, "=x", "b,c", "", 'q"', " s", "-1"]
    return pd.DataFrame(
        {
            "record_id": pd.Series([f"R{i:03d}" for i in range(n)], dtype="str"),
            "mixed": pd.Series(TRICKY, dtype=object),
            "count": pd.Series([ints[i % len(ints)] for i in range(n)], dtype="Int64"),
            "source": pd.Series([words[i % len(words)] for i in range(n)], dtype="str"),
            "blank": pd.Series([None] * n, dtype=object),
            "odd, name": pd.Series(range(n), dtype="Int64"),
        }
    )


def _both(frame: pd.DataFrame, header: bool) -> tuple[str, str]:
    want, got = io.StringIO(), io.StringIO()
    writers.csv_rows(frame, want, header=header)
    stream._write_rows(frame, got, header=header)
    return got.getvalue(), want.getvalue()


@pytest.mark.parametrize("header", [True, False])
def test_rows_are_the_bytes_pandas_writes_with_the_formula_guard(header):
    got, want = _both(_frame(), header)
    assert got == want
    assert "'=SUM(A1)" in got  # the guard ran


@pytest.mark.parametrize("header", [True, False])
def test_a_frame_without_rows_writes_its_header_only(header):
    got, want = _both(_frame().iloc[:0], header)
    assert got == want


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": [1.5, None], "b": ["x", "y"]}),  # a float64 column
        pd.DataFrame({"a": ["", "x"]}),  # one column: csv writes a lone empty field as '""'
    ],
)
def test_other_frames_are_left_to_pandas(frame, monkeypatch):
    asked = []
    real = writers.csv_rows
    monkeypatch.setattr(writers, "csv_rows", lambda *a, **k: asked.append(1) or real(*a, **k))
    got = io.StringIO()
    stream._write_rows(frame, got, header=True)
    assert asked == [1]
    want = io.StringIO()
    real(frame, want, header=True)
    assert got.getvalue() == want.getvalue()
