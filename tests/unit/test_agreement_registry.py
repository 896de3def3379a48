"""The coefficient registry: one declaration per coefficient, read by field_agreement, the CLI
table and the report summary; and the one place agreement reads a field's type."""

from __future__ import annotations

import numpy as np
import pytest

from chartcode import agreement as ag
from chartcode.agreement import registry
from chartcode.codebook.model import TYPES, Choice, Field


def _field(type_, codes=()):
    return Field(name="f", label="f", level="record", type=type_, choices=tuple(Choice(c, str(c)) for c in codes))


ORDINAL = _field("ordinal", range(1, 6))
M = np.array([[0, 0], [1, 1], [2, 3], [3, 3], [4, 2], [1, 1], [0, 1], [2, 2]], dtype=float)


def test_every_codebook_type_has_a_kind():
    assert {ag.kind_of(_field(t)).type for t in TYPES} == set(TYPES)
    assert {t: ag.kind_of(_field(t)).level for t in TYPES} == ag.LEVEL_OF_TYPE
    with pytest.raises(KeyError, match="unknown field type 'never_registered'"):
        ag.kind_of(_field("never_registered"))


def test_keys_labels_and_terms_are_unique():
    for attr in ("key", "label", "term"):
        values = [getattr(c, attr) for c in ag.REGISTRY]
        assert len(values) == len(set(values)), attr
    assert {c.group for c in ag.REGISTRY} - {None} == set(ag.GROUPS)
    assert [c.member for c in registry.members("icc")] == list(ag.ICC_KEYS)
    assert [c.member for c in registry.members("alpha_by_level")] == list(ag.ALPHA_LEVELS)


def test_the_json_shape_comes_from_the_registry():
    res = ag.field_agreement(ORDINAL, M, ["a", "b"], bootstrap=50, seed=1)
    top = [c.key for c in ag.REGISTRY if c.group is None]
    assert [k for k in res if k in top] == top
    assert set(res["alpha_by_level"]) == set(ag.ALPHA_LEVELS) and res["icc"] is None
    assert res["krippendorff_alpha"] == res["alpha_by_level"]["ordinal"]
    for c in ag.REGISTRY:  # every value shown has an interval under its registry key
        if registry.value_of(res, c.key) is not None:
            assert c.key in res["ci"], c.key


def test_cli_labels_are_the_registry_labels():
    from chartcode.cli.agreement import format_field

    res = ag.field_agreement(ORDINAL, M, ["a", "b"])
    text = "\n".join(format_field(res))
    shown = [c for c, _, _ in registry.table_rows(res)]
    assert shown and all(c.label in text for c in shown)
    assert "Krippendorff's alpha, ordinal (field level)" in text


def test_a_new_coefficient_is_one_declaration(monkeypatch):
    """Declared in the registry, a coefficient reaches the JSON, the intervals, the notes and the CLI."""
    from chartcode.cli.agreement import format_field

    half = ag.Coefficient(
        "half_percent",
        "half the percent agreement",
        "half percent",
        lambda s, C, c: ag._k_percent(s.d, C) / 2,
        (registry.CATEGORIES,),
        chance_corrected=False,
    )
    monkeypatch.setattr(registry, "REGISTRY", registry.REGISTRY + (half,))
    monkeypatch.setattr(registry, "BY_KEY", {**registry.BY_KEY, half.key: half})
    res = ag.field_agreement(ORDINAL, M, ["a", "b"], bootstrap=40, seed=2)
    assert res["half_percent"] == pytest.approx(res["percent_agreement"] / 2)
    assert res["ci"]["half_percent"] == pytest.approx([x / 2 for x in res["ci"]["percent_agreement"]])
    assert any(line.strip().startswith("half the percent agreement") for line in format_field(res))
    count = ag.field_agreement(_field("count"), M, ["a", "b"])
    assert count["half_percent"] is None  # CATEGORIES: not for a count field


def test_requirement_notes_are_said_once():
    m3 = np.column_stack([M, M[:, 0]])
    notes = ag.field_agreement(ORDINAL, m3, ["a", "b", "c"])["notes"]
    assert sum(n.startswith("Cohen's kappa: for exactly two coders") for n in notes) == 1
    notes = ag.field_agreement(_field("count"), M, ["a", "b"])["notes"]
    assert sum("for fields with categories" in n for n in notes) == 1
    assert sum(n.startswith("ICC: Shrout & Fleiss") for n in notes) == 1


def test_report_summary_columns():
    res = ag.field_agreement(_field("nominal", range(1, 6)), M, ["a", "b"], bootstrap=30, seed=3)
    cells = ag.summary_cells(res, lambda x: "—" if x is None else f"{x:.3f}")
    assert ag.summary_headers() == ["% agreement", "kappa", "alpha", "alpha 95% CI", "AC1"]
    assert cells[1] == f"{res['cohen_kappa']:.3f}" and cells[3].startswith("[")
    assert ag.summary_numeric(3) == {3, 4, 5, 7}
