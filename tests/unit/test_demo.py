"""The demo audit: 24 fictional records, coded by the intern and partly by the supervisor."""

from __future__ import annotations

import os
import stat
from collections import Counter
from statistics import mean

import pytest

from chartcode import demo
from chartcode.demo import SYNTHETIC, build_demo, make_records
from chartcode.errors import UserError
from chartcode.store import Store


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def complete_db(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("complete"), complete=True)


def _codes(store: Store, coder: str) -> dict[tuple[str, str | None, str], object]:
    return {(c["record_id"], c["note_id"], c["field"]): c["value"] for c in store.codes(coder=coder)}


def test_records_and_notes(demo_db):
    with Store.open(demo_db) as s:
        ids = s.record_ids()
        assert ids == [f"VET-{i:03d}" for i in range(1, 25)]
        conjoint_counts = []
        total = 0
        for rid in ids:
            notes = s.notes_for_record(rid, with_text=True)
            total += len(notes)
            n_conjoint = sum(1 for n in notes if n["note_type"] == "conjoint")
            assert 1 <= n_conjoint <= 3
            conjoint_counts.append(n_conjoint)
            assert notes[0]["note_type"] == "conjoint"  # the chart starts at the first conjoint visit
            for n in notes:
                assert n["text"].startswith(SYNTHETIC + "\n")
                assert n["note_id"].startswith(f"{rid}-N")
                assert n["note_date"].startswith("2023-")
                assert n["note_type"] in ("conjoint", "phone", "individual", "group", "other")
        assert mean(conjoint_counts) == 1.5
        assert Counter(conjoint_counts) == {1: 14, 2: 8, 3: 2}
        assert total > 24
        assert s.counts()["notes"] == total


def test_note_lengths_and_dates():
    for record in make_records():
        conjoint = [n for n in record.notes if n.note_type == "conjoint"]
        for n in conjoint:
            assert demo.WINDOW_START <= n.note_date <= demo.WINDOW_END
        dates = [n.note_date for n in record.notes]
        assert dates == sorted(dates) and len(set(dates)) == len(dates)
        assert all(n.note_date > conjoint[-1].note_date for n in record.notes[len(conjoint) :])
        for n in record.notes:
            assert 80 <= len(n.text.split()) <= 300, (n.note_id, len(n.text.split()))


def test_intern_assignments_and_required_codes(demo_db):
    with Store.open(demo_db) as s:
        cb = s.codebook
        assignments = s.assignments("intern")
        assert len(assignments) == 24
        done = [a["record_id"] for a in assignments if a["status"] == "done"]
        assert done == [f"VET-{i:03d}" for i in range(1, 19)]
        assert all(a["status"] == "not_started" for a in assignments if a["record_id"] not in done)
        codes = _codes(s, "intern")
        assert {rid for rid, _, _ in codes} == set(done)
        assert all(c["submitted"] for c in s.codes(coder="intern"))
        for rid in done:
            values = {(nid, f): v for (r, nid, f), v in codes.items() if r == rid}
            notes = [(n["note_id"], n["note_type"]) for n in s.notes_for_record(rid)]
            form = cb.form(notes, values)
            for f in cb.record_fields:
                if f.required and form.applies(None, f):  # the follow-up fields only after accepting
                    assert (rid, None, f.name) in codes, (rid, f.name)
            for note in s.notes_for_record(rid):
                for f in cb.note_fields:
                    if f.applies_to(note["note_type"]) and f.required:
                        assert (rid, note["note_id"], f.name) in codes, (note["note_id"], f.name)
            if codes.get((rid, None, "followup_evident"), 0) == 0:
                assert (rid, None, "followup_type") not in codes


