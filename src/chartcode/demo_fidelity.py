"""A demo fidelity review to try chartcode's rating scales on: three fictional teams, two periods.

:func:`build_fidelity_demo` makes ``ibbis-demo.db`` from the shipped ``ibbis-fidelity`` audit
(an integrated mental healthcare and vocational rehabilitation fidelity scale modelled on the
IBBIS trial's fidelity reviews). Every team, reviewer finding and memo is invented. Nothing
depends on the clock or on chance: the ratings are the hand-written tables below, so the same
demo comes out every time (only the timestamps the store writes differ).

The module works in three steps:

1. finals    - the agreed rating of every item for each team and review period
               (:data:`FINALS`), designed so that the teams differ: Team North has good
               fidelity and improves, Team East has fair fidelity and improves, Team South
               goes from poor to fair; each team has items below 4 (the action list) and one
               item of Team East's first review cannot be rated (code 9);
2. ratings   - both reviewers rate every unit-period blind with a one-sentence evidence memo
               per item; they agree with the finals except on a few items per unit
               (:data:`DISAGREEMENTS`), mostly by one point, and then submit;
3. consensus - the lead reviewer settles each disagreement with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chartcode.audit import load_audit
from chartcode.demo import new_demo_path
from chartcode.store.connection import remove_database
from chartcode.store.store import Store

DEMO_DB = "ibbis-demo.db"
AUDIT = "ibbis-fidelity"
REVIEWER_A, REVIEWER_B, LEAD = "reviewer-a", "reviewer-b", "lead-reviewer"
REVIEWERS = (REVIEWER_A, REVIEWER_B)
TEAMS = ("Team North", "Team East", "Team South")
PERIODS = ("2025-H1", "2025-H2")
CANNOT_RATE = 9

# The scale's items in codebook order, section by section (4 + 4 + 4 + 5).
ITEMS: tuple[str, ...] = (
    # integration
    "joint_start_meeting",
    "joint_plan",
    "case_coordination",
    "work_focus_in_care",
    # organisation
    "co_location",
    "common_training",
    "joint_supervision",
    "single_case_handling",
    # mental healthcare
    "guideline_care",
    "cbt_delivery",
    "treatment_dose",
    "care_manager_competence",
    # vocational rehabilitation
    "consultant_contact",
    "workplace_contact",
    "graded_return_plan",
    "job_search_support",
    "mentoring",
)
SECTION_SIZES = (4, 4, 4, 5)

# =====================================================================================
# 1. Finals: the agreed ratings, one digit per item in ITEMS order, sections split by spaces
# =====================================================================================
# Designed scores (sum of the agreed ratings; prorated when an item cannot be rated):
#   Team North  2025-H1  16 + 17 + 18 + 18   = 69   good
#               2025-H2  17 + 18 + 18 + 20   = 73   good
#   Team East   2025-H1  12 + 14 + 15 + 12.5 = 54.2 fair  (graded_return_plan cannot be rated:
#                                                          51 from 16 items, x 17/16)
#               2025-H2  14 + 15 + 16 + 15   = 60   fair
#   Team South  2025-H1   7 +  9 + 13 + 10   = 39   poor
#               2025-H2  11 + 12 + 15 + 14   = 52   fair
FINALS_TEXT: dict[tuple[str, str], str] = {
    ("Team North", "2025-H1"): "4444 5444 5445 33444",
    ("Team North", "2025-H2"): "5444 5544 5535 43445",
    ("Team East", "2025-H1"): "3333 4334 4434 22933",
    ("Team East", "2025-H2"): "4343 4434 4444 32334",
    ("Team South", "2025-H1"): "2221 2223 4333 21232",
    ("Team South", "2025-H2"): "3332 3333 4434 32333",
}


def _parse(text: str) -> dict[str, int]:
    groups = text.split()
    if tuple(len(g) for g in groups) != SECTION_SIZES:
        raise ValueError(f"ratings {text!r} do not match the sections {SECTION_SIZES}")
    digits = "".join(groups)
    return dict(zip(ITEMS, (int(d) for d in digits), strict=True))


FINALS: dict[tuple[str, str], dict[str, int]] = {k: _parse(v) for k, v in FINALS_TEXT.items()}


def designed_scores() -> dict[tuple[str, str], dict[str, float]]:
    """Section sums and the total of the agreed ratings per (team, period), prorated like the
    scale (mean of the rated items x number of items) where an item cannot be rated."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    names = ("integration", "organisation", "mental_healthcare", "vocational_rehabilitation")
    for key, ratings in FINALS.items():
        values = [ratings[i] for i in ITEMS]
        scores: dict[str, float] = {}
        start = 0
        for name, size in zip(names, SECTION_SIZES, strict=True):
            part = [v for v in values[start : start + size] if v != CANNOT_RATE]
            scores[name] = sum(part) / len(part) * size
            start += size
        rated = [v for v in values if v != CANNOT_RATE]
        scores["total"] = sum(rated) / len(rated) * len(ITEMS)
        out[key] = scores
    return out


