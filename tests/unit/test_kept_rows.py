"""The xlsx export keeps each span's analysis rows until every span is made; it keeps them narrow
(chartcode.export.stream.kept_rows: Int64 columns in the narrowest nullable int holding them) and
joins them back (joined_rows) to exactly what pd.concat of the rows as made gives: values, missing
values and dtypes, whatever the spans hold."""

from __future__ import annotations

import pandas as pd
import pytest

from chartcode.export.stream import joined_rows, kept_rows


def _part(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


CASES = {
    "small codes": [
        _part(a=pd.array([0, 1, None], dtype="Int64"), b=["R1", "R2", "R3"]),
        _part(a=pd.array([2, None, 9], dtype="Int64"), b=["R4", "R5", "R6"]),
    ],
    "widths differ by span": [
        _part(a=pd.array([1, 2], dtype="Int64")),
        _part(a=pd.array([300, -40_000], dtype="Int64")),
        _part(a=pd.array([2**40, None], dtype="Int64")),  # too wide for Int32: kept Int64
    ],
    "a span of blanks only": [
        _part(a=pd.array([None, None], dtype="Int64")),
        _part(a=pd.array([5, 127], dtype="Int64")),
    ],
    "a column of other dtypes in another span": [
        _part(a=pd.array([1, None], dtype="Int64"), x=[0.5, 1.5]),
        _part(a=pd.Series(["90+", 3], dtype=object), x=[2.5, None]),
    ],
    "no rows": [
        _part(a=pd.array([], dtype="Int64")),
        _part(a=pd.array([-128, 127], dtype="Int64")),
    ],
    "one span": [_part(a=pd.array([1, None, -(2**63)], dtype="Int64"), f=[True, False, True])],
}


@pytest.mark.parametrize("name", list(CASES))
def test_joined_rows_are_the_concatenated_rows(name):
    parts = CASES[name]
    want = pd.concat(parts, ignore_index=True)
    got = joined_rows([kept_rows(p) for p in parts])
    pd.testing.assert_frame_equal(got, want)
    for col in want.columns:  # equal is not enough: the Python type of each value too
        assert [(type(v), repr(v)) for v in got[col].tolist()] == [(type(v), repr(v)) for v in want[col].tolist()]


def test_kept_rows_are_narrow_and_the_frame_as_made_is_left_alone():
    part = _part(a=pd.array([1, 2, None], dtype="Int64"), b=pd.array([70_000, 1, 2], dtype="Int64"))
    kept, narrowed = kept_rows(part)
    assert (str(kept["a"].dtype), str(kept["b"].dtype)) == ("Int8", "Int32")
    assert narrowed == {"a": "Int64", "b": "Int64"}
    assert str(part["a"].dtype) == "Int64"  # a copy was narrowed, not the caller's frame
    assert kept.memory_usage(deep=True).sum() < part.memory_usage(deep=True).sum()
