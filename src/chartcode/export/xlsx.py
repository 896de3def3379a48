"""XLSX workbooks written cell by cell through XlsxWriter's own typed API.

    write_workbook(sheets, path)          one sheet per table
    with book(path) as b:                 a sheet written from several tables of the same columns,
        b.sheet(name).add(table) ...      one after another (e.g. record span by record span)

The rows of a large table are written by as many processes as there are CPUs (a forked child per
run of rows, on a copy of the same XlsxWriter sheet; see "the body of a large sheet" below): the
workbook is byte for byte the one a single process writes.

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
import gc
import json
import math
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeAlias

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


class Spans:
    """Several sheets written together, span by span: ``make()`` yields, per span, one table for each
    of ``names`` (same columns span after span); each sheet holds its tables' rows one after another,
    so no table of every row need ever exist (:func:`write_workbook`)."""

    def __init__(self, names: tuple[str, ...], make: Callable[[], Iterator[tuple[pd.DataFrame, ...]]]) -> None:
        self.names = names
        self.make = make


Table: TypeAlias = pd.DataFrame | Callable[[], pd.DataFrame] | Spans  # a sheet's table, what makes it, or spans
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


class _Columns:
    """A table's columns as the row writers take them (:func:`_column_codes` of each), and the longest
    shown value of each, made once, when first asked: by the one child that writes every row of the
    table (so the parent, busy making the next span, never makes them), or here for the rows this
    process writes (its own share, a failed child's, or the cuts between shares)."""

    def __init__(self, df: pd.DataFrame, writers: list[Callable]) -> None:
        self._df: pd.DataFrame | None = df
        self._writers = writers
        self._columns: list | None = None
        self.longest: list[float] = []

    @property
    def made(self) -> bool:
        return self._columns is not None

    def get(self) -> list:
        if self._columns is None:
            assert self._df is not None
            columns, longest = [], []
            for c in range(self._df.shape[1]):
                methods, args, codes, most = _column_codes(self._df.iloc[:, c], self._writers)
                columns.append((c, methods, args, codes))
                longest.append(most)
            self._columns, self.longest, self._df = columns, longest, None
        return self._columns


def _width(header: str, longest: float) -> float:
    return min(max(WIDTH_MIN, len(header) + FILTER_ROOM, longest + 1), WIDTH_MAX)


def check_size(sheets: dict[str, pd.DataFrame]) -> None:
    """A UserError for a table a sheet cannot hold whole (rather than a workbook missing rows)."""
    for name, df in sheets.items():
        _check_shape(name, len(df), df.shape[1])


def _check_shape(name: str, n_rows: int, n_cols: int) -> None:
    if n_rows + 1 > ROWS_MAX or n_cols > COLS_MAX:
        raise UserError(
            f"the {name!r} table has {n_rows:,} rows and {n_cols:,} columns; an Excel"
            f" sheet holds {ROWS_MAX - 1:,} rows under its header and {COLS_MAX:,} columns"
            " (export it as csv)"
        )


class Sheet:
    """One sheet of a :class:`Book`, written from one table or from several tables of the same
    columns one after another (:meth:`add`), their rows in order; :meth:`finish` sets what depends
    on every row (the fitted widths, the autofilter's range)."""

    def __init__(self, book: Book, name: str) -> None:
        self.name = name
        self._book = book
        self._sheet = sheet = book.xlsx.add_worksheet(name)
        self._reopened = _rows_file_write_only(sheet)
        self._headers: list[str] | None = None
        self._longest: list[float] = []
        self._finished = False
        self._pending: list[tuple[_Columns, Children, int]] = []  # children still writing tables' rows, oldest first
        self.rows = 0  # rows under the header so far
        # The body cells go to the typed writers behind XlsxWriter's public ones: write_string() is
        # _write_string() behind a decorator that only turns "A1" notation into (row, col), which
        # these calls never use; skipping it is a fifth of the export's time on 100k records
        # (bench/report.py). The bytes are still XlsxWriter's own; a release without them falls back.
        self._writers: list[Callable] = [
            getattr(sheet, "_write_string", sheet.write_string),
            getattr(sheet, "_write_number", sheet.write_number),
            getattr(sheet, "_write_boolean", sheet.write_boolean),
            lambda r, c, fragments: sheet.write_rich_string(r, c, *fragments),
        ]

    def add(self, df: pd.DataFrame, parts: int | None = None, *, here: bool = True) -> None:
        """``df``'s rows under those already written (the header from the first table; every later
        one must have the same columns). ``parts``: processes for its rows (default :func:`parts_for`).

        Returns once this process's share of the rows is written: the children's shares are taken
        when the sheet gets its next rows or is finished (:meth:`join`), so what this process does
        meanwhile (making the next table, another sheet) runs beside them. ``here=False``: this
        process writes none of the rows when it may fork -- ``parts - 1`` children write them all --
        for a caller with work of its own to do meanwhile (the next span of records to read); the
        children of the table before may then still be writing too (they are taken, in order, when
        the table after this one comes, or at :meth:`join`), so this process never waits for them
        while it has work of its own."""
        if self._finished:
            raise ValueError(f"sheet {self.name!r} is finished")
        headers = [str(c) for c in df.columns]
        if self._headers is None:
            self._headers = headers
            self._longest = [0.0] * len(headers)
            for c, header in enumerate(headers):
                method, arg = text_cell(header)
                if method == RICH:
                    self._sheet.write_rich_string(0, c, *arg, self._book.bold)
                else:
                    self._sheet.write_string(0, c, arg, self._book.bold)
        elif headers != self._headers:
            raise ValueError(f"sheet {self.name!r}: a table with other columns than the first one's")
        _check_shape(self.name, self.rows + len(df), len(headers))
        columns = _Columns(df, self._writers)
        n_rows = len(df)
        if n_rows and headers:
            if parts is None:
                parts = parts_for(df.size)
                if not here and parts == 1 and parts_for(2 * PARALLEL_MIN_CELLS) > 1:
                    # fewer cells than two parts, still a child's: written here, they would wait for
                    # the children of the tables before (and this process has work of its own)
                    parts = 2
            if parts > 1 and _can_fork(self._sheet):
                if here:
                    bounds = _split(columns.get(), n_rows, parts)
                elif parts == 2:  # one child writes every row: it makes the columns too, not this process
                    bounds = [0, 0, n_rows]
                else:
                    bounds = [0, *_split(columns.get(), n_rows, parts - 1)]
            else:
                bounds = [0, n_rows]
            # the rows of the tables before come first: taken now if this process writes some of this
            # one's (its rows go straight after them), else all but the last table's
            self.join(keep=0 if bounds[1] > bounds[0] else 1)
            first = self.rows + 1
            children = _start_parts(self._sheet, columns, bounds, self._book.tmp, first)
            if children:
                self._pending.append((columns, children, first))
            else:
                self._fit(columns.longest)
        self.rows += n_rows

    def _fit(self, longest: list[float]) -> None:
        """Widen the columns' fitted widths to ``longest`` (a table's longest shown value per column)."""
        self._longest = [max(a, b) for a, b in zip(self._longest, longest, strict=True)]

    def join(self, keep: int = 0) -> None:
        """Wait for the children still writing the rows of the tables added, oldest first, and take
        their rows (a failed child's are written here), until ``keep`` tables' children are left
        running. Before the sheet's next rows, and (all of them) when it is finished."""
        while len(self._pending) > keep:
            columns, children, first = self._pending.pop(0)
            sent = _join_parts(self._sheet, columns, children, first)
            # the widths: from the columns if this process made them, else from the child that did
            self._fit(columns.longest if columns.made else sent)

    def abandon(self) -> None:
        """Stop the children still writing this sheet's rows and close its row file (the workbook is
        not to be written)."""
        while self._pending:
            _, children, _ = self._pending.pop(0)
            _stop_parts(children)
        with contextlib.suppress(Exception):
            self.close()

    def finish(self) -> None:
        """Widths fitted to every row, the header frozen and filtered; the sheet's row file closed.
        Once: a finished sheet takes no more rows."""
        if self._finished:
            return
        self._finished = True
        self.join()
        sheet, headers = self._sheet, self._headers or []
        for c, header in enumerate(headers):
            sheet.set_column(c, c, _width(header, self._longest[c]))
        if headers:
            sheet.freeze_panes(1, 0)
            sheet.autofilter(0, 0, self.rows, len(headers) - 1)
        self.close()

    def close(self) -> None:
        if self._reopened:
            self._reopened = False
            self._sheet._opt_close()


class Book:
    """An XlsxWriter workbook being written (:func:`book`): its sheets, made in order (:meth:`sheet`)."""

    def __init__(self, xlsx, tmp: Path) -> None:
        self.xlsx = xlsx
        self.tmp = tmp
        self.bold = xlsx.add_format({"bold": True})
        self.sheets: list[Sheet] = []

    def sheet(self, name: str) -> Sheet:
        self.sheets.append(Sheet(self, name))
        return self.sheets[-1]


@contextlib.contextmanager
def book(path: Path) -> Iterator[Book]:
    """A :class:`Book` written to ``path`` when the block ends: nothing at ``path`` until the whole
    workbook is written (it is built in a private folder beside it and moved into place), and
    XlsxWriter's temporary row files go in that folder and are removed with it, whatever happens.
    Every sheet is finished (:meth:`Sheet.finish`) as the block ends."""
    import xlsxwriter

    path = Path(path)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".chartcode-xlsx-", ignore_cleanup_errors=True) as tmp:
        part = Path(tmp) / "book.xlsx"
        xlsx = xlsxwriter.Workbook(str(part), {**_OPTIONS, "tmpdir": tmp})
        made: Book | None = None
        try:
            made = Book(xlsx, Path(tmp))
            yield made
            for sheet in made.sheets:
                sheet.finish()
        except BaseException:
            # stop the children still writing rows and close its files (the half-written workbook
            # goes with the folder); the first error is the one to report
            for sheet in made.sheets if made is not None else []:
                sheet.abandon()
            with contextlib.suppress(Exception):
                xlsx.close()
            raise
        close(xlsx)
        os.chmod(part, 0o600)  # owner-only before it leaves the private folder (chartcode.files)
        os.replace(part, path)