# =====================================================================================
# 2. Ratings: what the reviewers wrote
# =====================================================================================
# The evidence sentence for each rating of each item (reviewer A's wording; reviewer B adds
# where the evidence came from).
EVIDENCE: dict[str, dict[int, str]] = {
    "joint_start_meeting": {
        1: "No sampled file records a face-to-face meeting of participant, care manager and employment "
        "consultant together.",
        2: "3 of 10 files record a three-way face-to-face meeting within 4 weeks; the others met each "
        "professional separately.",
        3: "5 of 10 files record a three-way face-to-face meeting within 4 weeks.",
        4: "7 of 10 files record a three-way face-to-face meeting within 4 weeks.",
        5: "9 of 10 files record a three-way face-to-face meeting within 4 weeks.",
    },
    "joint_plan": {
        1: "Health and work plans are kept in separate systems in every file; no joint plan found.",
        2: "A joint plan in 2 of 10 files; the rest have separate health and work plans.",
        3: "A joint plan with both health and work goals in 5 of 10 files.",
        4: "A joint plan with both health and work goals in 8 of 10 files, revised in only one.",
        5: "A joint plan with both goals in 9 of 10 files, revised after a relapse or job change where one occurred.",
    },
    "case_coordination": {
        1: "No exchange between care manager and consultant documented after the first meeting in 7 of 10 files.",
        2: "Care manager and consultant exchanged notes only when a problem came up, less than once in 3 months.",
        3: "Exchanges between care manager and consultant documented about every 2 months.",
        4: "A monthly case conference note on each participant in most files.",
        5: "Fortnightly case conference notes on each participant in nearly every file.",
    },
    "work_focus_in_care": {
        1: "Work is mentioned in under 10% of care manager session notes.",
        2: "Work is mentioned in about 1 in 5 care manager session notes, mostly in passing.",
        3: "Work is discussed in about 40% of care manager session notes.",
        4: "Work is discussed in about 60% of care manager session notes.",
        5: "Work is discussed in over 75% of care manager session notes, with coping at work practised.",
    },
    "co_location": {
        1: "Care managers and consultants work at different addresses and never share premises.",
        2: "Different addresses; the two professions meet in person about once a month.",
        3: "Consultants share the care managers' premises two days a week per the rota.",
        4: "Same building four days a week, but care managers and consultants sit on separate floors.",
        5: "Care managers and consultants share one open-plan office every working day.",
    },
    "common_training": {
        1: "The training log shows each profession trained only in its own method.",
        2: "Only the consultants had a half-day introduction to the care managers' method.",
        3: "4 of 10 current staff have had the common training.",
        4: "9 of 11 current staff have had the common training; two new consultants have waited over 3 months.",
        5: "All current staff have had the common training, the newest within 6 weeks of starting.",
    },
    "joint_supervision": {
        1: "The supervision log shows only separate supervision for each profession.",
        2: "One joint supervision session in the 6-month period.",
        3: "Joint supervision was held about every 6 weeks.",
        4: "Joint supervision every 3 weeks, but consultants missed about half of the sessions.",
        5: "Joint supervision every 2 weeks with nearly full attendance in the log.",
    },
    "single_case_handling": {
        1: "A jobcentre caseworker handled the benefit case in every file, with no contact with the team.",
        2: "A separate caseworker handled benefits in 8 of 10 files; the consultant met them occasionally.",
        3: "The employment consultant handled both benefit and rehabilitation in 5 of 10 files.",
        4: "The employment consultant handled both benefit and rehabilitation in 8 of 10 files.",
        5: "The employment consultant handled both benefit and rehabilitation in all 10 files.",
    },
    "guideline_care": {
        1: "Treatment matches the guideline in 3 of 10 files.",
        2: "Treatment matches the guideline in 5 of 10 files.",
        3: "Treatment matches the guideline in 7 of 10 files.",
        4: "Treatment matches the guideline in 8 of 10 files.",
        5: "Treatment matches the guideline in 9 of 10 files.",
    },
    "cbt_delivery": {
        1: "Session notes describe supportive talks with no agenda, technique or homework.",
        2: "A named technique appears in about a quarter of sessions; homework is rarely set.",
        3: "About half of the sessions have an agenda, a named technique and homework.",
        4: "Most sessions have agenda, technique and homework, but homework review is missing in 3 of 10 files.",
        5: "Nearly all sessions have agenda, technique and homework, and homework is reviewed next time.",
    },
    "treatment_dose": {
        1: "Median 35% of planned treatment sessions delivered.",
        2: "Median 50% of planned treatment sessions delivered.",
        3: "Median 70% of planned treatment sessions delivered.",
        4: "Median 80% of planned treatment sessions delivered.",
        5: "Median 92% of planned treatment sessions delivered.",
    },
    "care_manager_competence": {
        1: "No care manager has both mental healthcare experience and the programme training.",
        2: "1 of 3 care managers has mental healthcare experience and the programme training.",
        3: "3 of 4 care managers are qualified, but clinical supervision lapsed for 3 months.",
        4: "4 of 5 care managers are qualified and supervised monthly; one is still in training.",
        5: "All 4 care managers are nurses with mental healthcare experience, trained and supervised monthly.",
    },
    "consultant_contact": {
        1: "Median under 1 meeting a month with the employment consultant.",
        2: "Median 1 meeting a month with the employment consultant.",
        3: "Median 2 meetings a month with the employment consultant.",
        4: "Median 3 meetings a month with the employment consultant.",
        5: "Median of weekly meetings with the employment consultant.",
    },
    "workplace_contact": {
        1: "No employer contact documented for any employed participant.",
        2: "Employer contact in 2 of 8 employed participants' files.",
        3: "Employer contact in 3 of 8 employed participants' files.",
        4: "Employer contact in 4 of 7 employed participants' files.",
        5: "Employer contact in 6 of 7 employed participants' files, including two workplace meetings.",
    },
    "graded_return_plan": {
        1: "No written graded plan in any file where the participant returned to work.",
        2: "A start date only, with no steps, in most files with a return to work.",
        3: "A written plan with weekly steps in 2 of 4 returns to work.",
        4: "Written graded plans in 4 of 5 returns to work, but the steps were not followed up.",
        5: "Written graded plans in all 5 returns to work, each step followed up with participant and employer.",
        CANNOT_RATE: "No sampled participant started returning to work in the period, so there was no plan to review.",
    },
    "job_search_support": {
        1: "No individual job search help; participants without a job were referred to group courses.",
        2: "Help was limited to one CV check in the files where it applied.",
        3: "Individual CV and application help in 3 of 6 files where it applied.",
        4: "Individual CV and application help in 5 of 6 files; few jobs approached for the participant.",
        5: "Individual help in all 6 files, with jobs the participant chose approached together.",
    },
    "mentoring": {
        1: "No mentoring on interviews, work problems or managing illness at work documented.",
        2: "Interview preparation in 2 files, nothing after the return to work.",
        3: "Mentoring in 5 of 10 files, mostly before the return to work.",
        4: "Mentoring in 7 of 10 files, with some follow-up after the return.",
        5: "Mentoring in 9 of 10 files, with follow-up in the first weeks back at work.",
    },
}

