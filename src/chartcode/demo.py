"""A demo audit to try chartcode on: 24 fictional veterans' charts, coded and double-coded.

:func:`build_demo` makes ``demo.db`` from the shipped ``conjoint-pain`` audit. The data
follow the study that started chartcode (24 veterans with chronic pain who had a conjoint
pain-pharmacy / health-psychology session; 6 records double-coded by a supervisor), but
every patient, clinician and note is invented, and every note says so in its first line.
Nothing depends on the clock or on chance: the same demo comes out every time.

The module works in three steps:

1. truth  - what "really happened" to each fictional veteran, as one code for every
            codebook field, drawn to match the study's patient table and results
            (:data:`COURSES` plus seeded draws of the demographics);
2. notes  - chart notes written from that truth with varied wording, so that a careful
            coder applying the codebook's decision rules arrives back at the truth;
3. codes  - the intern's codes (the truth) for records 1-18 (all 24 with ``complete``)
            and the supervisor's codes for the 6-record double-coding sample, which
            differ from the intern's on a handful of judgement calls.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartcode.audit import load_audit
from chartcode.errors import UserError
from chartcode.files import atomic_write
from chartcode.importers.codes import import_codes
from chartcode.importers.notes import import_notes
from chartcode.store.connection import remove_database
from chartcode.store.store import Store

DEMO_DB = "demo.db"
AUDIT = "conjoint-pain"
SEED = 20230301  # the truth and the wording
SAMPLE_SEED = 20240601  # the double-coding sample (as in audits/conjoint-pain.yaml)
SAMPLE_SIZE = 6
N_RECORDS = 24
INTERN_CODED = 18  # records 19-24 are left for the person trying the coding screen
INTERN, SUPERVISOR = "intern", "supervisor"
SYNTHETIC = "SYNTHETIC DEMO NOTE - fictional patient, not a real record."
# Fields whose demo distribution follows the study's patient table, which does not use
# every code (no women coded "not documented", no Black or Hispanic veterans, nobody in
# SUD treatment). Every other choice field uses all of its codes across the 24 records.
STUDY_FIXED_FIELDS = ("sex", "race_ethnicity", "sud_treatment")

WINDOW_START = dt.date(2023, 3, 1)  # the 3 months in which conjoint sessions were offered
WINDOW_END = dt.date(2023, 5, 31)


# =====================================================================================
# 1. Truth
# =====================================================================================


@dataclass(frozen=True)
class Course:
    """The shape of one veteran's care from the first conjoint visit to the last note.

    ``visits``: one entry per conjoint visit, its session_content code followed by the
    letters of what it contained: P psychoeducation, F functional assessment, S a coping
    skill taught. ``followup``: health-psychology sessions in order (p phone, i individual,
    g group). ``after``: what follows them: n a missed appointment, r a pharmacy visit that
    checks on the skills.
    """

    visits: tuple[str, ...]
    followup: str
    after: str
    accepted: int
    outcome: int  # last_note_outcome
    termination: int
    mh: int  # mental health diagnosis: fixed here because it predicts acceptance
    referral: str = ""  # "pcmhi" or "smh": referred elsewhere at the first conjoint visit


# 24 courses matching the study: 14 veterans with one conjoint session, 8 with two and 2
# with three (mean 1.5); 12 accepted follow-up (phone 3, individual 3, both 2, group 2,
# 2 never completed a session); first sessions 9 with psychoeducation, 13 with a
# functional assessment, 10 with a skill; 2 referred elsewhere (1 followed through).
# Mental health diagnosis: 7 of 18 with one accepted follow-up, 5 of 6 without one did.
COURSES: tuple[Course, ...] = (
    # ---- accepted follow-up ----------------------------------------------------------
    Course(("3FS", "6FS"), "pp", "", 1, 5, 1, 0),
    Course(("3PF", "6FS"), "iiiiii", "", 1, 5, 1, 1),
    Course(("3PFS", "6FS", "6PF"), "piipii", "", 1, 5, 5, 1),
    Course(("2F", "6PF"), "ppp", "", 1, 4, 4, 0),
    Course(("4S", "6FS"), "ii", "", 1, 4, 4, 1),
    Course(("3FS", "4P"), "gggg", "", 1, 3, 4, 0),
    Course(("3FS", "2F", "1"), "", "", 1, 2, 4, 1),
    Course(("3PF", "6FS"), "gg", "", 1, 2, 2, 1),
    Course(("2F", "6FS"), "ip", "", 1, 6, 4, 1, "pcmhi"),
    Course(("3PS", "6FS"), "pp", "", 1, 3, 4, 0),
    Course(("3PFS",), "", "nn", 1, 2, 3, 1),
    Course(("3PF",), "i", "nn", 1, 2, 3, 0),
    # ---- declined follow-up ----------------------------------------------------------
    Course(("3FS",), "", "r", 0, 3, 4, 1),
    Course(("2F",), "", "", 0, 1, 4, 1),
    Course(("2F",), "", "", 0, 1, 4, 0),
    Course(("4S",), "", "r", 0, 3, 4, 1),
    Course(("4S",), "", "", 0, 2, 4, 1),
    Course(("4P",), "", "", 0, 2, 4, 1),
    Course(("4P",), "", "", 0, 2, 4, 1),
    Course(("4P",), "", "", 0, 2, 4, 1),
    Course(("5",), "", "", 0, 1, 4, 1, "smh"),
    Course(("5",), "", "", 0, 1, 4, 1),
    Course(("5",), "", "", 0, 1, 4, 1),
    Course(("5",), "", "", 0, 1, 4, 1),
)

# Mean 60.7, SD 7.2, range 50-80 (the study: 60.6, 7.1, 50-80).
AGES = (50, 51, 52, 53, 54, 55, 55, 56, 57, 58, 59, 60, 61, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 80)
PRIOR_HP = (0,) * 15 + (1,) * 3 + (2,) * 3 + (3,) * 3  # none / group / individual / referred only
N_FEMALE, N_UNDISCLOSED, N_MH_TREATMENT, N_SUD = 1, 2, 10, 5


@dataclass(frozen=True)
class Visit:
    """One conjoint session and its note-level codes."""

    content: int
    psychoeducation: int
    functional: int
    skills: int

    @classmethod
    def parse(cls, spec: str) -> Visit:
        flags = spec[1:]
        return cls(int(spec[0]), int("P" in flags), int("F" in flags), int("S" in flags))

    def codes(self) -> dict[str, int]:
        return {
            "session_content": self.content,
            "psychoeducation": self.psychoeducation,
            "functional_assessment": self.functional,
            "skills_introduced": self.skills,
        }


@dataclass
class Truth:
    """Everything the chart of one fictional veteran should let a coder find."""

    record_id: str
    course: Course
    age: int
    sex: int
    race: int
    mh_treatment: int
    sud: int
    prior_hp: int

    @property
    def visits(self) -> list[Visit]:
        return [Visit.parse(v) for v in self.course.visits]

    @property
    def followup_type(self) -> int | None:
        kinds = set(self.course.followup)
        if not kinds:
            return None
        if kinds == {"g"}:
            return 4
        if kinds == {"p"}:
            return 2
        if kinds == {"i"}:
            return 1
        return 3

    def record_codes(self, conditions: bool = True) -> dict[str, int | None]:
        """The record-level codes; ``conditions=False``: as coded before the codebook's show_if
        (conjoint-pain 1.0), when a veteran who declined follow-up still took a 0 for
        follow-up evident and for the number of follow-up sessions."""
        c = self.course
        applies = bool(c.accepted) or not conditions
        later_conjoint = sum(1 for v in self.visits[1:] if v.content != 1)
        return {
            "age": self.age,
            "sex": self.sex,
            "race_ethnicity": self.race,
            "mh_diagnosis": c.mh,
            "mh_treatment": self.mh_treatment,
            "sud_diagnosis": self.sud,
            "sud_treatment": 0,
            "prior_hp_contact": self.prior_hp,
            "referred_elsewhere": int(bool(c.referral)),
            "accepted_followup": c.accepted,
            # the follow-up fields apply only when follow-up was accepted (the codebook's show_if)
            "followup_type": self.followup_type if applies else None,
            "followup_evident": int(bool(c.followup)) if applies else None,
            "followup_sessions": later_conjoint + len(c.followup) if applies else None,
            "last_note_outcome": c.outcome,
            "termination": c.termination,
        }


def make_truths() -> list[Truth]:
    """The 24 veterans, VET-001 .. VET-024, from :data:`COURSES` and seeded draws."""
    rng = random.Random(SEED)
    courses = list(COURSES)
    rng.shuffle(courses)
    ages = list(AGES)
    rng.shuffle(ages)
    prior = list(PRIOR_HP)
    rng.shuffle(prior)
    women = set(rng.sample(range(N_RECORDS), N_FEMALE))
    undisclosed = set(rng.sample(range(N_RECORDS), N_UNDISCLOSED))
    # a veteran referred to mental health care at the visit was not in it already
    can_be_treated = [i for i, c in enumerate(courses) if c.mh and not c.referral]
    treated = set(rng.sample(can_be_treated, N_MH_TREATMENT))
    sud = set(rng.sample(range(N_RECORDS), N_SUD))
    return [
        Truth(
            record_id=f"VET-{i + 1:03d}",
            course=courses[i],
            age=ages[i],
            sex=2 if i in women else 1,
            race=9 if i in undisclosed else 1,
            mh_treatment=int(i in treated),
            sud=int(i in sud),
            prior_hp=prior[i],
        )
        for i in range(N_RECORDS)
    ]


# =====================================================================================
# 2. Notes
# =====================================================================================

PHARMACISTS = ("Dr. A. Rivera, PharmD", "Dr. J. Nakamura, PharmD")
PSYCHOLOGIST = "Dr. K. Osei, PhD (health psychology)"
RESIDENT = "M. Haddad, MA (health psychology resident)"
HP_INTERN = "Health psychology intern"

BRANCHES = ("Army", "Navy", "Air Force", "Marine Corps", "Army National Guard")
CONDITIONS = (
    "chronic low back pain from lumbar degenerative disc disease",
    "bilateral knee osteoarthritis",
    "chronic neck pain with cervical radiculopathy",
    "persistent low back pain after a lumbar laminectomy",
    "painful diabetic peripheral neuropathy in both feet",
    "chronic right shoulder pain (rotator cuff arthropathy)",
    "hip osteoarthritis and chronic low back pain",
)
REGIMENS = (
    # (what is reviewed at the first visit, its short name later, whether it includes an opioid)
    ("duloxetine 60 mg daily, acetaminophen 1 g three times daily and diclofenac 1% gel", "duloxetine", False),
    ("gabapentin 600 mg three times daily and meloxicam 15 mg daily", "gabapentin and meloxicam", False),
    ("tramadol 50 mg twice daily and acetaminophen 650 mg three times daily", "tramadol", True),
    (
        "a buprenorphine 7.5 mcg/h weekly patch (rotated from oxycodone in 2022) and lidocaine 5% patches",
        "the buprenorphine patch",
        True,
    ),
    ("nortriptyline 25 mg at bedtime and naproxen 500 mg twice daily", "nortriptyline and naproxen", False),
    ("pregabalin 75 mg twice daily and acetaminophen as needed", "pregabalin", False),
)
PHARMACY_PLANS = (
    "No medication changes today; refills sent.",
    "Continue the current regimen; recheck in 4-6 weeks.",
    "Discussed a slow dose reduction; {he} prefers to stay at the current dose for now.",
    "Reviewed topical options; none added today.",
    "Reinforced taking medications as scheduled rather than only when pain peaks.",
)
LATER_PHARMACY_PLANS = (
    "No medication changes; next refill due in 2 weeks.",
    "Continue as is; reviewed when to call the clinic about side effects.",
    "No changes today; bowel regimen and fall precautions reviewed.",
    "Medication plan unchanged; the veteran agrees.",
)
ACTIVITIES = (
    "yard work",
    "walking the dog",
    "fishing",
    "working in the garage",
    "grocery shopping",
    "playing with the grandchildren",
    "church activities",
    "household chores",
    "a part-time job",
    "woodworking",
    "cooking",
    "volunteering at the food pantry",
)
MH_DIAGNOSES = (
    "major depressive disorder",
    "PTSD",
    "generalized anxiety disorder",
    "unspecified depressive disorder",
    "bipolar II disorder",
    "panic disorder",
)
MH_CARE = (
    "followed by BHIP psychiatry for medication management (sertraline)",
    "in individual therapy with outpatient mental health every other week",
    "seen in the mental health clinic for medication management (bupropion)",
    "attends a weekly outpatient mental health therapy group",
)
SUD_DIAGNOSES = ("alcohol use disorder, mild", "alcohol use disorder, moderate", "cannabis use disorder, mild")
THOUGHTS = (
    "my body is falling apart",
    "this will never get better",
    "I'm useless when it flares",
    "if it hurts, I'm doing damage",
)
DECLINE_REASONS = (
    "says {he} would rather manage on {his} own",
    "not interested at this time",
    "prefers to focus on medications",
    "too busy with work and family right now",
)
SKILL_NAMES = {
    "breathing": "diaphragmatic breathing",
    "pacing": "activity pacing",
    "pmr": "progressive muscle relaxation",
    "cognitive": "cognitive restructuring (thought challenging)",
    "imagery": "relaxation imagery",
    "pleasant": "pleasant activity scheduling",
}

INTRO = (
    "Veteran was offered and agreed to a joint visit with health psychology as part of today's pain "
    "medication clinic appointment.",
    "Seen jointly by the clinical pharmacy specialist and health psychology; the joint visit was offered as "
    "part of usual clinic flow and {he} agreed.",
    "Conjoint visit: {he} agreed to have health psychology join the pain medication appointment.",
)
OPENINGS = (
    "{age}-year-old {sex} {branch} veteran with {condition} for about {years} years.",
    "Veteran is a {age}-year-old {sex} ({branch}) followed in pain medication clinic for {condition} "
    "(about {years} years).",
    "{age} y/o {sex} veteran ({branch}) with a long history of {condition}, roughly {years} years.",
)
RACE_TEXT = {
    1: (
        "Self-identifies as non-Hispanic White.",
        "Race/ethnicity: White, not Hispanic or Latino.",
        "Demographics: non-Hispanic White.",
    ),
    9: ("Race/ethnicity: declined to answer.", "Race and ethnicity not disclosed in demographics."),
}
PRIOR_TEXT = {
    0: (
        "No previous health psychology contact.",
        "Has not seen health psychology before.",
        "This is {his} first contact with health psychology.",
    ),
    1: (
        "Previously attended {n} sessions of the CBT for chronic pain group ({year}).",
        "History of attending the pain school group in {year} ({n} sessions).",
    ),
    2: (
        "Seen individually by health psychology for {n} sessions in {year}.",
        "Prior individual health psychology care ({n} visits, {year}) for pain coping.",
    ),
    3: (
        "Was referred to health psychology in {year} but did not schedule.",
        "A {year} health psychology consult was discontinued after {he} did not respond to scheduling.",
    ),
}

FUNCTION_TEXT = (
    "Assessed how pain affects daily function: {he} has cut back on {act1} and {act2}, and wakes "
    "{n} times a night with pain.",
    "Functional assessment: pain interferes most with {act1} and {act2}; sleep is about {hours} hours a "
    "night and {he} is more irritable with family on bad days.",
    "Discussed the impact of pain on daily activities: {he} can no longer manage {act1} without stopping, "
    "has given up {act2}, and sleep is broken.",
    "Reviewed function: {act1} and {act2} are limited by pain; {he} sleeps {hours} hours on average and "
    "feels down on high-pain days.",
)
COPING_TEXT = (
    "Assessed current coping strategies and mood: {he} relies mostly on heat, rest and 'pushing through', "
    "and describes mood as fair.",
    "Explored how {he} copes with pain now (medication, heat packs, television) and screened mood; no safety concerns.",
)
EDUCATION_TEXT = {
    "bps": (
        "Provided psychoeducation on the biopsychosocial model of chronic pain: how stress, mood, sleep "
        "and activity interact with pain signals.",
        "Educated {him} about the biopsychosocial model: the pain is real and physical, and thoughts, "
        "emotions and activity level can turn it up or down.",
    ),
    "gate": (
        "Educated {him} on the gate control theory of pain using the 'volume knob' image: worry, tension "
        "and inactivity open the gate, while engagement and calm help close it.",
        "Psychoeducation on gate control theory - why pain feels worse when {he} is stressed or idle.",
    ),
    "sleep": (
        "Education on how sleep, activity and pain affect one another, including the boom-and-bust "
        "cycle and hurt versus harm.",
        "Provided education about the pain-sleep cycle and about activity and pain: doing too much on "
        "good days and resting on bad days keeps the cycle going.",
    ),
    "meds": (
        "Psychoeducation on medication and mood: pain medication is one tool among several, and low "
        "mood and stress can make pain feel worse.",
        "Educated {him} on how medication and mood interact, and on realistic expectations of what "
        "medication alone can do.",
    ),
}
SKILL_TEXT = {
    "breathing": (
        "Introduced diaphragmatic breathing and practised it for about {mins} minutes in session; "
        "{he} said {he} felt calmer. Handout given; plan to practise twice a day.",
        "Taught slow diaphragmatic breathing (4-second inhale, 6-second exhale) as a coping skill "
        "for pain flares; {he} practised in session and rated tension lower afterward.",
    ),
    "pacing": (
        "Taught activity pacing: instead of working until pain forces a stop, break {act1} into "
        "{quota}-minute blocks with planned rest breaks.",
        "Introduced pacing with time-based quotas, using {act1} as the example; practised setting a "
        "starting quota of {quota} minutes.",
    ),
    "pmr": (
        "Led a brief progressive muscle relaxation exercise (shoulders, neck and jaw); {he} noticed less "
        "muscle tension afterward and took home an audio link.",
        "Practised progressive muscle relaxation together in session for about {mins} minutes.",
    ),
    "cognitive": (
        'Introduced cognitive restructuring: identified the thought "{thought}" during flares and '
        "practised a more balanced response.",
        'Worked on a cognitive coping skill: catching catastrophizing thoughts ("{thought}") and '
        "writing down an alternative thought.",
    ),
    "imagery": (
        "Guided a short relaxation imagery exercise (a lake {he} knows well); {he} stayed with it "
        "and reported feeling calmer.",
        "Practised guided imagery for relaxation for about {mins} minutes; {he} was able to focus on the scene.",
    ),
    "pleasant": (
        "Began pleasant activity scheduling: chose {act2} on two days this week as a low-strain activity {he} enjoys.",
        "Introduced scheduling pleasant activities as a coping skill and planned two for the coming week.",
    ),
}
REVIEW_AND_PRACTISE = (
    "Reviewed home practice of {skill} and practised it together again in session.",
    "Went over how {skill} has gone at home and rehearsed it again in session.",
)
ASSESSMENT_ONLY = (
    "No skills or education provided today; the focus was on understanding {his} pain experience.",
    "Assessment only today; no coping skills or education given.",
)
NO_ASSESSMENT = (
    "No formal psychological assessment today ({reason}); the health psychology portion went straight to {what}.",
    "Brief health psychology contact without assessment (time limited: {reason}).",
)
SHORT_REASONS = ("veteran had a ride waiting", "the visit ran late", "veteran asked to keep it short")
SERVICES_ONLY = (
    "Health psychology described the services available in primary care (individual or telephone sessions, "
    "the CBT for chronic pain group, pain school) and gave {him} a brochure and the clinic number. No "
    "assessment or intervention today.",
    "The psychology portion was limited to information about health psychology services and how to schedule "
    "them; no assessment or skills today.",
)
DECLINED = (
    "Health psychology offered the psychology portion of the visit; {he} declined today, saying {he} only "
    "wanted to go over medications. Visit continued with pharmacy only.",
    "Veteran declined the health psychology part of today's visit ('not today'); this was respected and the "
    "visit continued with pharmacy only.",
)

# ---- follow-up sessions --------------------------------------------------------------
PHONE_OPEN = (
    "Telephone session; identity verified with two identifiers and current location confirmed.",
    "Scheduled phone follow-up. Veteran verified identity and location; agreed to proceed by phone.",
)
INDIVIDUAL_OPEN = ("In-person individual session, 45 minutes.", "Individual session in primary care, 50 minutes.")
STATUS_O = (
    "Alert and engaged; speech normal; mood 'okay', affect congruent. Denies SI/HI.",
    "Cooperative, good eye contact, thought process linear. Denies thoughts of harming self or others.",
)
FIRST_SESSION = (
    "First follow-up after the conjoint visit. Reviewed what {he} took from it and set a goal: {goal}.",
    "Initial health psychology follow-up. Discussed what {he} hopes to get from these sessions: {goal}.",
)
WEEK_TEXT = (
    "Reports pain about {p}/10 this week and a quiet week at home.",
    "Pain averaged {p}/10 since the last contact; family visited over the weekend.",
    "{He} rates pain {p}/10 this week and had a VA dental appointment in between.",
)
MI_TEXT = (
    "Used motivational interviewing to explore readiness for practice; {he} rated importance {i}/10 and "
    "confidence {c}/10 and named one barrier ({barrier}).",
    "Reflected {his} reasons for wanting change and elicited a specific home practice plan for the coming week.",
)
GOALS = (
    "get back to {act2} twice a week",
    "have fewer days lost to flares",
    "be more patient with family on high-pain days",
    "walk 20 minutes most days",
)
# Sessions between the first and the last, in this order after the first (the rest shuffled).
MIDDLE_SESSIONS = (
    "Reviewed home practice: {he} has tried {skill} a few times. Introduced {skill2}; practised in session.",
    "Practised {skill2} again and built a flare plan (what to do in the first hour of a flare).",
    "Set a values-based activity goal around {act2} and planned the steps to get there.",
    "Provided education on sleep and pain and on keeping a regular wake time; reviewed {skill} practice.",
    "Went over a hard week: problem-solved barriers to practice and revised the flare plan.",
)
OUTCOME_TEXT = {
    2: (
        "Reviewed {skill} from earlier sessions; {he} has not practised it ('I haven't really tried it yet') "
        "and {his} routine is unchanged.",
        "{He} has not used {skill} since it was introduced; no home practice to review.",
    ),
    3: (
        "{He} reports using {skill} a few times a week, usually in the evening.",
        "{He} says {he} has been using {skill} on most days when pain picks up.",
    ),
    4: (
        "{He} reports using {skill} daily and feels confident with it ('I've got it down now'); describes "
        "using it on {his} own when pain flares.",
        "{He} has been using {skill} every day with success and is confident {he} can keep it up without prompting.",
    ),
    5: (
        "{He} reports using {skill} daily with success and says {his} pain is more manageable; {he} is back to {act2}.",
        "{He} uses {skill} every day, says it works, and reports that pain management overall is better "
        "than it has been in years.",
    ),
}
TERMINATION_TEXT = {
    1: (
        "Treatment goals met. Writer and veteran collaboratively agreed to complete health psychology services; "
        "discharged, and {he} knows {he} can re-consult any time.",
        "Goals reached; by mutual agreement this was the final session. Episode of care completed.",
    ),
    2: (
        "Veteran and writer agreed that {service} is not a good match for {him} at this time; discharged from "
        "health psychology, with re-consult welcome later.",
    ),
    4: (
        "{He} declined further health psychology sessions at this time; discharged with information on how to return.",
        "{He} does not want more sessions for now and declined further scheduling; episode closed.",
    ),
    5: ("Will continue; next session scheduled in 2 weeks.", "Plan to continue sessions; next visit booked."),
}
GROUP_TOPICS = (
    "pain education and the biopsychosocial model",
    "diaphragmatic breathing and relaxation",
    "activity pacing",
    "thoughts and pain (cognitive coping)",
    "sleep and pain",
    "pleasant activities and values",
    "communication and pain",
    "flare planning and relapse prevention",
)


@dataclass
class Note:
    note_id: str
    record_id: str
    note_date: dt.date
    note_type: str
    author: str
    text: str
    visit: Visit | None = None  # the truth behind a conjoint note


@dataclass
class DemoRecord:
    truth: Truth
    notes: list[Note] = field(default_factory=list)

    @property
    def record_id(self) -> str:
        return self.truth.record_id


class _Writer:
    """Writes one veteran's notes from the truth; all wording comes from a per-record RNG."""

    def __init__(self, truth: Truth):
        self.t = truth
        self.c = truth.course
        self.rng = random.Random(f"{SEED}:{truth.record_id}")
        r = self.rng
        female = truth.sex == 2
        acts = r.sample(ACTIVITIES, 2)
        skills = r.sample(sorted(SKILL_NAMES), 2)
        self.skill, self.skill2 = skills
        self.topic, self.topic2 = r.sample(sorted(EDUCATION_TEXT), 2)
        regimen, regimen_short, self.opioid = r.choice(REGIMENS)
        self.pharmacist = r.choice(PHARMACISTS)
        self.psychologist = r.choice((PSYCHOLOGIST, RESIDENT))
        mh = r.sample(MH_DIAGNOSES, r.choice((1, 1, 2)))
        if self.c.referral == "smh" and "PTSD" not in mh:
            mh = ["PTSD"]
        if self.c.referral == "pcmhi":
            mh = ["major depressive disorder"]
        self.mh_dx = " and ".join(mh)
        self.slots: dict[str, Any] = {
            "he": "she" if female else "he",
            "He": "She" if female else "He",
            "him": "her" if female else "him",
            "his": "her" if female else "his",
            "His": "Her" if female else "His",
            "sex": "female" if female else "male",
            "age": truth.age,
            "branch": r.choice(BRANCHES),
            "condition": r.choice(CONDITIONS),
            "years": r.randint(4, 25),
            "regimen": regimen,
            "regimen_short": regimen_short,
            "act1": acts[0],
            "act2": acts[1],
            "skill": SKILL_NAMES[self.skill],
            "skill2": SKILL_NAMES[self.skill2],
            "thought": r.choice(THOUGHTS),
            "mh_care": r.choice(MH_CARE),
            "sud_dx": r.choice(SUD_DIAGNOSES),
            "year": r.choice((2019, 2020, 2021, 2022)),
            "n": r.randint(2, 4),
            "hours": r.randint(4, 6),
            "mins": r.choice((3, 5, 10)),
            "quota": r.choice((15, 20, 30)),
        }
        self.slots["goal"] = self.fill(r.choice(GOALS))
        self.skill_taught = False  # has a coping skill been taught yet (for the last notes)
        self.gaps: list[int] = []
        rest = list(MIDDLE_SESSIONS[1:])
        r.shuffle(rest)
        self.middle = [MIDDLE_SESSIONS[0], *rest]  # used in turn by follow-up sessions

    # ---- helpers
    def fill(self, template: str, **extra: Any) -> str:
        return template.format_map({**self.slots, **extra})

    def pick(self, options: tuple[str, ...], **extra: Any) -> str:
        return self.fill(self.rng.choice(options), **extra)

    def pain(self) -> str:
        return self.rng.choice(
            ("Average pain {p}/10 (NRS) this week.", "Pain today {p}/10.", "Rates pain {p}/10 on average.")
        ).format(p=self.rng.randint(4, 8))

    def pharmacy(self, first: bool) -> str:
        r = self.rng
        if first:
            parts = [
                self.fill("Reviewed {regimen}; "),
                r.choice(
                    (
                        "taking as prescribed, no adverse effects reported.",
                        "adherent per refill history and denies side effects.",
                    )
                ),
            ]
        else:
            parts = [
                self.pick(
                    (
                        "Regimen unchanged ({regimen_short}), taking as prescribed.",
                        "No changes to {regimen_short} since the last visit; tolerating well.",
                    )
                )
            ]
        if self.opioid:
            parts.append(
                r.choice(
                    (
                        " PDMP reviewed, no concerns; naloxone kit on hand.",
                        " PDMP checked and urine drug screen up to date.",
                    )
                )
            )
        parts.append(" " + self.pain() + " " + self.pick(PHARMACY_PLANS if first else LATER_PHARMACY_PLANS))
        return "".join(parts)

    # ---- conjoint visits
    def history(self) -> str:
        t, r = self.t, self.rng
        parts = [self.pick(OPENINGS), r.choice(RACE_TEXT[t.race])]
        if not self.c.mh:
            parts.append(
                r.choice(("No mental health diagnoses on the problem list.", "Mental health history: none documented."))
            )
        elif t.mh_treatment:
            parts.append(self.fill("Mental health: {mh}; currently {mh_care}.", mh=self.mh_dx))
        else:
            parts.append(
                self.fill(
                    r.choice(
                        (
                            "Problem list includes {mh}; not currently in mental health treatment (last seen by mental "
                            "health in {year}).",
                            "Mental health: {mh}; not engaged in any mental health care at present.",
                        )
                    ),
                    mh=self.mh_dx,
                )
            )
        if t.sud:
            parts.append(
                self.pick(
                    (
                        "Problem list includes {sud_dx}; not in substance use treatment and declines SUD referral.",
                        "Current {sud_dx}; no substance use treatment at this time.",
                    )
                )
            )
        else:
            parts.append(r.choice(("No substance use disorder.", "No SUD diagnosis.")))
        parts.append(self.pick(PRIOR_TEXT[t.prior_hp]))
        return _cap(" ".join(parts))

    def psychology(self, visit: Visit, index: int) -> str:
        r = self.rng
        if visit.content == 1:
            text = self.pick(DECLINED)
            if self.skill_taught:
                text += self.fill(" {He} reports {he} has not tried {skill} since it was introduced.")
            return text
        if visit.content == 5:
            return self.pick(SERVICES_ONLY)
        parts = []
        assessed = visit.content in (2, 3, 6)
        if assessed:
            parts.append(self.pick(FUNCTION_TEXT) if visit.functional else self.pick(COPING_TEXT))
        else:
            what = {(1, 0): "education", (0, 1): "a coping skill"}.get(
                (visit.psychoeducation, visit.skills), "education and a coping skill"
            )
            parts.append(self.pick(NO_ASSESSMENT, reason=r.choice(SHORT_REASONS), what=what))
        if visit.psychoeducation:
            parts.append(self.pick(EDUCATION_TEXT[self.topic if index == 0 else self.topic2]))
        if visit.skills:
            if self.skill_taught:
                parts.append(self.pick(REVIEW_AND_PRACTISE))
            else:
                parts.append(self.pick(SKILL_TEXT[self.skill]))
                self.skill_taught = True
        if visit.content == 2:
            parts.append(self.pick(ASSESSMENT_ONLY))
        elif not visit.skills and r.random() < 0.5:
            # naming skills that exist is not teaching one (skills_introduced stays 0)
            parts.append(
                self.fill("Mentioned that follow-up sessions teach coping skills such as relaxation and pacing.")
            )
        return " ".join(parts)

    def conjoint_plan(self, index: int) -> str:
        c, r = self.c, self.rng
        n = len(c.visits)
        parts = []
        if index == 0 and c.referral == "pcmhi":
            parts.append("With {his} agreement, referral placed to PC-MHI for depression.")
        if index == 0 and c.referral == "smh":
            parts.append("At {his} request, consult placed to specialty mental health for PTSD evaluation.")
        if c.visits[index].startswith("1"):
            parts.append("Declined further health psychology follow-up; continues in pain medication clinic.")
        elif index + 1 < n:
            w = self.gaps[index + 1]
            parts.append(
                r.choice(
                    (
                        f"Agreed to a follow-up conjoint session at the next pain clinic visit in about {w} weeks.",
                        f"Accepted another conjoint visit with health psychology in {w} weeks.",
                    )
                )
            )
        elif c.accepted:
            kinds = {"p": "telephone", "i": "individual", "g": "CBT for chronic pain group"}
            first = c.followup[:1] or "i"
            both = set(c.followup) == {"p", "i"}
            what = "telephone and individual" if both else kinds[first]
            parts.append(
                r.choice(
                    (
                        f"Accepted {what} health psychology follow-up; first appointment scheduled.",
                        f"{{He}} is interested in {what} follow-up with health psychology and agreed to schedule.",
                    )
                )
            )
        else:
            parts.append(
                "Offered health psychology follow-up (phone, individual or group); {he} declined - "
                + r.choice(DECLINE_REASONS)
                + "."
            )
            parts.append(
                r.choice(("Knows how to self-refer.", "Clinic number provided should {he} change {his} mind."))
            )
        parts.append(r.choice(("Return to pain medication clinic in 4-6 weeks.", "Pharmacy follow-up in 1 month.")))
        return self.fill(" ".join(parts))

    def conjoint(self, visit: Visit, index: int, date: dt.date, gap_weeks: int) -> str:
        r = self.rng
        psych = self.psychology(visit, index)
        plan = self.conjoint_plan(index)
        if index == 0:
            title = r.choice(
                (
                    "PAIN MEDICATION CLINIC - CONJOINT PHARMACY / HEALTH PSYCHOLOGY VISIT",
                    "Conjoint pain pharmacy and health psychology session (primary care pain medication clinic)",
                    "PRIMARY CARE PAIN MEDICATION CLINIC: joint visit with clinical pharmacy and health psychology",
                )
            )
            opening = self.pick(INTRO)
            background = self.history()
        else:
            title = r.choice(
                (
                    f"FOLLOW-UP CONJOINT PAIN PHARMACY / HEALTH PSYCHOLOGY VISIT - session {index + 1}",
                    f"Follow-up conjoint session #{index + 1} - pain medication clinic with health psychology",
                )
            )
            opening = f"Returns {gap_weeks} weeks after the last conjoint visit."
            background = ""
        if r.random() < 0.5:
            lines = [
                title,
                f"Date: {date.isoformat()}. Pharmacy: {self.pharmacist}. Health psychology: {self.psychologist}.",
                "",
                opening,
            ]
            if background:
                lines += ["", f"HISTORY: {background}"]
            lines += [
                "",
                f"PHARMACY: {self.pharmacy(index == 0)}",
                "",
                f"HEALTH PSYCHOLOGY: {psych}",
                "",
                f"PLAN: {plan}",
            ]
        else:
            lines = [f"{title} - {date.isoformat()}", f"Seen jointly by {self.pharmacist} and {self.psychologist}.", ""]
            lines.append(f"S: {opening} {background}".rstrip())
            lines.append(f"Medications: {self.pharmacy(index == 0)}")
            lines.append(f"Health psychology: {psych}")
            lines.append(f"A/P: {plan}")
        return "\n".join(lines)

    # ---- follow-up sessions
    def session(self, kind: str, number: int, last: bool) -> str:
        r = self.rng
        c = self.c
        if kind == "g":
            return self.group_session(number, last)
        title = {
            "p": ("HEALTH PSYCHOLOGY TELEPHONE SESSION", "Health psychology phone follow-up"),
            "i": ("HEALTH PSYCHOLOGY INDIVIDUAL SESSION", "Health psychology individual visit"),
        }[kind]
        lines = [f"{r.choice(title)} - session {number}", r.choice(PHONE_OPEN if kind == "p" else INDIVIDUAL_OPEN)]
        body = [self.pick(WEEK_TEXT, p=r.randint(3, 8))]
        if number == 1:
            body.append(self.pick(FIRST_SESSION))
        if not last:
            if number == 1 and not self.skill_taught:
                body.append(self.pick(SKILL_TEXT[self.skill]))
                self.skill_taught = True
            else:
                body.append(self.fill(self.middle.pop(0)))
            body.append(
                self.pick(
                    MI_TEXT,
                    i=r.randint(6, 9),
                    c=r.randint(4, 8),
                    barrier=r.choice(("time", "forgetting", "family obligations")),
                )
            )
            plan = r.choice(("Next {kind} session in 2 weeks.", "Follow up {how} in 1-2 weeks.")).format(
                kind="phone" if kind == "p" else "individual", how="by phone" if kind == "p" else "in clinic"
            )
        else:
            if not self.skill_taught:
                body.append(self.pick(SKILL_TEXT[self.skill]))
                self.skill_taught = True
            body.append(self.fill("Reviewed progress on {his} goal ({goal})."))
            if c.outcome == 6:
                body.append(
                    self.pick(
                        (
                            "Main focus today was {his} connection with PC-MHI: {he} completed the PC-MHI intake and "
                            "has started brief treatment for depression there, and finds it a good fit.",
                            "Most of the call concerned {his} new PC-MHI care: {he} has met with the PC-MHI "
                            "psychologist twice and wants to continue there.",
                        )
                    )
                )
            else:
                body.append(self.pick(OUTCOME_TEXT[c.outcome]))
            plan = self.pick(TERMINATION_TEXT[c.termination], service="individual health psychology")
        lines += [f"S/A: {' '.join(body)}", f"O: {r.choice(STATUS_O)}", f"P: {plan}"]
        if kind == "p":
            lines.append(r.choice(("Telephone contact time: 25 minutes.", "Call lasted about 30 minutes.")))
        return "\n".join(lines)

    def group_session(self, number: int, last: bool) -> str:
        r, c = self.rng, self.c
        topic = GROUP_TOPICS[number - 1]
        lines = [
            f"CBT FOR CHRONIC PAIN GROUP - session {number} of 8",
            f"Facilitators: {PSYCHOLOGIST} and {HP_INTERN.lower()}. {r.randint(5, 9)} veterans attended.",
            f"Topic: {topic}. The group reviewed home practice, learned and rehearsed the skill of the week, "
            "and set a practice plan.",
            "Group ran 90 minutes in the primary care conference room; handouts "
            "and the workbook chapter were provided.",
        ]
        if not last:
            lines.append(
                self.pick(
                    (
                        "Veteran participated actively and shared an example from {his} week.",
                        "Veteran was attentive, asked questions about the home practice and took the handout.",
                        "Veteran joined the practice exercise and described {act1} as a place to use it.",
                    )
                )
            )
            lines.append("Plan: next group session in 1 week.")
            self.skill_taught = True
            return "\n".join(lines)
        if c.outcome == 2:
            lines.append(
                self.pick(
                    (
                        "Veteran was quiet in group and said {he} has not practised any of the skills from the first "
                        "session at home.",
                    )
                )
            )
        else:
            lines.append(self.pick(OUTCOME_TEXT[c.outcome], skill="activity pacing"))
        if c.termination == 2:
            lines.append(
                self.pick(
                    (
                        "Met with {him} after group: {he} finds it hard to talk in a room of "
                        "people. Veteran and writer agreed the group is not a good match for {him} "
                        "at this time; discharged from health psychology, with re-consult welcome "
                        "later.",
                    )
                )
            )
        else:
            lines.append(
                self.pick(
                    (
                        "After group {he} told the facilitators {he} will not attend the remaining "
                        "sessions and declined other health psychology services; discharged.",
                    )
                )
            )
        return "\n".join(lines)

    def missed(self, last: bool) -> str:
        first = self.pick(
            (
                "Veteran did not attend the scheduled individual health psychology appointment today. Writer called "
                "the number on file and left a voicemail with the clinic number; no callback by end of day.",
                "No-show for the individual health psychology appointment. One phone attempt, voicemail left.",
            )
        )
        safety = self.pick(
            (
                "Chart reviewed for risk: no recent safety concerns documented and no welfare check indicated.",
                "Reviewed the chart for risk factors; none that would call for a welfare check.",
            )
        )
        if not last:
            return "\n".join(
                [
                    "HEALTH PSYCHOLOGY - MISSED APPOINTMENT",
                    first,
                    safety,
                    self.fill(
                        "This appointment was made after {he} accepted health psychology follow-up. Letter "
                        "mailed with the clinic number; will offer a new appointment in about 2 weeks. If {he} "
                        "calls back, offer the next individual slot or a telephone session. PCP and pain "
                        "medication clinic made aware through this note."
                    ),
                ]
            )
        where = "at the conjoint visit" if not self.c.followup else "in the first individual session"
        return "\n".join(
            [
                "HEALTH PSYCHOLOGY - MISSED APPOINTMENT AND DISCHARGE",
                self.fill(
                    "Veteran did not attend the rescheduled appointment; this is the second missed visit. "
                    "Two phone attempts and a letter, no response."
                ),
                safety,
                _cap(
                    self.fill(
                        f"{{skill}} was introduced {where}; there is no documentation that {{he}} has "
                        "practised it since."
                    )
                ),
                self.fill(
                    "Per clinic policy after two missed appointments without contact, discharged from health "
                    "psychology. {He} may re-consult through {his} PCP or the pain medication clinic at any "
                    "time; pharmacy team informed."
                ),
            ]
        )

    def pharmacy_review(self) -> str:
        return "\n".join(
            [
                "PAIN MEDICATION CLINIC FOLLOW-UP (pharmacy)",
                f"Clinician: {self.pharmacist}. Routine pain medication follow-up after the conjoint visit.",
                f"Medications: {self.pharmacy(False)}",
                self.pick(
                    (
                        "Health psychology skills check: {He} reports using the {skill} taught at the conjoint visit a "
                        "few times a week, mostly when pain flares.",
                        "Coping skills: {he} says {he} has been using {skill} from the conjoint visit on most days.",
                    )
                ),
                self.pick(
                    (
                        "Offered health psychology follow-up again; {he} still declines. Return to clinic in 6 weeks.",
                        "Health psychology follow-up offered again and declined. Pharmacy follow-up in 6 weeks.",
                    )
                ),
            ]
        )

    # ---- the whole chart
    def notes(self) -> list[Note]:
        r, c, rid = self.rng, self.c, self.t.record_id
        n = len(c.visits)
        latest_first = WINDOW_END - dt.timedelta(days=3 + 32 * (n - 1))
        date = _weekday(WINDOW_START + dt.timedelta(days=r.randint(0, (latest_first - WINDOW_START).days)))
        out: list[tuple[dt.date, str, str, str, Visit | None]] = []
        self.gaps = [0] + [r.randint(3, 4) for _ in range(n - 1)]  # weeks between conjoint visits
        for i, visit in enumerate(self.t.visits):
            if i:
                date = _weekday(date + dt.timedelta(days=7 * self.gaps[i] + r.randint(0, 2)))
            out.append((date, "conjoint", self.pharmacist, self.conjoint(visit, i, date, self.gaps[i]), visit))
        hp_author = r.choice((PSYCHOLOGIST, HP_INTERN))
        for k, kind in enumerate(c.followup, 1):
            step = 7 if kind == "g" else r.randint(7, 21)
            date = _weekday(date + dt.timedelta(days=r.randint(10, 21) if k == 1 else step))
            last = k == len(c.followup) and not c.after
            note_type = {"p": "phone", "i": "individual", "g": "group"}[kind]
            number = k if kind == "g" else sum(1 for x in c.followup[:k] if x != "g")
            out.append(
                (date, note_type, PSYCHOLOGIST if kind == "g" else hp_author, self.session(kind, number, last), None)
            )
        for k, what in enumerate(c.after, 1):
            last = k == len(c.after)
            if what == "n":
                date = _weekday(date + dt.timedelta(days=r.randint(14, 21)))
                out.append((date, "other", hp_author, self.missed(last), None))
            else:
                date = _weekday(date + dt.timedelta(days=r.randint(28, 42)))
                out.append((date, "other", self.pharmacist, self.pharmacy_review(), None))
        return [
            Note(f"{rid}-N{i:02d}", rid, d, ntype, author, f"{SYNTHETIC}\n{text}", visit)
            for i, (d, ntype, author, text, visit) in enumerate(out, 1)
        ]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _weekday(d: dt.date) -> dt.date:
    while d.weekday() >= 5:
        d += dt.timedelta(days=1)
    return d


