"""Agreement imports statsmodels' inter_rater without scipy.stats and scipy.linalg
(chartcode.agreement.libraries), and statsmodels' functions still work in full afterwards.

scipy.stats (brought in by inter_rater's ``from scipy import stats``, used only by
``cohens_kappa(..., return_results=True)``) and scipy.linalg (statsmodels.tools.tools) were about a
third of the command's import on the million-rating bench; bench/agreement.py measures the seconds.
Each probe runs in a fresh interpreter, since what is imported is process state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEFERRED = ("scipy.stats", "scipy.linalg")


def _python(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    from chartcode.cli import run

    path = tmp_path_factory.mktemp("agreement-light-import") / "audit.db"
    assert run(["init", str(path), "--audit", str(EXAMPLES / "my-audit.yaml")]) == 0
    assert run(["import", str(path), str(EXAMPLES / "notes.csv")]) == 0
    for coder in ("intern", "supervisor"):
        assert run(["import-codes", str(path), str(EXAMPLES / f"{coder}.csv"), "--coder", coder]) == 0
    return path


@pytest.mark.parametrize("extra", [["--json"], [], ["--json", "--bootstrap", "50", "--seed", "1"]], ids=str)
def test_agreement_command_does_not_import_scipy_stats_or_linalg(db, extra):
    code = f"""
import contextlib, io, json, sys
from chartcode.cli import run
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    rc = run({["agreement", str(db), *extra]!r})
print(json.dumps({{"rc": rc, "out": out.getvalue(), "loaded": [m for m in {DEFERRED!r} if m in sys.modules],
                  "statsmodels": "statsmodels.stats.inter_rater" in sys.modules}}))
"""
    result = _python(code)
    assert result["rc"] == 0
    assert "Fleiss" in result["out"] or "fleiss_kappa" in result["out"]  # statsmodels was called
    assert result["statsmodels"]
    # what the other libraries agreement needs import of these by themselves, in this environment
    # (scipy 1.11's scipy.sparse imports scipy.linalg; later releases do not): not inter_rater's doing
    theirs = _python(
        "import json, sys, pandas, scipy.sparse, krippendorff\n"
        f"print(json.dumps([m for m in {DEFERRED!r} if m in sys.modules]))"
    )
    assert "scipy.stats" not in theirs  # else this test would check nothing
    assert result["loaded"] == theirs


def test_kappa_results_still_get_the_real_scipy_stats():
    # return_results=True is the one path of inter_rater that reads scipy.stats (the z test)
    code = """
import json, sys
import numpy as np
from chartcode.agreement.libraries import inter_rater
ir = inter_rater()
before = "scipy.stats" in sys.modules
table = np.array([[20, 5], [10, 15]])
res = ir.cohens_kappa(table)
import scipy.stats
real = scipy.stats.norm.sf(res["z_value"]) * 2
print(json.dumps({"before": before, "kappa": res["kappa"], "p": res["pvalue_two_sided"], "p_real": float(real),
                  "plain": float(ir.cohens_kappa(table, return_results=False)),
                  "module_is_real": type(sys.modules["scipy.stats"]).__name__ == "module"}))
"""
    result = _python(code)
    assert result["before"] is False  # deferred by the import
    assert result["p"] == result["p_real"]
    assert result["kappa"] == result["plain"] == pytest.approx(0.4)  # (0.7 - 0.5) / (1 - 0.5)
    assert result["module_is_real"]


def test_later_imports_of_scipy_stats_and_linalg_give_the_real_modules():
    code = """
import json, sys
from chartcode.agreement.libraries import inter_rater
inter_rater()
import scipy.linalg, scipy.stats
from scipy import stats
print(json.dumps({
    "types": [type(sys.modules[m]).__name__ for m in ("scipy.stats", "scipy.linalg")],
    "same": stats is sys.modules["scipy.stats"] and scipy.stats is stats,
    "solve": scipy.linalg.solve([[2.0]], [4.0]).tolist(),
}))
"""
    result = _python(code)
    assert result["types"] == ["module", "module"]
    assert result["same"]
    assert result["solve"] == [2.0]


def test_scipy_stats_imported_before_is_used_as_is():
    code = """
import json, sys
import scipy.stats
from chartcode.agreement.libraries import inter_rater
ir = inter_rater()
print(json.dumps({"bound_is_real": ir.stats is sys.modules["scipy.stats"]}))
"""
    assert _python(code)["bound_is_real"]


def test_threads_importing_at_once_get_one_working_module_and_leave_no_stand_in():
    code = """
import json, sys, threading
import numpy as np
from chartcode.agreement.libraries import inter_rater
got = []
def take():
    got.append(inter_rater())
threads = [threading.Thread(target=take) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
table = np.array([[20, 5], [10, 15]])
print(json.dumps({
    "one_module": len({id(m) for m in got}) == 1 and len(got) == 4,
    "kappa": float(got[0].cohens_kappa(table, return_results=False)),
    "left": [type(sys.modules[m]).__name__ for m in ("scipy.stats", "scipy.linalg") if m in sys.modules],
}))
"""
    result = _python(code)
    assert result["one_module"]
    assert result["kappa"] == pytest.approx(0.4)
    assert result["left"] == []  # neither a stand-in nor (yet) the real module