def test_supervisor_double_codes_a_sample_with_a_few_disagreements(demo_db):
    with Store.open(demo_db) as s:
        intern = _codes(s, "intern")
        supervisor = _codes(s, "supervisor")
        records = {rid for rid, _, _ in supervisor}
        assert len(records) == 6
        assert records <= {rid for rid, _, _ in intern}
        assert sorted(records) == demo.double_coding_sample([f"VET-{i:03d}" for i in range(1, 19)])
        assert set(supervisor) == {k for k in intern if k[0] in records}
        differ = [k for k in supervisor if supervisor[k] != intern[k]]
        assert 3 <= len(differ) <= 8
        assert {k[2] for k in differ} <= {"session_content", "last_note_outcome", "termination", "skills_introduced"}
        assert [a["status"] for a in s.assignments("supervisor")] == ["done"] * 6


def test_complete_codes_all_records_and_every_choice_code(complete_db):
    with Store.open(complete_db) as s:
        assignments = s.assignments("intern")
        assert len(assignments) == 24 and all(a["status"] == "done" for a in assignments)
        codes = _codes(s, "intern")
        used: dict[str, set] = {}
        for (_, _, fname), value in codes.items():
            used.setdefault(fname, set()).add(value)
        for f in s.codebook.fields:
            if f.has_choices and f.name not in demo.STUDY_FIXED_FIELDS:
                assert used.get(f.name, set()) == set(f.codes), f.name


def test_distributions_follow_the_study(complete_db):
    with Store.open(complete_db) as s:
        codes = _codes(s, "intern")
    rec = {}
    for (rid, note_id, fname), value in codes.items():
        if note_id is None:
            rec.setdefault(fname, {})[rid] = value
    count = lambda fname, value: sum(1 for v in rec[fname].values() if v == value)  # noqa: E731
    assert count("sex", 1) == 23
    assert count("race_ethnicity", 1) == 22 and count("race_ethnicity", 9) == 2
    ages = list(rec["age"].values())
    assert min(ages) == 50 and max(ages) == 80 and 60 <= mean(ages) <= 61.5
    assert count("mh_diagnosis", 1) == 18 and count("mh_treatment", 1) == 10
    assert count("sud_diagnosis", 1) == 5 and count("sud_treatment", 1) == 0
    assert Counter(rec["prior_hp_contact"].values()) == {0: 15, 1: 3, 2: 3, 3: 3}
    assert count("referred_elsewhere", 1) == 2 and count("accepted_followup", 1) == 12
    assert Counter(rec["followup_type"].values()) == {2: 3, 1: 3, 3: 2, 4: 2}
    # mental health diagnosis goes with declining follow-up, but does not decide it
    accepted = rec["accepted_followup"]
    with_mh = [accepted[r] for r, v in rec["mh_diagnosis"].items() if v == 1]
    without = [accepted[r] for r, v in rec["mh_diagnosis"].items() if v == 0]
    assert 0 < mean(with_mh) < mean(without) < 1
    # a veteran in mental health treatment has a mental health diagnosis
    assert all(rec["mh_diagnosis"][r] == 1 for r, v in rec["mh_treatment"].items() if v == 1)


def test_building_twice_gives_the_same_demo(tmp_path):
    a = build_demo(tmp_path / "a")
    b = build_demo(tmp_path / "b")
    with Store.open(a) as sa, Store.open(b) as sb:
        strip = lambda s: [{k: v for k, v in c.items() if k != "updated_at"} for c in s.codes()]  # noqa: E731
        assert strip(sa) == strip(sb)
        for rid in sa.record_ids():
            assert sa.notes_for_record(rid, with_text=True) == sb.notes_for_record(rid, with_text=True)


def test_refuses_an_existing_demo_and_keeps_it(tmp_path):
    db = build_demo(tmp_path)
    before = db.stat().st_size
    with pytest.raises(UserError, match="delete it or choose another --dir"):
        build_demo(tmp_path)
    assert db.stat().st_size == before
    with Store.open(db) as s:
        assert len(s.record_ids()) == 24


def test_private_files_and_nothing_left_behind(tmp_path):
    messages: list[str] = []
    target = tmp_path / "new" / "demo"
    db = build_demo(target, progress=messages.append)
    assert db == target / "demo.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert {p.name for p in target.iterdir()} <= {"demo.db", "demo.db-wal", "demo.db-shm"}
    assert "writing notes" in messages and any("codes" in m for m in messages)