def make_records() -> list[DemoRecord]:
    """The demo's 24 records: the truth and the notes written from it."""
    return [DemoRecord(t, _Writer(t).notes()) for t in make_truths()]


# =====================================================================================
# 3. Codes
# =====================================================================================

Code = tuple[str, str, str, Any, str]  # record_id, note_id ("" for record level), field, value, memo


def truth_codes(record: DemoRecord, conditions: bool = True) -> list[Code]:
    """The correct codes for one record: the intern's codes (``conditions``: see Truth.record_codes)."""
    rid = record.record_id
    rows: list[Code] = []
    for note in record.notes:
        if note.visit is not None:
            rows += [(rid, note.note_id, f, v, "") for f, v in note.visit.codes().items()]
    rows += [(rid, "", f, v, "") for f, v in record.truth.record_codes(conditions).items() if v is not None]
    return rows


def double_coding_sample(record_ids: list[str]) -> list[str]:
    """The supervisor's blind sample: 6 of the intern's coded records, sorted."""
    return sorted(random.Random(SAMPLE_SEED).sample(sorted(record_ids), SAMPLE_SIZE))


# Plausible second readings of a note, as a supervisor might code them: the code it
# becomes and the memo the supervisor leaves (variants so that two records differ).
_CONTENT_ALT = {
    3: (
        2,
        (
            "The {what} was brief; I read this first session as assessment only.",
            "Not enough {what} documented to count as an intervention; coded 2.",
        ),
    ),
    4: (
        3,
        (
            "Counted the pharmacy pain rating and check-in as an assessment.",
            "The pain rating in the pharmacy part is an assessment to me; coded 3.",
        ),
    ),
    6: (
        2,
        (
            "Reviewing home practice is assessment; I did not see a new intervention.",
            "Practice of an old skill reads as review, not intervention; coded 2.",
        ),
    ),
}
_OUTCOME_ALT = {
    2: (1, ("The last note itself offers no intervention; coded 1.", "Nothing was offered in the last note; coded 1.")),
    3: (4, ("Reads as confident use of the skill; coded 4.", "Regular use suggests success; coded 4.")),
    4: (
        5,
        (
            "Read the independent use of the skill as benefit to pain management.",
            "Daily use with success implies better pain management; coded 5.",
        ),
    ),
    5: (
        4,
        (
            "Success is clear, benefit to pain management less so; coded 4.",
            "Benefit statement is vague; coded success only.",
        ),
    ),
}
_TERMINATION_ALT = {
    1: (4, ("Read the ending as the veteran declining more sessions.", "The veteran ended it; coded as declined.")),
    2: (
        4,
        (
            "The veteran chose to stop the group; coded as declined.",
            "Leaving the group was the veteran's decision; coded 4.",
        ),
    ),
    4: (1, ("The ending reads as collaborative to me.", "Both agreed to stop; coded as completion.")),
}
_SKILLS_MEMOS = (
    "Practising a skill taught last time is not introducing one.",
    "Only a review of an earlier skill; coded 0.",
)