# zlib's level for the workbook's zip: 1, not XlsxWriter's default 6. The zip is the one serial stage
# after every cell is written; on a 100k-record export (189 MB of sheet XML) level 6 took 3.0 s and
# level 1 0.7 s, for a file of 20 MB instead of 15 MB. The parts inside are the same XML.
ZIP_LEVEL = 1


def close(xlsx) -> None:
    """``xlsx.close()`` (XlsxWriter packs the parts into the zip) with the parts deflated at
    :data:`ZIP_LEVEL`. XlsxWriter has no option for the level: its module's ``ZipFile`` is given the
    level for the call, and only when it is the standard library's (else it closes as it would)."""
    import functools
    import zipfile

    import xlsxwriter.workbook

    module: Any = xlsxwriter.workbook
    if getattr(module, "ZipFile", None) is not zipfile.ZipFile:
        xlsx.close()
        return
    module.ZipFile = functools.partial(zipfile.ZipFile, compresslevel=ZIP_LEVEL)
    try:
        xlsx.close()
    finally:
        module.ZipFile = zipfile.ZipFile


def _write_rows(columns: list, start: int, stop: int, first: int = 1) -> None:  # columns: _Columns.get()
    """The table's rows ``start`` to ``stop`` (0-based) at sheet rows ``first + start`` on, in
    order, as constant_memory requires."""
    index = [c for c, _, _, _ in columns]
    for block in range(start, stop, BLOCK_ROWS):
        end = min(block + BLOCK_ROWS, stop)
        block_methods = [m[k[block:end]].tolist() for _, m, _, k in columns]
        block_args = [a[k[block:end]].tolist() for _, _, a, k in columns]
        for r, (row_methods, row_args) in enumerate(
            zip(zip(*block_methods, strict=True), zip(*block_args, strict=True), strict=True), start=first + block
        ):
            for c, write, arg in zip(index, row_methods, row_args, strict=True):
                if write is not None:
                    write(r, c, arg)


