"""XLSX workbooks written cell by cell through XlsxWriter's own typed API.

    write_workbook(sheets, path)   one sheet per table

Every cell goes through ``write_string``, ``write_number`` or ``write_boolean`` (chosen once
per distinct value of a column, not per cell); missing values (None, NaN, pd.NA, NaT) leave
the cell empty. No sheet XML is built here: XlsxWriter escapes and writes it.

Text is text, stored exactly as entered: never a formula (``write_string`` cannot make one,
so no apostrophe is added to text starting with = + - @; CSV keeps that guard), XML
specials escaped by XlsxWriter. Control characters (U+0000-U+001F but tab and newline, and
U+FFFE/U+FFFF), which XML cannot hold, are stored as XlsxWriter stores them: Excel's
``_xHHHH_`` escapes (text that itself reads ``_xHHHH_`` gets its underscore escaped,
``_x005F_xHHHH_``). Excel shows the characters; openpyxl, and so pandas, return the escapes
as written (``openpyxl.utils.escape.unescape`` turns them back). One XlsxWriter
rule needs care: a string that starts with ``<r>`` and ends with ``</r>`` is taken by
``write_string`` as rich-string XML and written raw -- a memo of that shape could close the
cell and plant a formula. Such text is written with ``write_rich_string`` as three plain
fragments (XlsxWriter escapes each), so the cell reads back as the same text. Text longer
than Excel's limit of 32,767 characters (UTF-16 units) is cut to the limit, as XlsxWriter's
``write_string`` does; the cut is made here first, so the rule above sees what is stored.

A table longer or wider than a sheet (1,048,575 rows under the header, 16,384 columns) is a
UserError naming it, not a workbook silently missing the rest.

Numbers are numbers (``.16G``, as XlsxWriter writes them); infinities, which a cell cannot
hold as a number, are the text ``inf`` / ``-inf`` (as in CSV exports). Booleans are booleans.
Anything else is ``str(value)``.

For people: a bold header row, frozen; an autofilter over the table; column widths fitted
to the longest header or value of each column (once per distinct value), capped.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chartcode.dataset import distinct
from chartcode.errors import UserError

STR_MAX = 32767  # Excel's limit on a cell's text, in UTF-16 units
WIDTH_MIN, WIDTH_MAX = 8.43, 60.0  # Excel's default column width; the widest a fitted column gets
FILTER_ROOM = 3  # the header's autofilter button and bold text
_NUMBER = (int, float, np.integer, np.floating)
_OPTIONS = {
    "constant_memory": True,  # rows go to disk as they are written: memory stays flat
    # write() conversions, off should anything ever reach write(): text stays text
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

BLOCK_ROWS = 10_000  # rows whose cell writers are looked up at a time
ROWS_MAX, COLS_MAX = 1_048_576, 16_384  # Excel's sheet size (XlsxWriter drops cells beyond it)

# how a value is written: the index of its sheet method in _write_sheet's writers, and its argument
STRING, NUMBER, BOOLEAN, RICH = range(4)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _truncate(text: str) -> str:
    """``text`` cut to STR_MAX UTF-16 units without splitting a character (XlsxWriter's rule)."""
    if len(text) <= STR_MAX // 2 or _utf16_len(text) <= STR_MAX:
        return text
    length = 0
    for i, ch in enumerate(text):
        length += 2 if ord(ch) > 0xFFFF else 1
        if length > STR_MAX:
            return text[:i]
    return text


def text_cell(text: str) -> tuple[int, Any]:
    """(method, argument) that stores ``text`` as that text."""
    text = _truncate(text)
    if text.startswith("<r>") and text.endswith("</r>"):  # write_string would write it as raw XML
        return RICH, ("<", text[1:-1], ">")  # three non-empty fragments (the least write_rich_string takes)
    return STRING, text


def cell(value: Any) -> tuple[int, Any] | None:
    """(method, argument) for one value; None leaves the cell empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return BOOLEAN, bool(value)
    if isinstance(value, _NUMBER):
        number = value.item() if isinstance(value, (np.integer, np.floating)) else value
        if isinstance(number, float) and not math.isfinite(number):
            return None if math.isnan(number) else text_cell("inf" if number > 0 else "-inf")
        return NUMBER, number
    return text_cell(value if isinstance(value, str) else str(value))


def _shown_len(method: int, arg: Any) -> int:
    """About how many characters wide a cell shows (its longest line)."""
    if method == BOOLEAN:
        return 5
    if method == NUMBER:
        return min(len(f"{arg:.10G}"), 12)  # Excel's General format shows at most about 11 digits
    text = "".join(arg) if method == RICH else arg
    return max(len(line) for line in text.split("\n")) if "\n" in text else len(text)


def _column(series: pd.Series, writers: list[Callable]) -> tuple[list, list, float]:
    """(writer per row, its argument per row, longest shown value) of a column; writer None = empty."""
    methods, args, codes, longest = _column_codes(series, writers)
    return methods[codes].tolist(), args[codes].tolist(), longest


def _column_codes(series: pd.Series, writers: list[Callable]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(writer per distinct value, its argument per distinct value, each row's distinct value, longest
    shown value) of a column; writer None = empty. The rows hold only a small int each: the writers
    and arguments of a block of rows are looked up as the block is written (:func:`_write_sheet`)."""
    codes, reps = distinct(series)
    cells = [cell(v) for v in reps]
    longest = max((_shown_len(*c) for c in cells if c is not None), default=0)
    methods = np.empty(len(cells) + 1, dtype=object)  # (filled, not built from a list: numpy would
    args = np.empty(len(cells) + 1, dtype=object)  # unpack the rich fragments' tuples)
    for i, c in enumerate(cells):
        if c is not None:
            methods[i], args[i] = writers[c[0]], c[1]
    small = np.int32 if len(cells) < 2**31 - 1 else np.int64
    return methods, args, codes.astype(small), float(longest)


def _width(header: str, longest: float) -> float:
    return min(max(WIDTH_MIN, len(header) + FILTER_ROOM, longest + 1), WIDTH_MAX)


def check_size(sheets: dict[str, pd.DataFrame]) -> None:
    """A UserError for a table a sheet cannot hold whole (rather than a workbook missing rows)."""
    for name, df in sheets.items():
        if len(df) + 1 > ROWS_MAX or df.shape[1] > COLS_MAX:
            raise UserError(
                f"the {name!r} table has {len(df):,} rows and {df.shape[1]:,} columns; an Excel"
                f" sheet holds {ROWS_MAX - 1:,} rows under its header and {COLS_MAX:,} columns"
                " (export it as csv)"
            )


def _write_sheet(sheet, df: pd.DataFrame, bold) -> None:
    n_rows, n_cols = df.shape
    # The body cells go to the typed writers behind XlsxWriter's public ones: write_string() is
    # _write_string() behind a decorator that only turns "A1" notation into (row, col), which these
    # calls never use; skipping it is a fifth of the export's time on 100k records
    # (bench/report.py). The bytes are still XlsxWriter's own; a release without them falls back.
    writers: list[Callable] = [
        getattr(sheet, "_write_string", sheet.write_string),
        getattr(sheet, "_write_number", sheet.write_number),
        getattr(sheet, "_write_boolean", sheet.write_boolean),
        lambda r, c, fragments: sheet.write_rich_string(r, c, *fragments),
    ]
    headers = [str(c) for c in df.columns]
    columns = []
    for c, header in enumerate(headers):
        method, arg = text_cell(header)
        if method == RICH:
            sheet.write_rich_string(0, c, *arg, bold)
        else:
            sheet.write_string(0, c, arg, bold)
        methods, args, codes, longest = _column_codes(df.iloc[:, c], writers)
        sheet.set_column(c, c, _width(header, longest))
        columns.append((c, methods, args, codes))
    if n_cols:
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, n_rows, n_cols - 1)
    if not n_rows or not n_cols:
        return
    index = [c for c, _, _, _ in columns]
    for start in range(0, n_rows, BLOCK_ROWS):  # rows in order, as constant_memory requires
        stop = min(start + BLOCK_ROWS, n_rows)
        block_methods = [m[k[start:stop]].tolist() for _, m, _, k in columns]
        block_args = [a[k[start:stop]].tolist() for _, _, a, k in columns]
        for r, (row_methods, row_args) in enumerate(
            zip(zip(*block_methods, strict=True), zip(*block_args, strict=True), strict=True), start=start + 1
        ):
            for c, write, arg in zip(index, row_methods, row_args, strict=True):
                if write is not None:
                    write(r, c, arg)