def _supervisor_candidates(record: DemoRecord) -> list[Code]:
    rid, c = record.record_id, record.truth.course
    variant = int(rid[-3:]) % 2
    out: list[Code] = []
    conjoint = [n for n in record.notes if n.visit is not None]
    for index, note in enumerate(conjoint):
        v = note.visit
        assert v is not None  # conjoint notes are those with a visit
        if v.content in _CONTENT_ALT and not (v.content == 3 and v.psychoeducation and v.skills):
            value, memos = _CONTENT_ALT[v.content]
            memo = memos[variant].format(what="education" if v.psychoeducation else "skill practice")
            out.append((rid, note.note_id, "session_content", value, memo))
        if v.content == 6 and v.skills and any(w.skills for w in record.truth.visits[:index]):
            out.append((rid, note.note_id, "skills_introduced", 0, _SKILLS_MEMOS[variant]))
    if c.outcome in _OUTCOME_ALT and (c.accepted or c.after):
        value, memos = _OUTCOME_ALT[c.outcome]
        out.append((rid, "", "last_note_outcome", value, memos[variant]))
    if c.accepted and c.termination in _TERMINATION_ALT:
        value, memos = _TERMINATION_ALT[c.termination]
        out.append((rid, "", "termination", value, memos[variant]))
    return out


