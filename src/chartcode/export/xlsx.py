"""Fast XLSX sheets: the cell XML XlsxWriter writes in constant-memory mode, built per column.

XlsxWriter spends about 7 microseconds per cell in Python (a 100,000-record export has 3
million cells: over 20 s). Here XlsxWriter still writes the workbook -- parts, styles, the
bold header row of every sheet -- and the body rows are then spliced into each sheet's
``<sheetData>``: the same ``<row>``/``<c>`` XML XlsxWriter writes (inline strings, numbers
as ``.16G``, booleans ``t="b"``), built once per distinct value of a column and per cell
only as a string join. tests/unit/test_perf_equivalence.py checks the sheets byte for byte
against XlsxWriter's own per-cell output.

Cell rules (as the per-cell writer had them): None, pd.NA and float NaN leave the cell
empty; bools are booleans; ints and floats numbers; anything else ``str(value)``.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from chartcode.dataset import distinct

STR_MAX = 32767  # Excel's limit, in UTF-16 units (XlsxWriter truncates longer strings)
CHUNK_ROWS = 20_000  # rows joined and compressed at a time (bounds memory)
# zlib level of the spliced sheets: level 1 compresses 128 MB of sheet XML in 0.5 s (level 6, the
# default: 3 s) for a file about 30% larger; the cells are the same
BODY_LEVEL = 1
_CONTROL_ESCAPED = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_LEADING_SPACE = re.compile(r"^\s")
_TRAILING_SPACE = re.compile(r"\s$")
_NUMBER = (int, float, np.integer, np.floating)
# anything _string_tail would change: XML specials, control characters, _xHHHH_ escapes, the
# non-characters, leading or trailing whitespace (a rich string starts with "<", a special)
_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$")


def _truncate(text: str) -> str:
    if len(text) <= STR_MAX // 2 or len(text.encode("utf-16-le", "surrogatepass")) // 2 <= STR_MAX:
        return text
    length = 0
    for i, ch in enumerate(text):
        length += 2 if ord(ch) > 0xFFFF else 1
        if length > STR_MAX:
            return text[:i]
    return text


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _string_tail(text: str) -> str:
    """What follows ``<c r="A1"`` for an inline string cell, as XlsxWriter writes it."""
    if len(text) <= STR_MAX // 2 and not _SPECIAL.search(text):  # nothing to escape (most values)
        return f' t="inlineStr"><is><t>{text}</t></is></c>'
    text = _CONTROL_ESCAPED.sub(r"_x005F\1", _truncate(text))
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    if text.startswith("<r>") and text.endswith("</r>"):
        return f' t="inlineStr"><is>{text}</is></c>'
    preserve = ' xml:space="preserve"' if _LEADING_SPACE.search(text) or _TRAILING_SPACE.search(text) else ""
    return f' t="inlineStr"><is><t{preserve}>{_escape(text)}</t></is></c>'


def cell_tail(value: Any) -> str | None:
    """The cell XML after its reference for one value; None for an empty cell."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return f' t="b"><v>{int(bool(value))}</v></c>'
    if isinstance(value, _NUMBER):
        if math.isnan(value) or math.isinf(value):
            raise TypeError("NAN/INF not supported in write_number() without 'nan_inf_to_errors' Workbook() option")
        return f"><v>{value:.16G}</v></c>"
    return _string_tail(str(value))


def _column_tails(series: pd.Series) -> np.ndarray:
    """cell_tail of every row (object array, None = empty), computed once per distinct value."""
    codes, reps = distinct(series)
    tails = np.array([cell_tail(v) for v in reps] + [None], dtype=object)[codes]
    missing = np.flatnonzero(codes < 0)
    if len(missing):  # pd.NaT and the like are missing to pandas but written as text
        values = series.iloc[missing].tolist()
        tails[missing] = [cell_tail(v) for v in values]
    return tails


@dataclass
class Body:
    """A sheet's rows after the header: XML chunks, and the rows and columns that got a cell."""

    chunks: Iterator[str]
    rows: np.ndarray  # 0-based sheet rows written (the header is row 0)
    cols: np.ndarray  # 0-based columns with at least one body cell


