"""The xlsx export does its work side by side: the analyses' models are fitted in a forked child
(statsmodels' models are never imported by the exporting process) and the agreement and analyses tables are
made when their sheets' turn comes, while children still write the records' rows. The workbook is
the very one made in one process, one table after another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

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