def _rows_file_write_only(sheet) -> bool:
    """Reopen a new constant_memory sheet's temporary row file for writing only; True if done.

    XlsxWriter opens that file for reading and writing ("w+"), and a text file open for reading
    resets its decoder on every write: a Python-level call per write, two writes per cell (a
    tenth of the cells' cost, cProfile on 100k records). The rows are only written until the
    workbook closes, so the file is opened "w" instead (nothing is in it yet). Once the sheet is
    done, XlsxWriter's own ``_opt_close`` closes it -- as ``Workbook.close`` does for every sheet
    -- and at close XlsxWriter reopens it ("a+") for its last row and reads it back as always.
    The bytes written are XlsxWriter's either way; a release without these attributes keeps its
    own file handle.
    """
    fh = getattr(sheet, "row_data_fh", None)
    name = getattr(sheet, "row_data_filename", None)
    if (
        fh is None
        or name is None
        or sheet.fh is not fh
        or getattr(sheet, "row_data_fh_closed", True)
        or not callable(getattr(sheet, "_opt_close", None))
        or fh.tell() != 0
    ):
        return False
    fh.close()
    sheet.row_data_fh = sheet.fh = open(name, "w", encoding="utf-8")  # noqa: SIM115 (XlsxWriter closes it)
    return True


def write_workbook(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """Write ``sheets`` (name -> table) to ``path``: nothing at ``path`` until the whole workbook is
    written (it is built in a private folder beside it and moved into place), and XlsxWriter's
    temporary row files go in that folder and are removed with it, whatever happens."""
    import xlsxwriter

    check_size(sheets)
    path = Path(path)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".chartcode-xlsx-", ignore_cleanup_errors=True) as tmp:
        part = Path(tmp) / "book.xlsx"
        book = xlsxwriter.Workbook(str(part), {**_OPTIONS, "tmpdir": tmp})
        try:
            bold = book.add_format({"bold": True})
            for name, df in sheets.items():
                sheet = book.add_worksheet(name)
                reopened = _rows_file_write_only(sheet)
                try:
                    _write_sheet(sheet, df, bold)
                finally:
                    if reopened:
                        sheet._opt_close()
        except BaseException:
            # close its files (the half-written workbook goes with the folder); the first error
            # is the one to report
            with contextlib.suppress(Exception):
                book.close()
            raise
        book.close()
        os.chmod(part, 0o600)  # owner-only before it leaves the private folder (chartcode.files)
        os.replace(part, path)