def body_rows(df: pd.DataFrame) -> Body:
    """The ``<row>`` XML of ``df``'s rows as sheet rows 2.. (row 1 is the header)."""
    from xlsxwriter.utility import xl_col_to_name

    n = len(df)
    columns: list[tuple[str, np.ndarray, np.ndarray]] = []
    written = np.zeros(n, dtype=bool)
    used = []
    for c in range(df.shape[1]):
        tails = _column_tails(df.iloc[:, c])
        present = np.not_equal(tails, None) if n else np.zeros(0, dtype=bool)
        written |= present
        if present.any():
            used.append(c)
            columns.append((f'<c r="{xl_col_to_name(c)}', np.where(present, tails, ""), present))
    rows = np.flatnonzero(written)

    def chunks() -> Iterator[str]:
        # a rows x (columns + 2) grid of strings filled column by column with whole-array additions
        # (numpy object arrays: a C loop per column, not a Python step per cell), joined at once
        for start in range(0, n, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, n)
            keep = written[start:stop]
            numbers = np.array([f'{r}"' for r in range(start + 2, stop + 2)], dtype=object)[keep]
            grid = np.empty((len(numbers), len(columns) + 2), dtype=object)
            grid[:, 0] = '<row r="' + numbers + ">"
            grid[:, -1] = "</row>"
            for j, (prefix, tails, present) in enumerate(columns, start=1):
                grid[:, j] = prefix + numbers + tails[start:stop][keep]
                grid[~present[start:stop][keep], j] = ""
            yield "".join(grid.ravel().tolist())

    return Body(chunks(), rows + 1, np.array(used, dtype=np.int64))


def _sheet_paths(book: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the zip, from xl/workbook.xml and its relationships."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels.findall("p:Relationship", ns)}
    wb = ElementTree.fromstring(book.read("xl/workbook.xml"))
    out = {}
    for s in wb.findall("m:sheets/m:sheet", ns):
        target = targets[s.get(f"{{{ns['r']}}}id")]
        out[s.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


def _with_body(xml: str, body: Body) -> tuple[str, str]:
    """The sheet XML before and after the body rows, with <dimension> covering them (XlsxWriter's
    rule: the range of every written cell; a header-only sheet has the header's range)."""
    from xlsxwriter.utility import xl_cell_to_rowcol, xl_rowcol_to_cell

    if "<sheetData/>" in xml:
        xml = xml.replace("<sheetData/>", "<sheetData></sheetData>", 1)
        header: list[tuple[int, int]] = []
    else:
        m = re.search(r'<dimension ref="([^"]*)"/>', xml)
        header = [xl_cell_to_rowcol(c) for c in m.group(1).split(":")] if m else []
    rows = [*(r for r, _ in header), int(body.rows[0]), int(body.rows[-1])]
    cols = [*(c for _, c in header), int(body.cols[0]), int(body.cols[-1])]
    first, last = xl_rowcol_to_cell(min(rows), min(cols)), xl_rowcol_to_cell(max(rows), max(cols))
    ref = first if first == last else f"{first}:{last}"
    xml = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="{ref}"/>', xml, count=1)
    end = xml.rfind("</sheetData>")
    return xml[:end], xml[end:]


def splice(workbook: bytes, path, bodies: dict[str, Body]) -> None:
    """Write ``workbook`` (XlsxWriter's zip) to ``path`` with each sheet's body rows added."""
    with zipfile.ZipFile(io.BytesIO(workbook)) as src, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=BODY_LEVEL,
                            allowZip64=True) as out:
        parts = {part: name for name, part in _sheet_paths(src).items()}
        for info in src.infolist():
            data = src.read(info.filename)
            body = bodies.get(parts.get(info.filename, ""))
            if body is None or not len(body.rows):
                out.writestr(info, data)
                continue
            head, tail = _with_body(data.decode("utf-8"), body)
            with out.open(info.filename, "w", force_zip64=True) as fh:
                fh.write(head.encode("utf-8"))
                for chunk in body.chunks:
                    fh.write(chunk.encode("utf-8"))
                fh.write(tail.encode("utf-8"))
