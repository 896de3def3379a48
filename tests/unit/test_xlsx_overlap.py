"""The xlsx export does its work side by side: the analyses' models are fitted in a forked child
(statsmodels' models are never imported by the exporting process) and the agreement and analyses tables are
made when their sheets' turn comes, while children still write the records' rows. The workbook is
the very one made in one process, one table after another."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from chartcode import forked
from chartcode.demo import build_demo
from chartcode.errors import UserError
from chartcode.export import export
from chartcode.export import xlsx as xl
from chartcode.store import Store

needs_fork = pytest.mark.skipif(not forked.can_fork(), reason="needs os.fork and two CPUs")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


def _parts(path: Path) -> dict[str, bytes]:
    """Every part of the zip but docProps/core.xml (it holds the time of writing)."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def _export(db: Path, out: Path) -> None:
    store = Store.open(db)
    try:
        export(store, "xlsx", out)
    finally:
        store.close()


@needs_fork
def test_the_workbook_is_the_one_made_in_one_process(demo_db, tmp_path, monkeypatch):
    _export(demo_db, tmp_path / "side_by_side.xlsx")
    monkeypatch.setattr(forked, "can_fork", lambda: False)
    monkeypatch.setattr(xl, "_can_fork", lambda sheet: False)
    _export(demo_db, tmp_path / "one.xlsx")
    assert _parts(tmp_path / "side_by_side.xlsx") == _parts(tmp_path / "one.xlsx")
    analyses = pd.read_excel(tmp_path / "side_by_side.xlsx", sheet_name="analyses")
    assert {"linear", "logistic", "welch"} <= set(analyses["kind"])  # the child's models, in the book


PROBE = """
import json, sys
from chartcode import forked
if sys.argv[3] == "no-fork":
    forked.can_fork = lambda: False
from chartcode.cli import run
code = run(["export", sys.argv[1], "--format", "xlsx", "--out", sys.argv[2], "--force"])
print(json.dumps({"code": code, "models": "statsmodels.regression.linear_model" in sys.modules}))
"""


def _probe(db: Path, out: Path, mode: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(db), str(out), mode], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_fork
def test_the_exporting_process_never_imports_statsmodels_models(demo_db, tmp_path):
    assert _probe(demo_db, tmp_path / "x.xlsx", "fork") == {"code": 0, "models": False}
    # and the probe can tell: without a child, the models are fitted (their modules imported) here
    assert _probe(demo_db, tmp_path / "y.xlsx", "no-fork") == {"code": 0, "models": True}


