"""A sheet written from several tables of the same columns, one after another (chartcode.export.xlsx
book / Sheet.add), is the sheet one table of all their rows writes: widths fitted to every row, the
autofilter over all of them; tables of other columns, or rows after the sheet is finished, are refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from chartcode.export import xlsx as xl

TABLE = pd.DataFrame(
    {
        "id": [f"R{i}" for i in range(30)],
        "text": ["short", None, "a much longer value than the others", "=1+1", "<r>x</r>"] * 6,
        "n": pd.array([i if i % 3 else None for i in range(30)], dtype="Int64"),
    }
)


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


@pytest.mark.parametrize("parts", [1, 2])
def test_a_sheet_from_several_tables_is_the_sheet_of_one(tmp_path, parts):
    xl.write_workbook({"t": TABLE, "after": TABLE.head(3)}, tmp_path / "one.xlsx", parts=parts)
    with xl.book(tmp_path / "pieces.xlsx") as b:
        sheet = b.sheet("t")
        for start, stop in [(0, 7), (7, 7), (7, 20), (20, 30)]:  # an empty piece too
            sheet.add(TABLE.iloc[start:stop], parts)
        b.sheet("after").add(TABLE.head(3), parts)
    assert _parts(tmp_path / "pieces.xlsx") == _parts(tmp_path / "one.xlsx")
    assert (tmp_path / "pieces.xlsx").stat().st_mode & 0o777 == 0o600


def test_a_table_of_other_columns_or_after_the_end_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError, match="other columns"), xl.book(tmp_path / "x.xlsx") as b:
        sheet = b.sheet("t")
        sheet.add(TABLE.head(2))
        sheet.add(TABLE[["id", "n", "text"]].head(2))
    with pytest.raises(ValueError, match="finished"), xl.book(tmp_path / "x.xlsx") as b:
        sheet = b.sheet("t")
        sheet.add(TABLE.head(2))
        sheet.finish()
        sheet.add(TABLE.head(2))
    assert list(tmp_path.iterdir()) == []


def test_rows_beyond_a_sheet_across_tables_are_a_user_error(tmp_path, monkeypatch):
    from chartcode.errors import UserError

    monkeypatch.setattr(xl, "ROWS_MAX", 5)
    with pytest.raises(UserError, match="'t' table has 6 rows"), xl.book(tmp_path / "x.xlsx") as b:
        sheet = b.sheet("t")
        sheet.add(TABLE.head(3))
        sheet.add(TABLE.head(3))
    assert list(tmp_path.iterdir()) == []
