"""A large audit's report stays a page: the open disagreements are listed up to a limit, with their
total and the command that lists them all, so the page does not grow with the audit."""

from __future__ import annotations

import pytest

from chartcode.dataset import open_disagreements
from chartcode.demo import build_demo
from chartcode.report import sections
from chartcode.report.render import render_section
from chartcode.store import Store


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    s = Store.open(build_demo(tmp_path_factory.mktemp("long-lists")))
    yield s
    s.close()


def _rows(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| record")]


def test_open_disagreements_beyond_the_limit_are_counted_not_listed(demo, monkeypatch):
    total = len(open_disagreements(demo))
    assert total == 5  # the demo's open disagreements
    monkeypatch.setattr(sections, "DISAGREEMENT_ROWS", 2)
    md = render_section(sections.disagreements_section(demo), "md")
    assert len(_rows(md)) == 2
    assert "5 units to reconcile" in md
    assert "The first 2 are listed here; `chartcode disagreements` lists all." in md


def test_open_disagreements_within_the_limit_are_all_listed_without_the_note(demo):
    md = render_section(sections.disagreements_section(demo), "md")
    assert len(_rows(md)) == 5
    assert "are listed here" not in md
