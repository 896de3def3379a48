"""The report's agreement and analysis tables name fields by their codebook labels; the field name
(what commands and exports use) is in small type and on hover (title)."""

from __future__ import annotations

import re

import pytest

from chartcode.demo import build_demo
from chartcode.report import build_report
from chartcode.report.model import FieldName, NoValue, Section, Table
from chartcode.report.render import render_section
from chartcode.store import Store


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    store = Store.open(build_demo(tmp_path_factory.mktemp("demo")))
    try:
        yield {fmt: build_report(store, fmt=fmt, bootstrap=20) for fmt in ("html", "md")}
    finally:
        store.close()


def _section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    return page[start : page.index("</section>", start)]


def test_agreement_table_uses_labels_with_the_name_in_small_type(pages):
    agreement = _section(pages["html"], "Agreement")
    assert (
        "<span title='session_content'>Conjoint session content type</span> <small class='name'>session_content</small>"
        in agreement
    )
    first_cells = re.findall(r"<tr><td>(.*?)</td>", agreement)
    assert first_cells and all("<small class='name'>" in c or "title=" in c for c in first_cells)
    assert "| Conjoint session content type (`session_content`) |" in pages["md"]


def test_describe_table_uses_labels_and_sets_apart_no_final_value(pages):
    analyses = _section(pages["html"], "Analyses")
    assert "<span title='age'>Age at first conjoint session (years)</span>" in analyses
    assert "<span class='novalue'>(no final value)</span>" in analyses
    assert "| *(no final value)* |" in pages["md"]


def test_cells_escape_labels_and_names():
    html = render_section(Section("s").add(Table(["f"], [[FieldName("<b>x</b>", "x_1")], [NoValue()]])), "html")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html
    same = render_section(Section("s").add(Table(["f"], [[FieldName("sex", "sex")]])), "html")
    assert "<small" not in same  # a label that is the name is not said twice