def supervisor_codes(records: list[DemoRecord], sample: list[str], *, disagreements: int = 5) -> list[Code]:
    """Truth for the sampled records, with one disagreement on each of ``disagreements`` of them."""
    by_id = {r.record_id: r for r in records}
    rng = random.Random(f"{SEED}:supervisor")
    order = list(sample)
    rng.shuffle(order)
    options = {rid: _supervisor_candidates(by_id[rid]) for rid in order}
    order.sort(key=lambda rid: len(options[rid]))  # the records with the fewest options choose first
    changes: dict[tuple[str, str, str], Code] = {}
    for rid in order:
        if len(changes) >= disagreements:
            break
        candidates = options[rid]
        if candidates:
            # spread the disagreements over the fields: prefer the least used so far
            used = Counter(k[2] for k in changes)
            fewest = min(used[ch[2]] for ch in candidates)
            candidates = [ch for ch in candidates if used[ch[2]] == fewest]
            ch = rng.choice(candidates)
            changes[(ch[0], ch[1], ch[2])] = ch
    rows: list[Code] = []
    for rid in sample:
        for code in truth_codes(by_id[rid]):
            rows.append(changes.get((code[0], code[1], code[2]), code))
    return rows


# =====================================================================================
# Building the database
# =====================================================================================


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def new_demo_path(directory: Path, name: str) -> Path:
    """``directory/name`` for a demo database to be built: the folder is created (owner-only) if
    needed; an existing database is never replaced."""
    directory = Path(directory)
    db_path = directory / name
    if db_path.exists():
        raise UserError(f"{db_path}: already exists; delete it or choose another --dir")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{directory}: cannot create the folder ({exc.strerror})") from None
    if not directory.is_dir():
        raise UserError(f"{directory}: is not a folder")
    return db_path


