"""Fidelity scoring: sums, means, completion, prorating, cannot-rate and bands at every cut-off."""

from __future__ import annotations

import pytest

from chartcode.codebook import load_codebook
from chartcode.fidelity import score_unit
from chartcode.store import Store


def scale_yaml(
    n_items: int,
    *,
    scoring="sum",
    sections=(("staffing", 3), ("organization", 8), ("services", 14)),
    bands="[{min: 115, label: exemplary}, {min: 100, label: good}, {min: 74, label: fair},"
    " {label: not supported employment}]",
    extra="cannot_rate: 9\n  action_below: 4\n  max_unrated: 0",
    item_type="ordinal",
) -> str:
    lines = [
        "id: test-scale",
        "title: Test scale",
        "version: 1",
        "scale:",
        f"  scoring: {scoring}",
        f"  {extra}",
        f"  bands: {bands}",
        "  sections:",
    ]
    for sid, _ in sections:
        lines.append(f"    - {{id: {sid}, label: {sid.title()}}}")
    lines.append("fields:")
    i = 0
    for sid, n in sections:
        for _ in range(n):
            i += 1
            lines += [f"  - name: item{i}", f"    label: Item {i}", f"    type: {item_type}", f"    section: {sid}"]
            if item_type == "ordinal":
                lines.append("    choices: {1: one, 2: two, 3: three, 4: four, 5: five}")
            else:
                lines.append("    target: 4")
    assert i == n_items
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def ips():
    return load_codebook("ips.yaml", scale_yaml(25))


def ratings_with_total(total: int, n: int = 25) -> dict[str, int]:
    """n ratings 1-5 summing to ``total`` (as even as possible)."""
    base, extra = divmod(total, n)
    return {f"item{i + 1}": base + (1 if i < extra else 0) for i in range(n)}


@pytest.mark.parametrize(
    "total,band",
    [
        (125, "exemplary"),
        (115, "exemplary"),
        (114, "good"),
        (100, "good"),
        (99, "fair"),
        (74, "fair"),
        (73, "not supported employment"),
        (25, "not supported employment"),
    ],
)
def test_ips_total_bands_at_every_cut_off(ips, total, band):
    s = score_unit(ips, ratings_with_total(total))
    assert s.total == total
    assert s.band == band
    assert s.items_rated == 25 and s.items_cannot_rate == 0


def test_sections_are_subtotals_and_items_below_threshold_are_listed(ips):
    r = {f"item{i}": 5 for i in range(1, 26)}
    r["item2"], r["item4"], r["item20"] = 3, 1, 2
    s = score_unit(ips, r)
    assert [(x.section, x.score) for x in s.sections] == [("staffing", 13), ("organization", 36), ("services", 67)]
    assert s.total == 116 and s.band == "exemplary"
    assert s.below_threshold == [
        {"item": "item2", "rating": 3},
        {"item": "item4", "rating": 1},
        {"item": "item20", "rating": 2},
    ]
    assert s.mean == pytest.approx(116 / 25)


def test_cannot_rate_is_counted_and_withholds_the_total_when_too_many_are_unrated(ips):
    r = {f"item{i}": 4 for i in range(1, 26)}
    r["item1"] = 9  # cannot rate
    s = score_unit(ips, r)
    assert s.items_cannot_rate == 1 and s.items_rated == 24 and s.items_unrated == 1
    assert s.total is None and s.band is None  # max_unrated: 0
    staffing = s.sections[0]
    assert staffing.score == 12  # prorated: mean 4 x 3 items
    assert s.below_threshold == []  # cannot rate is not a low rating


def test_prorated_total_when_the_scale_allows_unrated_items():
    cb = load_codebook("x.yaml", scale_yaml(25, extra="cannot_rate: 9\n  max_unrated: 2"))
    r = {f"item{i}": 4 for i in range(1, 26)}
    r["item1"] = 9
    del r["item2"]  # not rated at all (e.g. unresolved disagreement)
    s = score_unit(cb, r)
    assert s.items_cannot_rate == 1 and s.items_unrated == 2
    assert s.total == 100 and s.band == "good"  # mean 4 x 25 items, not 92 (which would read as "fair")


def test_without_prorating_the_total_is_the_sum_of_rated_items():
    cb = load_codebook("x.yaml", scale_yaml(25, extra="cannot_rate: 9\n  max_unrated: 2\n  prorate: false"))
    r = {f"item{i}": 4 for i in range(1, 26)}
    r["item1"] = 9
    assert score_unit(cb, r).total == 96


