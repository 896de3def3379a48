"""`chartcode report`: what the page contains, in HTML and Markdown."""

from __future__ import annotations

import re

import pytest


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from chartcode.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("report"))


def test_html_report_is_self_contained_with_tables_and_charts(cli, demo_db, tmp_path):
    out = tmp_path / "report.html"
    r = cli("report", demo_db, "--out", out, "--bootstrap", "50")
    assert r.code == 0, r.err
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "viewport" in page and "@media print" in page
    for heading in ("Audit and coding progress", "Agreement", "Field distributions", "Open disagreements"):
        assert f"<h2>{heading}</h2>" in page
    assert page.count("<svg") >= 5 and page.count("<table>") >= 3
    # nothing external: no fetched URLs (the SVG namespace is a name, not a fetch)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script" not in page
    assert "5 units to reconcile" in page  # the demo's five open disagreements
    assert "SYNTHETIC DEMO NOTE" not in page  # no note text in reports


def test_markdown_report(cli, demo_db, tmp_path):
    out = tmp_path / "report.md"
    assert cli("report", demo_db, "--out", out, "--bootstrap", "20").code == 0
    md = out.read_text()
    assert md.startswith("# ") and "## Agreement" in md and "| field | level |" in md


def test_report_into_a_missing_folder_is_a_user_error(cli, demo_db, tmp_path):
    r = cli("report", demo_db, "--out", tmp_path / "nope" / "r.html")
    assert r.code == 2 and "no such folder" in r.err
