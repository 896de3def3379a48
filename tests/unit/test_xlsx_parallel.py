"""A large sheet's rows are written by several processes (chartcode.export.xlsx: the first run of rows
here, each later run by a forked child on a copy of the same XlsxWriter sheet), and the workbook is
byte for byte the one a single process writes: whatever the cells, wherever the cuts fall, and when
a child fails, the parent is interrupted, or the process cannot fork safely."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import openpyxl
import pandas as pd
import pytest

from chartcode.export import xlsx as xl
from chartcode.export.writers import write_xlsx

INJECTION = '<r><t>x</t></r></is></c><c r="Z2"><f>HYPERLINK("http://evil.example/","x")</f><v>0</v></c><c><is><r><t>y'
TEXTS = [INJECTION, "=1+1", "  lead", "a\x01b", "_x0041_", "<b>&amp;</b>", "é😀", "x" * 40_000, None, "line\nnext"]


def _sheets() -> dict[str, pd.DataFrame]:
    n = 97
    text = (TEXTS * 10)[:n]
    whole_blank = set(range(40, 52))  # a run of rows with no cell at all, where a cut may fall
    return {
        "records": pd.DataFrame(
            {
                "id": [None if i in whole_blank else f"R{i:03d}" for i in range(n)],
                "text": [None if i in whole_blank else t for i, t in enumerate(text)],
                "n": pd.array([None if i % 4 == 0 or i in whole_blank else i for i in range(n)], dtype="Int64"),
                "x": [math.nan if i in whole_blank else (i / 7 if i % 5 else math.inf) for i in range(n)],
                "b": [None if i in whole_blank else bool(i % 2) for i in range(n)],
            }
        ),
        "empty": pd.DataFrame({"a": []}),
        "ends_blank": pd.DataFrame({"a": [1, 2, 3, None, None, None], "b": ["u", "v", None, None, None, None]}),
        "wide": pd.DataFrame({f"c{i}": [i, None, "v", -i] for i in range(30)}),
    }


def _parts(path: Path) -> dict[str, bytes]:
    """Every part of the zip but docProps/core.xml (it holds the time of writing)."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _one_process(tmp_path: Path) -> Path:
    path = tmp_path / "one.xlsx"
    xl.write_workbook(_sheets(), path, parts=1)
    return path


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_a_sheet_written_by_several_processes_is_the_workbook_one_process_writes(tmp_path, monkeypatch, forks, parts):
    monkeypatch.setattr(xl, "BLOCK_ROWS", 8)  # a child's run of rows over several blocks
    path = tmp_path / "parts.xlsx"
    xl.write_workbook(_sheets(), path, parts=parts)
    assert len(forks) >= parts - 1  # every sheet with rows but the empty one was cut
    assert _parts(path) == _parts(_one_process(tmp_path))
    rows = list(openpyxl.load_workbook(path)["records"].iter_rows(values_only=True))
    assert len(rows) == 1 + 97 and rows[1][:2] == ("R000", INJECTION) and rows[-1][0] == "R096"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.xlsx", "parts.xlsx"]  # no row file left


def test_an_export_of_a_large_table_forks_by_itself_and_reads_back_the_same(tmp_path, monkeypatch, forks):
    monkeypatch.setattr(xl, "PARALLEL_MIN_CELLS", 50)  # the real threshold wants 100k cells a sheet
    real = xl.parts_for
    monkeypatch.setattr(xl, "parts_for", lambda cells: real(cells, cpus=2))
    write_xlsx(_sheets(), tmp_path / "x.xlsx")
    assert len(forks) == 2  # the sheets of at least 2 x 50 cells: records (485) and wide (120)
    assert _parts(tmp_path / "x.xlsx") == _parts(_one_process(tmp_path))
    assert (tmp_path / "x.xlsx").stat().st_mode & 0o777 == 0o600