def build_demo(directory: Path, *, complete: bool = False, progress: Callable[[str], None] | None = None) -> Path:
    """Create ``directory/demo.db``: the conjoint-pain audit with 24 fictional records.

    The intern has all 24 records assigned and 18 coded and submitted (all 24 with
    ``complete``); the supervisor has double-coded a 6-record sample with a few
    disagreements. Returns the database path.
    """
    say = progress or (lambda _msg: None)
    db_path = new_demo_path(directory, DEMO_DB)

    say("writing notes")
    records = make_records()
    audit = load_audit(AUDIT)
    say("creating demo.db")
    store = Store.create(db_path, audit.codebook, audit=audit.as_dict(), audit_source=audit.source, coders=audit.coders)
    try:
        with tempfile.TemporaryDirectory(prefix="chartcode-demo-") as tmp:
            tmpdir = Path(tmp)
            notes_csv = tmpdir / "demo-notes.csv"
            _write_csv(
                notes_csv,
                ("record_id", "note_id", "note_date", "note_type", "author", "text"),
                [
                    (n.record_id, n.note_id, n.note_date.isoformat(), n.note_type, n.author, n.text)
                    for r in records
                    for n in r.notes
                ],
            )
            say("importing notes")
            import_notes(store, notes_csv)
            say("assigning records to the intern")
            store.assign(INTERN, [r.record_id for r in records])

            coded = records if complete else records[:INTERN_CODED]
            header = ("record_id", "note_id", "field", "value", "memo")
            intern_csv = tmpdir / "intern-codes.csv"
            _write_csv(intern_csv, header, [row for r in coded for row in truth_codes(r)])
            say("importing the intern's codes")
            import_codes(store, intern_csv, INTERN)

            sample = double_coding_sample([r.record_id for r in records[:INTERN_CODED]])
            supervisor_csv = tmpdir / "supervisor-codes.csv"
            _write_csv(supervisor_csv, header, supervisor_codes(records, sample))
            say("importing the supervisor's codes")
            import_codes(store, supervisor_csv, SUPERVISOR)
    except BaseException:
        store.close()
        remove_database(db_path)
        raise
    store.close()
    say("done")
    return db_path
