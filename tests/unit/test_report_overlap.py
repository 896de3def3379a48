"""The report fits the analyses' models in a forked child (chartcode.forked) while it computes the
agreement and draws the distributions, and the page is the one made in one process: the same
tables, readings and notes of the warnings the libraries raised (caught in the child), the same
"no analyses" section, and the same page when the child dies. The reporting process never imports
statsmodels' models."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from chartcode import analysis, forked
from chartcode.demo import build_demo
from chartcode.report import build as report_build
from chartcode.store import Store

needs_fork = pytest.mark.skipif(not forked.can_fork(), reason="needs os.fork and two CPUs")


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


def _page(db: Path, monkeypatch, *, fork: bool, fmt: str = "md") -> str:
    monkeypatch.setattr(report_build, "utcnow", lambda: "2026-01-01T00:00:00Z")
    monkeypatch.setattr(forked, "can_fork", lambda: fork)
    s = Store.open(db)
    try:
        page = report_build.build_report(s, fmt=fmt, bootstrap=20)
    finally:
        s.close()
    # matplotlib stamps each SVG with the time it was drawn and random clip-path, marker and hatch ids
    page = re.sub(r"<dc:date>[^<]*</dc:date>", "<dc:date/>", page)
    return re.sub(r"\b[hmp][0-9a-f]{10}\b", "svg-id", page)


@needs_fork
def test_the_page_is_the_one_made_in_one_process(demo_db, monkeypatch):
    page = _page(demo_db, monkeypatch, fork=True)
    assert "## Analyses" in page and "accepted_followup ~ mh_diagnosis" in page
    assert page == _page(demo_db, monkeypatch, fork=False)


@needs_fork
def test_the_html_page_with_its_charts_is_the_one_made_in_one_process(demo_db, monkeypatch):
    page = _page(demo_db, monkeypatch, fork=True, fmt="html")
    assert page.count("<svg") >= 10  # the distributions' bar charts, drawn in the child, and the agreement's
    assert page == _page(demo_db, monkeypatch, fork=False, fmt="html")


@needs_fork
def test_warnings_raised_in_the_child_are_the_sections_notes(demo_db, monkeypatch):
    real = analysis.run_spec

    def warns(spec, frame, known, ci):
        # the module path makes it a library's warning (chartcode.analysis.readings.library_notes)
        warnings.warn_explicit("variance is zero", RuntimeWarning, "/x/statsmodels/base/model.py", 1)
        return real(spec, frame, known, ci)

    monkeypatch.setattr(analysis, "run_spec", warns)
    page = _page(demo_db, monkeypatch, fork=True)
    assert "note from statsmodels (RuntimeWarning): variance is zero" in page
    assert page == _page(demo_db, monkeypatch, fork=False)


@needs_fork
def test_a_child_that_dies_leaves_the_same_page(demo_db, monkeypatch):
    want = _page(demo_db, monkeypatch, fork=False)
    parent, real = os.getpid(), report_build.analyses_run

    def dies(prepared):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(prepared)

    monkeypatch.setattr(report_build, "analyses_run", dies)
    assert _page(demo_db, monkeypatch, fork=True) == want


@needs_fork
def test_no_analyses_declared_is_said_as_before(tmp_path, monkeypatch, cli):
    db = tmp_path / "plain.db"
    assert cli("init", db, "--codebook", "conjoint-pain").code == 0
    page = _page(db, monkeypatch, fork=True)
    assert page == _page(db, monkeypatch, fork=False)
    assert "No analyses:" in page


PROBE = """
import json, sys
from chartcode import forked
if sys.argv[3] == "no-fork":
    forked.can_fork = lambda: False
from chartcode.cli import run
code = run(["report", sys.argv[1], "--out", sys.argv[2], "--bootstrap", "20"])
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
def test_the_reporting_process_never_imports_statsmodels_models(demo_db, tmp_path):
    got = _probe(demo_db, tmp_path / "r.html", "fork")
    assert got == {"code": 0, "models": False}
    assert _probe(demo_db, tmp_path / "s.html", "no-fork") == {"code": 0, "models": True}
