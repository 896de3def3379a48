"""The workbook's zip is deflated at chartcode.export.xlsx.ZIP_LEVEL (fast: the zip is the serial
stage after every cell): the parts inside are exactly the XML XlsxWriter's own close writes at its
default level, the file opens in openpyxl, and XlsxWriter's ZipFile is its own again afterwards,
also when the close fails."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest
import xlsxwriter.exceptions
import xlsxwriter.workbook

from chartcode.export import xlsx


def _sheets():
    n = 3000
    return {
        "records": pd.DataFrame({"record_id": [f"R{i:05d}" for i in range(n)], "age": range(n), "memo": ["text"] * n}),
        "audit": pd.DataFrame({"item": ["history_entries"], "value": ["3"]}),
    }


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _sizes(path: Path) -> dict[str, int]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: i.compress_size for i in z.infolist()}


def test_the_fast_zip_holds_the_parts_the_default_one_does(tmp_path, monkeypatch):
    xlsx.write_workbook(_sheets(), tmp_path / "fast.xlsx")
    monkeypatch.setattr(xlsx, "close", lambda book: book.close())  # XlsxWriter's own level
    xlsx.write_workbook(_sheets(), tmp_path / "default.xlsx")
    assert _parts(tmp_path / "fast.xlsx") == _parts(tmp_path / "default.xlsx")
    sheet = "xl/worksheets/sheet1.xml"
    assert _sizes(tmp_path / "fast.xlsx")[sheet] > _sizes(tmp_path / "default.xlsx")[sheet]  # level 1, not 6
    with zipfile.ZipFile(tmp_path / "fast.xlsx") as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    back = pd.read_excel(tmp_path / "fast.xlsx", sheet_name="records", engine="openpyxl")
    assert back["age"].tolist() == list(range(3000))
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile


def test_xlsxwriter_zipfile_is_its_own_again_after_a_failed_close(tmp_path, monkeypatch):
    def fail(self):
        raise OSError("disk full")

    monkeypatch.setattr(xlsxwriter.workbook.Workbook, "_store_workbook", fail)
    with pytest.raises(xlsxwriter.exceptions.FileCreateError, match="disk full"):
        xlsx.write_workbook(_sheets(), tmp_path / "out.xlsx")
    assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile
    assert not (tmp_path / "out.xlsx").exists()
