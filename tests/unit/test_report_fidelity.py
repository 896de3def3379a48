"""The report's fidelity sections and `chartcode fidelity`: scores, changes, action lists with evidence."""

from __future__ import annotations

import json

import pytest

from chartcode.cli import run
from chartcode.codebook import load_codebook
from chartcode.report.build import build_report
from chartcode.store import Store
from tests.unit.test_fidelity import scale_yaml

RAG = """id: rag
title: Recovery standards (test)
version: 1
scale:
  scoring: mean
  display: traffic_light
  cannot_rate: 9
  action_below: 3
  max_unrated: 1
  bands: [{min: 2.5, label: Green, colour: green}, {min: 1.75, label: Amber, colour: amber}, {label: Red, colour: red}]
  sections: [{id: core, label: Core}]
fields:
  - name: hope
    label: Hope and optimism
    type: ordinal
    section: core
    choices: {1: {label: Red, colour: red}, 2: {label: Amber, colour: amber}, 3: {label: Green, colour: green}}
  - name: choice
    label: Choice and control
    type: ordinal
    section: core
    choices: {1: {label: Red, colour: red}, 2: {label: Amber, colour: amber}, 3: {label: Green, colour: green}}
"""


def rated_db(path, cb, plan):
    """plan: [(unit, period, {rater: {item: (value, memo)}}, {item: (consensus, reason)})]"""
    store = Store.create(path, cb)
    raters = sorted({r for _, _, by, _ in plan for r in by})
    for r in raters:
        store.add_coder(r, "coder")
    store.add_coder("lead", "supervisor")
    for unit, period, by, consensus in plan:
        rid = store.add_unit_period(unit, period)
        for rater, items in by.items():
            store.assign(rater, [rid])
            for item, (value, memo) in items.items():
                store.set_code(rater, rid, item, value)
                if memo:
                    store.set_memo(rater, rid, item, memo)
        for rater in by:
            store.submit(rater, rid)
        for item, (value, reason) in consensus.items():
            store.set_consensus(rid, item, value, reason=reason, decided_by="lead")
    return store


@pytest.fixture
def ips_store(tmp_path):
    cb = load_codebook("ips.yaml", scale_yaml(25))
    h1 = {f"item{i}": (4, None) for i in range(1, 26)}
    h1["item7"] = (2, "no employer contacts logged in March")
    h1_b = dict(h1)
    h1_b["item7"] = (1, "two of ten people had any job search")
    h2 = {f"item{i}": (5, None) for i in range(1, 26)}
    store = rated_db(
        tmp_path / "ips.db",
        cb,
        [
            ("Team North", "2025-H1", {"a": h1, "b": h1_b}, {"item7": (2, "logs show some contact")}),
            ("Team North", "2025-H2", {"a": h2, "b": h2}, {}),
        ],
    )
    yield store
    store.close()


def test_fidelity_json_has_the_documented_shape_and_numbers(ips_store, capsys):
    db = str(ips_store.path)
    assert run(["fidelity", db, "--json"]) == 0
    units = json.loads(capsys.readouterr().out)["units"]
    assert [set(u) for u in units] == [
        {
            "unit",
            "period",
            "scale",
            "total",
            "mean",
            "band",
            "sections",
            "items_rated",
            "items_cannot_rate",
            "below_threshold",
            "change_from_previous",
        }
    ] * 2
    h1, h2 = units
    assert (h1["unit"], h1["period"], h1["scale"], h1["total"], h1["band"]) == (
        "Team North",
        "2025-H1",
        "test-scale",
        98,
        "fair",
    )
    assert h1["sections"] == [
        {"section": "staffing", "score": 12, "band": None},
        {"section": "organization", "score": 30, "band": None},
        {"section": "services", "score": 56, "band": None},
    ]
    assert h1["below_threshold"] == [{"item": "item7", "rating": 2}]
    assert (h2["total"], h2["band"], h2["change_from_previous"]) == (125, "exemplary", 27)
    assert run(["fidelity", db, "--unit", "Team South"]) == 2
    assert "no unit 'Team South'" in capsys.readouterr().err