# Where reviewer B says the evidence came from.
SOURCES: dict[str, str] = {
    "joint_start_meeting": "sampled files and meeting calendar",
    "joint_plan": "sampled files",
    "case_coordination": "sampled files and case conference minutes",
    "work_focus_in_care": "care manager session notes",
    "co_location": "floor plan, rota and staff interviews",
    "common_training": "training log and staff list",
    "joint_supervision": "supervision log",
    "single_case_handling": "sampled files",
    "guideline_care": "sampled files checked against the guideline",
    "cbt_delivery": "session notes",
    "treatment_dose": "session records against treatment plans",
    "care_manager_competence": "staff list, training and supervision logs",
    "consultant_contact": "consultant contact log",
    "workplace_contact": "sampled files",
    "graded_return_plan": "sampled files",
    "job_search_support": "sampled files",
    "mentoring": "consultant session notes",
}


def evidence_memo(reviewer: str, item: str, value: int) -> str:
    """The one-sentence memo a reviewer writes for ``item`` rated ``value`` (where they agree)."""
    sentence = EVIDENCE[item][value]
    if reviewer == REVIEWER_A:
        return sentence
    return f"{sentence[:-1]} ({SOURCES[item]})."


# The items the reviewers rated differently: reviewer A's rating and memo, reviewer B's
# rating and memo, and the lead reviewer's reason for the agreed rating (in FINALS).
Disagreement = tuple[int, str, int, str, str]
DISAGREEMENTS: dict[tuple[str, str, str], Disagreement] = {
    # ---- Team North 2025-H1 ------------------------------------------------------------
    ("Team North", "2025-H1", "joint_plan"): (
        4,
        "Joint plans with health and work goals in 8 of 10 files, but only one was revised after the first month.",
        5,
        "Joint plans with both kinds of goals in 8 of 10 files, and I counted the monthly review notes as revisions.",
        "The monthly review notes restate the plan without changing it, so the plans were not revised: 4.",
    ),
    ("Team North", "2025-H1", "consultant_contact"): (
        3,
        "Median of 2 meetings a month with the employment consultant; several months had a single meeting.",
        4,
        "Median close to 3 contacts a month when the phone check-ins are counted.",
        "Phone check-ins are not meetings under the item rules; a median of 2 meetings a month is a 3.",
    ),
    ("Team North", "2025-H1", "cbt_delivery"): (
        5,
        "Agenda, a named technique and homework in nearly all the sessions I read.",
        4,
        "Agenda, technique and homework in most sessions, but no homework review in 3 of 10 files.",
        "Re-read the 3 files: homework was set but not reviewed the next time, which is the anchor for 4.",
    ),
    # ---- Team North 2025-H2 ------------------------------------------------------------
    ("Team North", "2025-H2", "joint_start_meeting"): (
        5,
        "9 of 10 files record a three-way face-to-face meeting within 4 weeks.",
        4,
        "Three-way meetings within 4 weeks in 7 of 10 files; I read two of them as held by video.",
        "The room bookings show both meetings were held in person, so 9 of 10 files: 5.",
    ),
    ("Team North", "2025-H2", "treatment_dose"): (
        4,
        "Median 76% of planned treatment sessions delivered in the files that had ended.",
        3,
        "Median about 70% of planned sessions; sessions were cancelled while a care manager was on leave.",
        "Recounted with the cancelled sessions kept in the plan: the median is 71%, which is a 3.",
    ),
    ("Team North", "2025-H2", "mentoring"): (
        5,
        "Mentoring in 9 of 10 files, with follow-up calls and meetings in the first weeks back at work.",
        4,
        "Mentoring in most files, but follow-up after the return seen in only 5 files.",
        "Follow-up after the return is in all 5 files where the participant had returned; the others "
        "have not reached it yet, so 5.",
    ),
    # ---- Team East 2025-H1 -------------------------------------------------------------
    ("Team East", "2025-H1", "case_coordination"): (
        3,
        "Care manager and consultant exchanged notes about every 2 months in most files.",
        2,
        "Exchanges mostly when a problem arose; I found little regular contact.",
        "Six files show exchanges every 6-10 weeks that were not about a problem, so 3.",
    ),
    ("Team East", "2025-H1", "joint_supervision"): (
        3,
        "Joint supervision was held every 6 weeks in the period.",
        4,
        "Joint supervision is on the rota every 3-4 weeks.",
        "The log shows 4 joint sessions in 6 months because two rota sessions were cancelled: 3.",
    ),
    ("Team East", "2025-H1", "workplace_contact"): (
        2,
        "Employer contact in 2 of 7 employed participants' files.",
        3,
        "Employer contact in 3 of 7 employed participants' files, counting one e-mail.",
        "An unanswered e-mail to an HR office is not contact about return to work; 2 of 7 is a 2.",
    ),
    ("Team East", "2025-H1", "treatment_dose"): (
        3,
        "Median 65% of planned treatment sessions delivered.",
        4,
        "Median 78% of planned treatment sessions delivered.",
        "Two plans were shortened after missed sessions; counted against the first plans the median is 66%, a 3.",
    ),
    # ---- Team East 2025-H2 -------------------------------------------------------------
    ("Team East", "2025-H2", "work_focus_in_care"): (
        4,
        "Work is discussed in just over half of the care manager session notes.",
        3,
        "Work is mentioned in about 40% of session notes, often in a single line.",
        "Counted across the whole sample, 43% of session notes discuss work, which is a 3.",
    ),
    ("Team East", "2025-H2", "guideline_care"): (
        4,
        "Treatment matches the guideline in 8 of 10 files.",
        5,
        "Treatment matches the guideline in 9 of 10 files.",
        "In one more file medication was not reviewed with the GP after no response to therapy; 8 of 10 is a 4.",
    ),
    ("Team East", "2025-H2", "job_search_support"): (
        3,
        "Individual CV and application help in 3 of 6 participants without a job.",
        4,
        "Individual help with CV and applications in 4 of 6 files where it applied.",
        "One of the 4 was a group course session only; 3 of 6 is about half, a 3.",
    ),
    # ---- Team South 2025-H1 ------------------------------------------------------------
    ("Team South", "2025-H1", "work_focus_in_care"): (
        1,
        "Work is mentioned in 2 of 38 session notes, and one note advises putting work aside until symptoms improve.",
        2,
        "Work is mentioned in a few session notes, mostly as a passing remark.",
        "Fewer than 10% of notes mention work and one advises putting work aside: the anchor for 1.",
    ),
    ("Team South", "2025-H1", "co_location"): (
        2,
        "Care managers work at the health centre and consultants at the jobcentre; they meet monthly.",
        3,
        "Consultants use a room at the health centre on Thursdays.",
        "The Thursday room was booked only in the last month of the period; for the period as a whole, 2.",
    ),
    ("Team South", "2025-H1", "guideline_care"): (
        3,
        "Treatment matches the guideline in 7 of 10 files; three had no psychological treatment offered first.",
        5,
        "Treatment matches the guideline in 9 of 10 files.",
        "Two of the three files had severe depression, where medication first follows the guideline, and "
        "one other file does not match: 8 of 10, a 4.",
    ),
    ("Team South", "2025-H1", "workplace_contact"): (
        1,
        "No employer contact documented for any of the 6 employed participants.",
        2,
        "Employer contact in 1 of 6 employed participants' files.",
        "The one contact was the participant's own call to the manager, not the consultant's: 0 of 6, a 1.",
    ),
    # ---- Team South 2025-H2 ------------------------------------------------------------
    ("Team South", "2025-H2", "joint_plan"): (
        3,
        "Joint plans with both health and work goals in 5 of 10 files.",
        2,
        "Plans called joint in 5 files, but two of them hold only work goals.",
        "The two plans list the treatment goals on their second page; 5 of 10 joint plans is a 3.",
    ),
    ("Team South", "2025-H2", "single_case_handling"): (
        3,
        "The employment consultant handled both benefit and rehabilitation in 5 of 10 files.",
        4,
        "The employment consultant handled both in 7 of 10 files.",
        "In two files the jobcentre caseworker still made the benefit decisions; 5 of 10 is a 3.",
    ),
    ("Team South", "2025-H2", "consultant_contact"): (
        4,
        "Median of 3 meetings a month with the employment consultant, counting video calls.",
        3,
        "Median 2 meetings a month; video calls counted only when agreed in the plan.",
        "Video meetings not agreed in the plan do not count; a median of 2 a month is a 3.",
    ),
}