def _in_child(action):
    """A _write_rows that runs ``action`` in a forked child instead of writing (parent: as is)."""
    parent, real = os.getpid(), xl._write_rows

    def write_rows(columns, start, stop, first):
        if os.getpid() != parent:
            action()
        return real(columns, start, stop, first)

    return write_rows


@pytest.mark.parametrize(
    "action",
    [lambda: (_ for _ in ()).throw(RuntimeError("child")), lambda: os.kill(os.getpid(), signal.SIGKILL)],
    ids=["raises", "killed"],
)
def test_a_child_that_fails_leaves_its_rows_to_the_parent(tmp_path, monkeypatch, forks, action):
    monkeypatch.setattr(xl, "_write_rows", _in_child(action))
    xl.write_workbook(_sheets(), tmp_path / "x.xlsx", parts=3)
    assert forks
    assert _parts(tmp_path / "x.xlsx") == _parts(_one_process(tmp_path))


def test_no_process_to_be_had_writes_every_row_here(tmp_path, monkeypatch):
    def no_fork():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    xl.write_workbook(_sheets(), tmp_path / "x.xlsx", parts=3)
    assert _parts(tmp_path / "x.xlsx") == _parts(_one_process(tmp_path))


def test_an_error_here_stops_the_children_and_leaves_no_file(tmp_path, monkeypatch, forks):
    parent, real = os.getpid(), xl._write_rows

    def write_rows(columns, start, stop, first):
        if os.getpid() != parent:
            time.sleep(120)  # a child still writing when the parent fails
        elif start == 0:
            raise RuntimeError("boom")
        return real(columns, start, stop, first)

    monkeypatch.setattr(xl, "_write_rows", write_rows)
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="boom"):
        xl.write_workbook(_sheets(), tmp_path / "x.xlsx", parts=2)
    assert time.monotonic() - began < 60  # the child was stopped, not waited for
    assert forks
    for pid in forks:  # reaped: no child left running or as a zombie
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert list(tmp_path.iterdir()) == []


def test_with_other_threads_running_the_sheet_is_written_in_one_process(tmp_path, forks):
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        xl.write_workbook(_sheets(), tmp_path / "x.xlsx", parts=3)
    finally:
        stop.set()
        other.join()
    assert forks == []  # a lock held by the other thread would stay held in a child
    assert _parts(tmp_path / "x.xlsx") == _parts(_one_process(tmp_path))


def test_an_xlsxwriter_without_the_expected_internals_is_not_forked():
    assert not xl._can_fork(SimpleNamespace(constant_memory=True, fh=None, row_data_fh=None))


def test_parts_follow_the_cpus_and_the_cells():
    assert xl.parts_for(10 * xl.PARALLEL_MIN_CELLS, cpus=2) == 2
    assert xl.parts_for(10 * xl.PARALLEL_MIN_CELLS, cpus=64) == xl.PARTS_MAX
    assert xl.parts_for(10 * xl.PARALLEL_MIN_CELLS, cpus=1) == 1
    assert xl.parts_for(2 * xl.PARALLEL_MIN_CELLS - 1, cpus=8) == 1
    assert xl.parts_for(0, cpus=8) == 1


def test_the_cuts_share_the_cells_not_the_rows():
    # the first half of the rows holds one cell each, the second half ten: the cut is near row 909
    columns = []
    for c in range(10):
        values = [None] * 1000 if c else [1] * 1000
        if c:
            values[500:] = [c] * 500
        methods = np.array([None, print], dtype=object)
        codes = np.array([0 if v is None else 1 for v in values], dtype=np.int32)
        columns.append((c, methods, methods, codes))
    bounds = xl._split(columns, 1000, 2)
    cells = xl._filled(columns, 1000)
    assert bounds[0] == 0 and bounds[-1] == 1000 and len(bounds) == 3
    halves = [int(cells[a:b].sum()) for a, b in zip(bounds, bounds[1:], strict=False)]
    assert abs(halves[0] - halves[1]) <= 10, halves