def test_a_table_given_as_a_function_is_made_once_the_sheets_before_it_are_written(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_add = xl.Sheet.add

    def add(self, df, parts=None):
        real_add(self, df, parts)
        events.append(("written", self.name))

    monkeypatch.setattr(xl.Sheet, "add", add)

    def agreement() -> pd.DataFrame:
        events.append(("made", "agreement"))
        return pd.DataFrame({"field": ["sex"], "kappa": [0.8]})

    xl.write_workbook({"records": pd.DataFrame({"a": [1, 2]}), "agreement": agreement}, tmp_path / "x.xlsx")
    assert events == [("written", "records"), ("made", "agreement"), ("written", "agreement")]
    assert pd.read_excel(tmp_path / "x.xlsx", sheet_name="agreement").to_dict("list") == {
        "field": ["sex"],
        "kappa": [0.8],
    }


def test_a_table_made_late_that_a_sheet_cannot_hold_is_refused_and_no_file_is_left(tmp_path, monkeypatch):
    monkeypatch.setattr(xl, "ROWS_MAX", 4)
    out = tmp_path / "x.xlsx"
    with pytest.raises(UserError, match="'late' table has 5 rows"):
        xl.write_workbook({"ok": pd.DataFrame({"a": [1]}), "late": lambda: pd.DataFrame({"a": range(5)})}, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # nor the private folder it was built in


# ---- a sheet's rows are taken from its children only when the sheet gets more rows or is finished


def _logged_children(monkeypatch, log: Path, pause: float):
    """_write_rows that, in a forked child, notes its start and end in ``log`` (pausing between);
    the parent's calls are noted with their rows. Returns the parent's pid."""
    parent, real = os.getpid(), xl._write_rows

    def write_rows(columns, start, stop, first=1):
        if os.getpid() == parent:
            with log.open("a") as fh:
                fh.write(f"parent {start} {stop}\n")
            return real(columns, start, stop, first)
        with log.open("a") as fh:
            fh.write("child start\n")
        time.sleep(pause)
        real(columns, start, stop, first)
        with log.open("a") as fh:
            fh.write("child end\n")
        return None

    monkeypatch.setattr(xl, "_write_rows", write_rows)
    return parent


def _logged_make(tables, log: Path):
    """A Spans maker yielding ``tables`` that notes "made K" in ``log`` as it makes span K."""

    def make():
        for k, frames in enumerate(tables):
            with log.open("a") as fh:
                fh.write(f"made {k}\n")
            yield frames

    return make


def _span_tables(n_spans: int, rows: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    out = []
    for k in range(n_spans):
        ids = [f"R{k}-{i:04d}" for i in range(rows)]
        records = pd.DataFrame({"id": ids, "n": range(rows), "text": ["=1+1", None, "<r>x</r>", "é"] * (rows // 4)})
        notes = pd.DataFrame({"id": ids[: rows // 2], "note": [f"n{i}" for i in range(rows // 2)]})
        out.append((records, notes))
    return out


@needs_fork
def test_the_next_span_is_made_while_children_write_the_rows_of_the_last(tmp_path, monkeypatch):
    log = tmp_path / "log"
    tables = _span_tables(3, 400)

    make = _logged_make(tables, log)

    _logged_children(monkeypatch, log, pause=0.5)
    xl.write_workbook(
        {"records": xl.Spans(("records", "notes"), make), "after": pd.DataFrame({"a": [1]})},
        tmp_path / "spans.xlsx",
        parts=2,
    )
    events = log.read_text().splitlines()
    # this process writes none of a span's rows (the child writes them all) ...
    assert [e for e in events if e.startswith("parent") and e != "parent 0 0"] == ["parent 0 1"]  # "after" only
    # ... and makes the next span while that child is still writing
    assert events.index("made 1") < events.index("child end")
    monkeypatch.undo()
    one = tmp_path / "one.xlsx"

    def make_again():
        yield from tables

    xl.write_workbook(
        {"records": xl.Spans(("records", "notes"), make_again), "after": pd.DataFrame({"a": [1]})}, one, parts=1
    )
    assert _parts(tmp_path / "spans.xlsx") == _parts(one)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log", "one.xlsx", "spans.xlsx"]  # no row file left


@needs_fork
def test_a_table_made_late_is_made_while_the_children_of_the_sheets_before_still_write(tmp_path, monkeypatch):
    log = tmp_path / "log"
    _logged_children(monkeypatch, log, pause=0.5)

    def agreement() -> pd.DataFrame:
        with log.open("a") as fh:
            fh.write("made agreement\n")
        return pd.DataFrame({"field": ["sex"], "kappa": [0.8]})

    records = _span_tables(1, 400)[0][0]
    xl.write_workbook({"records": records, "agreement": agreement}, tmp_path / "x.xlsx", parts=2)
    events = log.read_text().splitlines()
    assert events.index("made agreement") < events.index("child end")
    assert pd.read_excel(tmp_path / "x.xlsx", sheet_name="records")["id"].tolist() == records["id"].tolist()


@needs_fork
def test_a_span_that_fails_to_be_made_stops_the_children_still_writing_and_leaves_no_file(tmp_path, monkeypatch, forks):
    _logged_children(monkeypatch, tmp_path / "log", pause=120)  # children still writing when it fails
    tables = _span_tables(2, 400)

    def make():
        yield tables[0]
        raise UserError("span 1: cannot be read")

    (tmp_path / "out").mkdir()
    began = time.monotonic()
    with pytest.raises(UserError, match="span 1"):
        xl.write_workbook({"records": xl.Spans(("records", "notes"), make)}, tmp_path / "out" / "x.xlsx", parts=2)
    assert time.monotonic() - began < 60  # stopped, not waited for
    assert len(forks) == 2  # the records' and the notes' children of span 0
    for pid in forks:  # reaped: none left running or as a zombie
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert list((tmp_path / "out").iterdir()) == []


# ---- a span's columns (each distinct value's writer and the widths) are made by the child writing it


def _tables_with_a_wide_last_span() -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    tables = _span_tables(3, 400)
    tables[2][0].loc[5, "text"] = "a memo of forty-eight characters, the widest one"  # in the last span only
    return tables


def _spans_workbook(tables, path: Path, parts: int = 1) -> Path:
    """``tables`` as spans of the records and notes sheets, then a small table, in ``parts`` processes."""
    xl.write_workbook(
        {"records": xl.Spans(("records", "notes"), lambda: iter(tables)), "after": pd.DataFrame({"a": [1]})},
        path,
        parts=parts,
    )
    return path


@needs_fork
def test_the_child_writing_a_span_makes_its_columns_and_the_widths_fit_every_span(tmp_path, monkeypatch, forks):
    tables = _tables_with_a_wide_last_span()
    parent, real = os.getpid(), xl._column_codes
    made_here: list[str] = []

    def column_codes(series, writers):
        if os.getpid() == parent:
            made_here.append(str(series.name))
        return real(series, writers)

    monkeypatch.setattr(xl, "_column_codes", column_codes)
    out = _spans_workbook(tables, tmp_path / "spans.xlsx", parts=2)
    assert len(forks) == 6  # each span's records and notes, one child each
    assert made_here == ["a"]  # the "after" table's column only: no span's column was made here
    monkeypatch.undo()
    assert _parts(out) == _parts(_spans_workbook(tables, tmp_path / "one.xlsx"))
    width = openpyxl.load_workbook(out)["records"].column_dimensions["C"].width
    assert width > len("a memo of forty-eight characters, the widest one")  # fitted to the last span's text


@needs_fork
def test_a_span_whose_child_fails_has_its_columns_made_here_with_the_same_widths(tmp_path, monkeypatch, forks):
    tables = _tables_with_a_wide_last_span()
    parent, real = os.getpid(), xl._write_rows

    def write_rows(columns, start, stop, first=1):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(columns, start, stop, first)

    monkeypatch.setattr(xl, "_write_rows", write_rows)
    out = _spans_workbook(tables, tmp_path / "spans.xlsx", parts=2)
    assert forks
    monkeypatch.undo()
    assert _parts(out) == _parts(_spans_workbook(tables, tmp_path / "one.xlsx"))


@needs_fork
def test_the_span_after_next_is_made_while_the_first_spans_children_still_write(tmp_path, monkeypatch):
    # a pipeline two spans deep: adding span 1 does not wait for span 0's children
    log = tmp_path / "log"
    parent, real = os.getpid(), xl._write_rows

    def write_rows(columns, start, stop, first=1):
        if os.getpid() != parent and first == 1:  # span 0's children: slow
            time.sleep(1.0)
            real(columns, start, stop, first)
            with log.open("a") as fh:
                fh.write("span 0 written\n")
            return None
        return real(columns, start, stop, first)

    monkeypatch.setattr(xl, "_write_rows", write_rows)
    tables = _span_tables(3, 400)

    make = _logged_make(tables, log)

    out = tmp_path / "spans.xlsx"
    xl.write_workbook({"records": xl.Spans(("records", "notes"), make)}, out, parts=2)
    events = log.read_text().splitlines()
    assert events.index("made 2") < events.index("span 0 written")
    monkeypatch.undo()
    one = tmp_path / "one.xlsx"
    xl.write_workbook({"records": xl.Spans(("records", "notes"), lambda: iter(tables))}, one, parts=1)
    assert _parts(out) == _parts(one)


@needs_fork
def test_even_a_small_span_goes_to_a_child_and_the_parent_never_writes_span_rows(tmp_path, monkeypatch, forks):
    # written here, its rows would first wait for the children of the span before
    real = xl.parts_for
    monkeypatch.setattr(xl, "parts_for", lambda cells, cpus=None: real(cells, cpus=2))
    log = tmp_path / "log"
    _logged_children(monkeypatch, log, pause=0)
    tables = _span_tables(3, 8)  # 8 rows of 3 columns: far fewer cells than a part
    out = tmp_path / "spans.xlsx"
    xl.write_workbook({"records": xl.Spans(("records", "notes"), lambda: iter(tables))}, out)
    assert len(forks) == 6
    assert not [e for e in log.read_text().splitlines() if e.startswith("parent")]
    monkeypatch.undo()
    one = tmp_path / "one.xlsx"
    xl.write_workbook({"records": xl.Spans(("records", "notes"), lambda: iter(tables))}, one, parts=1)
    assert _parts(out) == _parts(one)