def ratings(reviewer: str, team: str, period: str) -> list[tuple[str, int, str]]:
    """(item, rating, memo) for every item, as ``reviewer`` rated ``team`` in ``period``."""
    index = REVIEWERS.index(reviewer)
    out = []
    for item in ITEMS:
        d = DISAGREEMENTS.get((team, period, item))
        if d is None:
            value = FINALS[(team, period)][item]
            out.append((item, value, evidence_memo(reviewer, item, value)))
        else:
            a_rating, a_memo, b_rating, b_memo, _reason = d
            out.append((item, a_rating, a_memo) if index == 0 else (item, b_rating, b_memo))
    return out


# =====================================================================================
# Building the database
# =====================================================================================


def build_fidelity_demo(directory: Path, *, progress: Callable[[str], None] | None = None) -> Path:
    """Create ``directory/ibbis-demo.db``: the ibbis-fidelity audit with three fictional teams
    rated in two review periods by two reviewers, with the lead reviewer's consensus on every
    disagreement. Returns the database path."""
    say = progress or (lambda _msg: None)
    db_path = new_demo_path(directory, DEMO_DB)

    audit = load_audit(AUDIT)
    items = tuple(f.name for f in audit.codebook.items)
    if items != ITEMS:  # the tables above are written for this codebook
        raise RuntimeError(f"the {AUDIT} codebook's items changed: {items}")
    say(f"creating {DEMO_DB}")
    store = Store.create(db_path, audit.codebook, audit=audit.as_dict(), audit_source=audit.source, coders=audit.coders)
    try:
        say("adding 3 teams x 2 review periods")
        units = {(team, period): store.add_unit_period(team, period) for team in TEAMS for period in PERIODS}
        for reviewer in REVIEWERS:
            store.assign(reviewer, list(units.values()))
        for reviewer in REVIEWERS:
            say(f"rating by {reviewer}")
            for (team, period), rid in units.items():
                for item, value, memo in ratings(reviewer, team, period):
                    store.set_code(reviewer, rid, item, value)
                    store.set_memo(reviewer, rid, item, memo)
                store.submit(reviewer, rid)
        say(f"consensus by {LEAD}")
        for (team, period, item), d in DISAGREEMENTS.items():
            store.set_consensus(units[(team, period)], item, FINALS[(team, period)][item], reason=d[4], decided_by=LEAD)
    except BaseException:
        store.close()
        remove_database(db_path)
        raise
    store.close()
    say("done")
    return db_path