@pytest.mark.parametrize(
    "ratings,mean,band",
    [
        ([4] * 13, 4.0, "high"),
        ([4] * 12 + [3], 51 / 13, "moderate"),  # 3.92: below 4.0
        ([3] * 13, 3.0, "moderate"),
        ([3] * 12 + [2], 38 / 13, "low"),  # 2.92
        ([1] * 13, 1.0, "low"),
    ],
)
def test_mean_scoring_bands_imr_style(ratings, mean, band):
    cb = load_codebook(
        "imr.yaml",
        scale_yaml(
            13,
            scoring="mean",
            sections=(("imr", 13),),
            bands="[{min: 4.0, label: high}, {min: 3.0, label: moderate}, {label: low}]",
            extra="cannot_rate: 9\n  max_unrated: 2\n  action_below: 3",
        ),
    )
    s = score_unit(cb, {f"item{i + 1}": v for i, v in enumerate(ratings)})
    assert s.mean == pytest.approx(mean, abs=1e-6)
    assert s.band == band
    assert s.total == sum(ratings)


def test_mean_scoring_ignores_cannot_rate_items():
    cb = load_codebook(
        "imr.yaml",
        scale_yaml(
            13,
            scoring="mean",
            sections=(("imr", 13),),
            bands="[{min: 4.0, label: high}, {label: low}]",
            extra="cannot_rate: 9\n  max_unrated: 2",
        ),
    )
    r = {f"item{i + 1}": 4 for i in range(13)}
    r["item1"], r["item2"] = 9, 9
    s = score_unit(cb, r)
    assert s.mean == 4.0 and s.band == "high" and s.items_cannot_rate == 2
    r["item3"] = 9  # a third: more than max_unrated
    s = score_unit(cb, r)
    assert s.mean is None and s.band is None


def test_completion_scoring_is_the_share_of_planned_sessions_delivered():
    cb = load_codebook(
        "eimr.yaml",
        scale_yaml(
            3,
            scoring="completion",
            sections=(("modules", 3),),
            bands="[{min: 90, label: as planned}, {min: 70, label: mostly}, {label: incomplete}]",
            extra="max_unrated: 0",
            item_type="count",
        ),
    )
    # targets are 4 each: 4 + 2 + 6 (capped at 4) = 10 of 12 sessions
    s = score_unit(cb, {"item1": 4, "item2": 2, "item3": 6})
    assert s.total == pytest.approx(100 * 10 / 12, abs=1e-6)
    assert s.band == "mostly"
    assert s.below_threshold == [{"item": "item2", "rating": 2}]
    assert score_unit(cb, {"item1": 4, "item2": 4, "item3": 3}).band == "as planned"  # 11 of 12: 91.7%
    assert score_unit(cb, {"item1": 4, "item2": 4, "item3": 4}).band == "as planned"


def test_a_unit_with_no_ratings_has_no_scores(ips):
    s = score_unit(ips, {})
    assert s.total is None and s.mean is None and s.band is None
    assert all(x.score is None for x in s.sections)
    assert s.items_rated == 0


def test_section_bands():
    yaml = scale_yaml(4, sections=(("a", 2), ("b", 2)), bands="[{min: 16, label: good}, {label: poor}]")
    yaml = yaml.replace(
        "    - {id: a, label: A}",
        "    - {id: a, label: A, bands: [{min: 8, label: good}, {min: 6, label: fair}, {label: poor}]}",
    )
    cb = load_codebook("x.yaml", yaml)
    s = score_unit(cb, {"item1": 4, "item2": 4, "item3": 1, "item4": 1})
    assert (s.sections[0].score, s.sections[0].band) == (8, "good")
    assert s.sections[1].band is None  # section b declares no bands
    assert score_unit(cb, {"item1": 3, "item2": 3, "item3": 1, "item4": 1}).sections[0].band == "fair"
    assert score_unit(cb, {"item1": 3, "item2": 2, "item3": 1, "item4": 1}).sections[0].band == "poor"


# ----------------------------------------------------------------------------- the loader
@pytest.mark.parametrize(
    "change,problem",
    [
        ("  scoring: sum\n", "  scoring: median\n"),
    ],
)
def test_bad_scoring_is_named_with_its_line(change, problem):
    with pytest.raises(Exception) as e:
        load_codebook("bad.yaml", scale_yaml(25).replace(change, problem))
    assert "bad.yaml:5: scale: 'scoring' must be one of: sum, mean, completion" in str(e.value)


def test_bands_out_of_order_and_unknown_sections_are_user_errors():
    from chartcode.errors import UserError

    bad = scale_yaml(25, bands="[{min: 74, label: fair}, {min: 100, label: good}, {label: low}]")
    bad = bad.replace("section: services", "section: servics", 1)
    with pytest.raises(UserError) as e:
        load_codebook("bad.yaml", bad)
    text = "\n".join(e.value.problems)
    assert "band 'good': min 100 must be below the band above it (74)" in text
    assert "section 'servics' is not one of the scale's sections" in text


