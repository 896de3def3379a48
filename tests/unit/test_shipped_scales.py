"""The shipped rating scales say what their sources say: items, sections, rating points, bands."""

from __future__ import annotations

import pytest

from chartcode import resources
from chartcode.audit import load_audit
from chartcode.codebook import load_codebook


def shipped(name: str):
    return load_codebook(resources.resolve("codebooks", name))


def items_by_section(cb) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {s.id: [] for s in cb.scale.sections}
    for f in cb.fields:
        if f.section:
            out[f.section].append(f.name)
    return out


def bands(bands_) -> list[tuple[str, float | None]]:
    return [(b.label, b.min) for b in bands_]


def assert_five_point_items_with_anchors(cb) -> None:
    for f in cb.fields:
        if not f.section:
            continue
        assert f.type == "ordinal", f.name
        assert f.rating_codes == (1, 2, 3, 4, 5), f.name
        assert f.missing_codes == (9,), f.name
        assert f.choice(9).missing and f.choice(9).label == "Cannot rate"
        for c in f.choices:
            if not c.missing:
                assert c.description.strip(), f"{f.name} rating point {c.code} needs an anchor"
        anchors = [c.description for c in f.choices if not c.missing]
        assert len(set(anchors)) == 5, f"{f.name}: every rating point needs its own anchor"
        assert f.rules.strip(), f"{f.name} needs rating rules"
        assert f.level == "record"


IPS_ITEMS = {
    "staffing": ["caseload_size", "employment_services_staff", "vocational_generalists"],
    "organization": [
        "integration_team_assignment",
        "integration_team_contact",
        "collaboration_with_vr",
        "vocational_unit",
        "employment_supervisor_role",
        "zero_exclusion",
        "agency_focus_competitive_work",
        "executive_team_support",
    ],
    "services": [
        "work_incentives_planning",
        "disclosure",
        "ongoing_work_based_assessment",
        "rapid_job_search",
        "individualized_job_search",
        "job_development_frequency",
        "job_development_quality",
        "diversity_of_job_types",
        "diversity_of_employers",
        "competitive_jobs",
        "individualized_follow_along",
        "time_unlimited_follow_along",
        "community_based_services",
        "assertive_engagement_outreach",
    ],
}


def test_ips_fidelity_has_25_items_in_3_8_14_and_the_published_bands():
    cb = shipped("ips-fidelity")
    sc = cb.scale
    assert sc.scoring == "sum"
    assert [s.id for s in sc.sections] == ["staffing", "organization", "services"]
    by = items_by_section(cb)
    assert by == IPS_ITEMS
    assert [len(v) for v in by.values()] == [3, 8, 14]
    assert sum(len(v) for v in by.values()) == 25
    assert bands(sc.bands) == [
        ("Exemplary fidelity", 115),
        ("Good fidelity", 100),
        ("Fair fidelity", 74),
        ("Not supported employment", None),
    ]
    assert sc.cannot_rate == 9 and sc.max_unrated == 0 and sc.action_below == 4
    assert_five_point_items_with_anchors(cb)


def test_ips_cut_offs_in_the_anchors():
    cb = shipped("ips-fidelity")
    caseload = cb.field("caseload_size")
    assert "41 or more" in caseload.choice(1).description
    assert "20 or fewer" in caseload.choice(5).description
    rapid = cb.field("rapid_job_search")
    assert "271 days or more" in rapid.choice(1).description
    assert "within 30 days" in rapid.choice(5).description


IMR_ITEMS = [
    "session_size",
    "program_length",
    "curriculum_comprehensiveness",
    "educational_handouts",
    "significant_others",
    "goal_setting",
    "goal_follow_up",
    "motivation_strategies",
    "educational_techniques",
    "cbt_techniques",
    "coping_skills_training",
    "relapse_prevention",
    "behavioral_tailoring",
]


def test_imr_fidelity_has_13_items_scored_by_mean():
    cb = shipped("imr-fidelity")
    sc = cb.scale
    assert sc.scoring == "mean"
    assert [f.name for f in cb.fields if f.section] == IMR_ITEMS
    assert bands(sc.bands) == [("High fidelity", 4.0), ("Moderate fidelity", 3.0), ("Low fidelity", None)]
    assert sc.cannot_rate == 9 and sc.action_below == 3 and sc.max_unrated == 2
    assert_five_point_items_with_anchors(cb)