# ---- the body of a large sheet in two (or more) processes ------------------------------------
#
# XlsxWriter's own cell methods are most of an export's time (cProfile of the writer on 20k records: 95% of the
# writer is inside XlsxWriter), and they run on one core. In constant_memory mode a sheet's cells
# go, row by row, to a temporary file of XML rows (its ``fh``); XlsxWriter turns the pending row
# into XML when a later row gets its first cell (``_write_single_row``) and copies the file into the
# sheet's XML when the workbook closes. So the rows of a large sheet are cut into parts by their
# cells: the first part is written here; each later part by a forked child, on a copy of the very
# same sheet object whose row file is a file of the child's own, calling the same XlsxWriter
# methods on the same values. Once a child has finished, this process flushes its own last row
# (as XlsxWriter would on the child's first cell), appends the child's rows -- XlsxWriter's bytes,
# as written -- to the sheet's row file and takes over the child's row bounds. The workbook is byte
# for byte the one written in one process (tests/unit/test_xlsx_parallel.py). A child that fails
# leaves its part to this process; an XlsxWriter without these attributes, a platform without
# fork, or a process with other threads (a lock held in another thread stays held in the child)
# is written in one process as before.

PARALLEL_MIN_CELLS = 50_000  # cells per part at least: fewer are not worth a process
PARTS_MAX = 4  # processes per sheet at most
_SHEET_STATE = ("table", "previous_row", "fh", "row_data_fh", "dim_rowmin", "dim_rowmax", "dim_colmin", "dim_colmax")


