"""The report's charts as a QI lead reads them: whole-number ticks for counts, labels wrapped and
never cut with an ellipsis, and "(no final value)" drawn apart from the real categories."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from chartcode.report.charts import NO_FINAL, bar_chart, ci_chart

SVG = "{http://www.w3.org/2000/svg}"
LONG = "Patient using skills with both success reported and reports of benefit/improvement with pain management"


def _root(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _group_texts(root: ET.Element, prefix: str) -> list[str]:
    return [
        "".join(t.itertext()).strip()
        for g in root.iter(f"{SVG}g")
        if re.fullmatch(prefix + r"\d+", g.get("id", ""))
        for t in g.iter(f"{SVG}text")
    ]


def test_count_axis_has_whole_number_ticks():
    for counts in ([3, 7], [1, 2], [0, 5, 9], [12, 3, 17]):
        ticks = _group_texts(_root(bar_chart(["a", "b", "c"][: len(counts)], counts, "t")), "xtick_")
        assert ticks and all(re.fullmatch(r"\d+", t) for t in ticks), ticks


def test_labels_wrap_and_are_never_cut():
    for svg in (
        bar_chart(["Short", LONG], [2, 3], "A title long enough to need wrapping on a phone screen"),
        ci_chart([LONG, "Sex"], [0.5, 1.0], [0.2, 1.0], [0.8, 1.0], "alpha"),
    ):
        words = " ".join(" ".join(t.itertext()) for t in _root(svg).iter(f"{SVG}text"))
        assert "…" not in words and "..." not in words
        for word in LONG.split():
            assert word in words


def test_no_final_value_is_drawn_apart_from_categories():
    svg = bar_chart(["No", "Yes", NO_FINAL], [3, 5, 2], "Mental health diagnosis")
    root = _root(svg)
    label = next(t for t in root.iter(f"{SVG}text") if "".join(t.itertext()).strip() == NO_FINAL)
    assert "italic" in label.get("style", "")
    bars = [
        p.get("style", "")
        for g in root.iter(f"{SVG}g")
        if g.get("id", "").startswith("patch_")
        for p in g.iter(f"{SVG}path")
    ]
    fills = [m.group(1) for s in bars if (m := re.search(r"fill: ([^;]+)", s))]
    assert fills.count("#4c72b0") == 2  # the two real categories, blue
    assert sum(f.startswith("url(#") for f in fills) == 1  # no final value: a hatched pattern ...
    assert "#d9d9d9" in svg  # ... on grey