EIMR_TARGETS = {
    "m01_recovery_strategies": 4,
    "m02_practical_facts": 4,
    "m03_stress_vulnerability": 3,
    "m04_social_support": 7,
    "m05_medication": 4,
    "m06_drug_alcohol": 7,  # no count in the seed's E-IMR outline: chartcode's choice (see its rules)
    "m07_reducing_relapses": 4,
    "m08_coping_stress": 5,
    "m09_coping_problems": 6,
    "m10_needs_met": 3,
    "m11_healthy_lifestyles": 2,
}


def test_eimr_modules_are_11_counts_with_planned_sessions():
    cb = shipped("eimr-modules")
    sc = cb.scale
    assert sc.scoring == "completion"
    items = [f for f in cb.fields if f.section]
    assert {f.name: f.target for f in items} == EIMR_TARGETS
    assert [f.name for f in items] == list(EIMR_TARGETS)
    for f in items:
        assert f.type == "count" and f.min == 0, f.name
        assert f.rules.startswith(f"Planned: {int(f.target)} session"), f.name
    assert "chartcode's choice" in cb.field("m06_drug_alcohol").rules
    assert bands(sc.bands) == [("Delivered as planned", 90), ("Mostly delivered", 70), ("Incompletely delivered", None)]
    assert all(items_by_section(cb).values())


def test_recovery_standards_are_10_traffic_lights():
    cb = shipped("recovery-standards")
    sc = cb.scale
    assert sc.scoring == "mean" and sc.display == "traffic_light"
    assert len(sc.sections) >= 2 and all(items_by_section(cb).values())
    items = [f for f in cb.fields if f.section]
    assert len(items) == 10
    assert [f.name[:3] for f in items] == [f"s{i:02d}" for i in range(1, 11)]
    descriptions = set()
    for f in items:
        assert f.type == "ordinal"
        assert [(c.code, c.label, c.colour) for c in f.choices if not c.missing] == [
            (1, "Red", "red"),
            (2, "Amber", "amber"),
            (3, "Green", "green"),
        ]
        assert f.missing_codes == (9,)
        for c in f.choices:
            if not c.missing:
                assert c.description.strip(), f"{f.name} {c.label} needs a description"
                descriptions.add(c.description)
    assert len(descriptions) == 30, "each standard's colours are described for that standard"
    assert [(b.label, b.min, b.colour) for b in sc.bands] == [
        ("Green", 2.5, "green"),
        ("Amber", 1.75, "amber"),
        ("Red", None, "red"),
    ]
    assert sc.cannot_rate == 9 and sc.action_below == 3
    comments = cb.field("overall_comments")
    assert comments.type == "text" and not comments.section


def test_recovery_practice_notes_are_10_note_level_checks():
    cb = shipped("recovery-practice-notes")
    assert cb.scale is None
    assert len(cb.fields) == 10
    for f in cb.fields:
        assert f.level == "note" and f.type == "nominal", f.name
        assert {c.code: c.label for c in f.choices} == {1: "Yes", 0: "No", 2: "Unclear"}
        assert f.rules.strip() and f.cues, f.name


@pytest.mark.parametrize("name", resources.shipped_names("audits"))
def test_every_shipped_audit_loads(name):
    audit = load_audit(name)
    assert audit.id == name
    assert audit.codebook.fields
    assert audit.coders


def test_the_new_audits_are_shipped_with_their_raters():
    names = resources.shipped_names("audits")
    for name in ("ips-fidelity", "imr-fidelity", "eimr-modules", "recovery-standards", "recovery-practice-notes"):
        assert name in names
    for name in ("ips-fidelity", "imr-fidelity", "eimr-modules"):
        assert load_audit(name).coders == [
            ("reviewer-a", "coder"),
            ("reviewer-b", "coder"),
            ("lead-reviewer", "supervisor"),
            ("qi-lead", "lead"),
        ]
    assert load_audit("recovery-standards").coders == [
        ("service-users", "coder"),
        ("carers", "coder"),
        ("staff", "coder"),
        ("recovery-lead", "supervisor"),
        ("qi-lead", "lead"),
    ]
    for name in ("ips-fidelity", "imr-fidelity", "eimr-modules", "recovery-standards", "recovery-practice-notes"):
        audit = load_audit(name)
        assert "derived" not in audit.sections and "analyses" not in audit.sections