def test_cannot_rate_code_is_added_to_every_item_and_marked_missing(ips):
    f = ips.field("item1")
    assert f.codes == (1, 2, 3, 4, 5, 9)
    assert f.rating_codes == (1, 2, 3, 4, 5) and f.missing_codes == (9,)
    assert f.parse("9") == 9


def test_a_scale_changes_the_hash_but_plain_codebooks_keep_theirs(ips):
    plain = load_codebook("p.yaml", "id: p\ntitle: P\nversion: 1\nfields:\n  - {name: a, label: A, type: text}\n")
    assert "scale" not in plain.to_dict()
    other = load_codebook("ips.yaml", scale_yaml(25).replace("min: 74", "min: 75"))
    assert other.hash != ips.hash


# ----------------------------------------------------------------------------- through the store
def test_two_raters_then_consensus_then_scores(tmp_path, ips):
    from chartcode.fidelity import fidelity

    store = Store.create(tmp_path / "f.db", ips)
    store.add_coder("a", "coder")
    store.add_coder("b", "coder")
    store.add_coder("lead", "supervisor")
    p1 = store.add_unit_period("Team A", "2025-H1")
    p2 = store.add_unit_period("Team A", "2025-H2")
    store.assign("a", [p1, p2])
    store.assign("b", [p1, p2])
    for rid, base in ((p1, 3), (p2, 4)):
        for i in range(1, 26):
            store.set_code("a", rid, f"item{i}", base)
            store.set_code("b", rid, f"item{i}", base if i != 5 else 5)
        store.submit("a", rid)
    assert fidelity(store)[0].items_rated == 0  # b has not submitted: nothing is final
    for rid in (p1, p2):
        store.submit("b", rid)
    h1, h2 = fidelity(store)
    assert h1.items_rated == 24 and h1.total is None  # item5 disagrees: unresolved
    store.set_consensus(p1, "item5", 3, reason="no written plan seen", decided_by="lead")
    store.set_consensus(p2, "item5", 5, reason="plan seen in 5 of 5 records", decided_by="lead")
    h1, h2 = fidelity(store)
    assert (h1.unit, h1.period, h1.total, h1.band) == ("Team A", "2025-H1", 75, "fair")
    assert (h2.total, h2.band, h2.change_from_previous) == (101, "good", 26)
    assert h1.change_from_previous is None
    assert h2.below_threshold == []
    assert len(h1.below_threshold) == 25


def test_cannot_rate_is_missing_for_agreement_not_a_sixth_rating_point(tmp_path, ips):
    from chartcode.agreement import collect

    store = Store.create(tmp_path / "a.db", ips)
    for c in ("a", "b"):
        store.add_coder(c, "coder")
    for k in range(3):
        rid = store.add_unit_period(f"Team {k}", "2025")
        store.assign("a", [rid])
        store.assign("b", [rid])
        store.set_code("a", rid, "item1", 9 if k == 0 else 5)
        store.set_code("b", rid, "item1", 5)
        store.submit("a", rid)
        store.submit("b", rid)
    r = next(x for x in collect(store, "item1"))
    assert r.unreadable == 0
    import numpy as np

    assert np.isnan(r.matrix).sum() == 1  # Team 0's "cannot rate"
    assert np.nanmax(r.matrix) == 4.0  # rating 5 is the 5th rating point, position 4
    store.close()


@pytest.mark.parametrize(
    "total,band",
    [
        (73, "Not supported employment"),
        (74, "Fair fidelity"),
        (99, "Fair fidelity"),
        (100, "Good fidelity"),
        (114, "Good fidelity"),
        (115, "Exemplary fidelity"),
    ],
)
def test_shipped_ips_scale_bands_at_its_published_cut_offs(total, band):
    from chartcode import resources

    cb = load_codebook(resources.shipped_dir("codebooks") / "ips-fidelity.yaml")
    base, extra = divmod(total, 25)
    ratings = {f.name: base + (1 if i < extra else 0) for i, f in enumerate(cb.items)}
    s = score_unit(cb, ratings)
    assert (s.total, s.band) == (total, band)


@pytest.mark.parametrize(
    "ratings,band",
    [
        ([4] * 13, "High fidelity"),
        ([4] * 12 + [3], "Moderate fidelity"),
        ([3] * 13, "Moderate fidelity"),
        ([3] * 12 + [2], "Low fidelity"),
    ],
)
def test_shipped_imr_scale_bands_on_the_item_mean(ratings, band):
    from chartcode import resources

    cb = load_codebook(resources.shipped_dir("codebooks") / "imr-fidelity.yaml")
    s = score_unit(cb, {f.name: v for f, v in zip(cb.items, ratings, strict=True)})
    assert s.band == band