def parts_for(cells: int, cpus: int | None = None) -> int:
    """How many processes write a sheet body of ``cells`` cells: one per usable CPU (at most
    PARTS_MAX), each with at least PARALLEL_MIN_CELLS cells."""
    if cpus is None:
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
    return max(1, min(cpus, PARTS_MAX, cells // PARALLEL_MIN_CELLS))


def _can_fork(sheet) -> bool:
    return (
        hasattr(os, "fork")
        and threading.active_count() == 1
        and getattr(sheet, "constant_memory", False)
        and all(hasattr(sheet, name) for name in _SHEET_STATE)
        and callable(getattr(sheet, "_write_single_row", None))
        and isinstance(sheet.table, dict)
        and sheet.fh is sheet.row_data_fh
    )


def _filled(columns: list, n_rows: int) -> np.ndarray:
    """How many cells each row has (its empty cells are not written)."""
    per_row = np.zeros(n_rows, dtype=np.int64)
    for _, methods, _, codes in columns:
        per_row += np.array([m is not None for m in methods], dtype=bool)[codes]
    return per_row


def _split(columns: list, n_rows: int, parts: int) -> list[int]:
    """Row bounds [0, ..., n_rows] of up to ``parts`` runs of rows holding about as many cells each."""
    cumulative = np.cumsum(_filled(columns, n_rows))
    total = int(cumulative[-1])
    cuts = [int(np.searchsorted(cumulative, total * k / parts)) + 1 for k in range(1, parts)]
    return sorted({0, *[c for c in cuts if 0 < c < n_rows], n_rows})


Children: TypeAlias = list[tuple[tuple[int, int] | None, Path, int, int]]  # (pid, pipe) or None, rows file, rows


def _start_parts(sheet, columns: _Columns, bounds: list[int], tmp: Path, first: int) -> Children:
    """Every run of rows after bounds[0]:bounds[1] given to a child of its own (:func:`_fork_rows`; a
    run no process could be had for is marked None, it and the later ones to be written here), then
    rows bounds[0]:bounds[1] written here; the children, for :func:`_join_parts`."""
    children: Children = []
    try:
        for k in range(1, len(bounds) - 1):
            path = tmp / f"rows-{id(sheet):x}-{first + bounds[k]}.xml"  # one per sheet and run of rows
            child = None
            if not children or children[-1][0] is not None:
                with contextlib.suppress(OSError):  # no process to be had (EAGAIN, ENOMEM): written here
                    child = _fork_rows(sheet, columns, bounds[k], bounds[k + 1], first, path)
            children.append((child, path, bounds[k], bounds[k + 1]))
        if bounds[1] > bounds[0]:
            _write_rows(columns.get(), bounds[0], bounds[1], first)
    except BaseException:
        _stop_parts(children)
        raise
    return children


def _join_parts(sheet, columns: _Columns, children: Children, first: int) -> list[float]:
    """The children's rows after this process's, in order: each child's rows file appended once it
    has finished, or its rows written here if it failed (or was never forked). Returns the longest
    shown value of each column that the children sent (the widest of their columns)."""
    sent: list[float] = []
    try:
        while children:
            child, path, start, stop = children.pop(0)
            state = None if child is None else _finished(*child)
            if state is None:  # no child, or it failed: its rows are written here
                _write_rows(columns.get(), start, stop, first)
            else:
                *state, longest = state
                sent = [max(a, b) for a, b in zip(sent, longest, strict=True)] if sent else list(longest)
                _append_rows(sheet, path, first + start, state)
            path.unlink(missing_ok=True)
    finally:
        _stop_parts(children)
    return sent


def _stop_parts(children: Children) -> None:
    """Stop (SIGKILL) and reap the children still listed, and remove their rows files."""
    for child, path, _, _ in children:
        if child is not None:
            with contextlib.suppress(OSError):
                os.kill(child[0], signal.SIGKILL)
            with contextlib.suppress(OSError):
                _finished(*child)
        path.unlink(missing_ok=True)
    children.clear()


def _fork_rows(sheet, columns: _Columns, start: int, stop: int, first: int, path: Path) -> tuple[int, int]:
    """(pid, read end of its pipe) of a child writing rows ``start``:``stop`` (at sheet rows ``first +
    start`` on) of ``sheet`` to ``path`` (making ``columns`` first, if they are not made yet);
    the child sends the sheet's row bounds, pending row and the columns' longest shown values (JSON)
    through the pipe and exits 0."""
    sheet.fh.flush()  # nothing of this process's rows is left in a buffer the child would hold
    read, write = os.pipe()
    gc.freeze()  # the child's collections do not touch (and so copy) this process's objects
    try:
        pid = os.fork()
    except BaseException:
        gc.unfreeze()
        os.close(read)
        os.close(write)
        raise
    if pid:
        gc.unfreeze()
        os.close(write)
        return pid, read
    code = 1
    try:  # the child: never returns, whatever happens
        os.close(read)
        with open(path, "w", encoding="utf-8", opener=_private) as fh:
            sheet.table.clear()  # this process's pending row is the parent's to write
            sheet.previous_row = first + start
            sheet.fh = sheet.row_data_fh = fh
            _write_rows(columns.get(), start, stop, first)
            pending = sheet.previous_row
            sheet._write_single_row(first + stop)  # its last row, as the next row's first cell would
        state = [pending, sheet.dim_rowmin, sheet.dim_rowmax, sheet.dim_colmin, sheet.dim_colmax, columns.longest]
        os.write(write, json.dumps(state).encode())
        code = 0
    finally:
        os._exit(code)


def _private(name: str, flags: int) -> int:
    return os.open(name, flags, 0o600)  # owner-only, as XlsxWriter's own row files (mkstemp)


def _finished(pid: int, fd: int) -> list | None:
    """The state a child sent once it exited 0; None if it failed."""
    try:
        _, status = os.waitpid(pid, 0)
        data = b""
        while chunk := os.read(fd, 4096):
            data += chunk
    finally:
        os.close(fd)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not data:
        return None
    return json.loads(data)


def _append_rows(sheet, path: Path, row: int, state: list) -> None:
    """A child's rows (from sheet row ``row``) after this process's, as one process writes them."""
    pending, *dims = state
    sheet._write_single_row(row)  # this process's last row, as the child's first cell did there
    with open(path, encoding="utf-8") as fh:
        shutil.copyfileobj(fh, sheet.fh, 1 << 16)
    sheet.previous_row = pending  # its row is written already: the table stays empty
    for name, value, pick in zip(_SHEET_STATE[4:], dims, (min, max, min, max), strict=True):
        mine = getattr(sheet, name)
        if value is not None:
            setattr(sheet, name, value if mine is None else pick(mine, value))


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


def write_workbook(sheets: Mapping[str, Table], path: Path, *, parts: int | None = None) -> None:
    """Write ``sheets`` (name -> table) to ``path`` (:func:`book`); ``parts``: processes per sheet
    (default: :func:`parts_for` its size). A :class:`Spans` stands for the sheets it names, written
    span by span where it comes in the order. A table may be given as a function that makes it, called
    when its sheet's turn comes: its work overlaps with the forked children still writing the rows of
    the sheets before it (the export's agreement, say). The tables given whole are checked for size
    before anything is written, the others as they come."""
    check_size({name: df for name, df in sheets.items() if isinstance(df, pd.DataFrame)})
    with book(path) as made:
        for name, table in sheets.items():
            if isinstance(table, Spans):  # its sheets (the key is only a place in the order), span by span
                spanned = [made.sheet(n) for n in table.names]
                for frames in table.make():  # the next span is made while children write this one's rows
                    for sheet, frame in zip(spanned, frames, strict=True):
                        sheet.add(frame, parts, here=False)
                    del frames
                continue  # finished with the book: the last span's children run on meanwhile
            made.sheet(name).add(table if isinstance(table, pd.DataFrame) else table(), parts)
            # finished with the book: its children still write while the next table is made
