"""`chartcode agreement` imports only the libraries its coefficients need.

scikit-learn's import (``sklearn.metrics`` pulls in the whole package) cost about 1.5 s of the
command's 6-7 s on a million ratings, for the point Cohen's kappa and the confusion matrix only:
Cohen's kappa now comes from statsmodels' ``cohens_kappa`` on the contingency table (statsmodels
is imported for Fleiss' kappa anyway) and the confusion matrix is that table. Each command runs
in a fresh interpreter on the example audit (two coders); not timed: bench/agreement.py
measures the seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PROBE = """
import contextlib, io, json, sys
from chartcode.cli import run

out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    rc = run({argv!r})
print(json.dumps({{"rc": rc, "out": out.getvalue(), "loaded": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    from chartcode.cli import run

    path = tmp_path_factory.mktemp("agreement-imports") / "audit.db"
    assert run(["init", str(path), "--audit", str(EXAMPLES / "my-audit.yaml")]) == 0
    assert run(["import", str(path), str(EXAMPLES / "notes.csv")]) == 0
    for coder in ("intern", "supervisor"):
        assert run(["import-codes", str(path), str(EXAMPLES / f"{coder}.csv"), "--coder", coder]) == 0
    return path


def _probe(argv: list[str], heavy: tuple[str, ...]) -> dict:
    code = PROBE.format(argv=argv, heavy=heavy)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize("extra", [["--json"], [], ["--json", "--bootstrap", "50", "--seed", "1"]], ids=str)
def test_agreement_does_not_import_scikit_learn(db, extra):
    result = _probe(["agreement", str(db), *extra], ("sklearn",))
    assert result["rc"] == 0
    assert "Cohen" in result["out"] or "cohen_kappa" in result["out"]  # Cohen's kappa was computed
    assert result["loaded"] == []