def test_fidelity_on_a_plain_codebook_is_a_user_error(tmp_path, capsys):
    cb = load_codebook("p.yaml", "id: p\ntitle: P\nversion: 1\nfields:\n  - {name: a, label: A, type: text}\n")
    Store.create(tmp_path / "p.db", cb).close()
    assert run(["fidelity", str(tmp_path / "p.db")]) == 2
    assert "is not a rating scale" in capsys.readouterr().err


def test_report_shows_scores_change_and_the_action_list_with_evidence(ips_store):
    page = build_report(ips_store, bootstrap=20)
    assert "Fidelity: Test scale" in page
    assert "Team North" in page and "+27" in page
    assert "Action list, 2025-H2" not in page  # the latest period has nothing below threshold
    md = build_report(ips_store, fmt="md", bootstrap=20)
    assert "| Team North | 2025-H1 | 12 | 30 | 56 | 98 | 3.92 | fair | — | 25/25 | 0 | 1 |" in md
    assert "Field distributions" not in md  # profiles replace per-field distributions on scales


def test_action_list_carries_the_raters_evidence_and_the_consensus_reason(tmp_path):
    cb = load_codebook("ips.yaml", scale_yaml(25))
    items = {f"item{i}": (4, None) for i in range(1, 26)}
    a, b = dict(items), dict(items)
    a["item7"] = (2, "no employer contacts logged in March")
    b["item7"] = (1, "two of ten people had any job search")
    store = rated_db(
        tmp_path / "x.db", cb, [("Team East", "2025-H2", {"a": a, "b": b}, {"item7": (2, "logs show some contact")})]
    )
    md = build_report(store, fmt="md", bootstrap=20)
    assert "### Action list, 2025-H2: 1 item(s) below threshold" in md
    assert "1. **Item 7 (Organization): rated 2**" in md
    assert "   - a: no employer contacts logged in March" in md
    assert "   - b: two of ten people had any job search" in md
    assert "   - consensus: logs show some contact" in md
    html = build_report(store, bootstrap=20)
    assert html.count("<svg") >= 2  # the item profile and the agreement chart
    store.close()


def test_traffic_lights_show_each_rater_and_the_final_colour_in_words(tmp_path):
    cb = load_codebook("rag.yaml", RAG)
    store = rated_db(
        tmp_path / "rag.db",
        cb,
        [
            (
                "Ward 1",
                "2025",
                {
                    "service-users": {"hope": (1, "no recovery plans seen"), "choice": (3, None)},
                    "staff": {"hope": (2, None), "choice": (3, None)},
                },
                {"hope": (1, "plans absent")},
            ),
        ],
    )
    md = build_report(store, fmt="md", bootstrap=20)
    assert "## Traffic-light summary" in md
    assert "### Ward 1 2025: Amber" in md  # mean of Red (1) and Green (3) = 2.0
    assert "| Hope and optimism | Red | Amber | Red |" in md
    assert "| Choice and control | Green | Green | Green |" in md
    html = build_report(store, bootstrap=20)
    assert "class='light red'" in html and ">Red</span>" in html
    store.close()


def test_raters_own_scores_and_their_icc(tmp_path):
    from chartcode.agreement import icc
    from chartcode.fidelity import rater_scores, score_agreement

    cb = load_codebook("ips.yaml", scale_yaml(25))
    plan = []
    for k, (a, b) in enumerate(((3, 3), (4, 5), (2, 2), (5, 4))):
        plan.append(
            (
                f"Team {k}",
                "2025",
                {
                    "a": {f"item{i}": (a, None) for i in range(1, 26)},
                    "b": {f"item{i}": (b, None) for i in range(1, 26)},
                },
                {},
            )
        )
    store = rated_db(tmp_path / "icc.db", cb, plan)
    records, raters, matrix = rater_scores(store)
    assert raters == ["a", "b"]
    assert matrix == [[75, 75], [100, 125], [50, 50], [125, 100]]  # before consensus: each rater's own total
    sa = score_agreement(store)
    assert sa["n"] == 4 and sa["icc2"] == pytest.approx(icc(matrix)["ICC2"])
    assert "ICC(2,1) = " in build_report(store, fmt="md", bootstrap=20)
    store.close()
