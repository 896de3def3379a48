"""The fidelity demo: three fictional teams x two review periods, rated by two reviewers."""

from __future__ import annotations

import os
import stat

import pytest

from chartcode.consensus import final_values
from chartcode.dataset import finals
from chartcode.demo_fidelity import (
    CANNOT_RATE,
    DISAGREEMENTS,
    FINALS,
    ITEMS,
    LEAD,
    PERIODS,
    REVIEWERS,
    TEAMS,
    build_fidelity_demo,
    designed_scores,
)
from chartcode.errors import UserError
from chartcode.store import Store


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    return build_fidelity_demo(tmp_path_factory.mktemp("fidelity"))


def _submitted(store: Store, coder: str) -> dict[tuple[str, str], int]:
    rows = store._db.execute(
        "SELECT record_id, field, submitted_value FROM codes WHERE coder = ? AND submitted_at IS NOT NULL", [coder]
    ).fetchall()
    return {(r, f): v for r, f, v in rows}


def test_six_unit_periods_on_the_shipped_scale(demo_db):
    with Store.open(demo_db) as s:
        ups = s.unit_periods()
        assert [(u["unit"], u["period"]) for u in ups] == sorted((t, p) for t in TEAMS for p in PERIODS)
        assert all(u["record_id"] == f"{u['unit']} @ {u['period']}" for u in ups)
        assert tuple(f.name for f in s.codebook.items) == ITEMS
        assert s.audit["id"] == "ibbis-fidelity"


def test_both_reviewers_rated_and_submitted_everything_with_memos(demo_db):
    with Store.open(demo_db) as s:
        rids = set(s.record_ids())
        for reviewer in REVIEWERS:
            assignments = s.assignments(reviewer)
            assert {a["record_id"] for a in assignments} == rids
            assert all(a["status"] == "done" and a["submitted_at"] for a in assignments)
            codes = list(s.codes(coder=reviewer))
            assert len(codes) == len(rids) * len(ITEMS)
            assert all(c["submitted"] for c in codes)
            for c in codes:
                memo = c["memo"] or ""
                assert memo.strip().endswith(".") and len(memo) > 20, c
        # the two reviewers do not write identical memos
        a = {(c["record_id"], c["field"]): c["memo"] for c in s.codes(coder=REVIEWERS[0])}
        b = {(c["record_id"], c["field"]): c["memo"] for c in s.codes(coder=REVIEWERS[1])}
        assert all(a[k] != b[k] for k in a)


def test_consensus_exactly_on_the_disagreements(demo_db):
    with Store.open(demo_db) as s:
        a, b = (_submitted(s, r) for r in REVIEWERS)
        assert a.keys() == b.keys()
        differ = {k for k in a if a[k] != b[k]}
        consensus = s._db.execute("SELECT record_id, field, value, reason, decided_by FROM consensus").fetchall()
        assert {(r, f) for r, f, *_ in consensus} == differ
        assert differ == {(f"{t} @ {p}", i) for t, p, i in DISAGREEMENTS}
        assert all(reason.strip() and by == LEAD for *_, reason, by in consensus)
        # a few per unit, mostly by one point
        per_unit = {}
        for rid, _ in differ:
            per_unit[rid] = per_unit.get(rid, 0) + 1
        assert len(per_unit) == 6 and all(2 <= n <= 4 for n in per_unit.values())
        gaps = [abs(a[k] - b[k]) for k in differ]
        assert sum(g == 1 for g in gaps) > len(gaps) * 0.8


def test_every_item_has_its_designed_final_value(demo_db):
    with Store.open(demo_db) as s:
        rows = list(final_values(s))
        assert len(rows) == 6 * len(ITEMS)
        assert all(r["value"] is not None and r["source"] in ("agreed", "consensus") for r in rows)
        got = {(r["record_id"], r["field"]): r["value"] for r in rows}
        want = {(f"{t} @ {p}", i): v for (t, p), ratings in FINALS.items() for i, v in ratings.items()}
        assert got == want
        df = finals(s)
        assert len(df) == 6 * len(ITEMS) and df["value"].notna().all()
        assert set(df.loc[df["source"] == "consensus", "field"]) == {i for _, _, i in DISAGREEMENTS}


def test_cannot_rate_once_by_both_reviewers(demo_db):
    with Store.open(demo_db) as s:
        rows = s._db.execute("SELECT coder, record_id, field FROM codes WHERE value = ?", [CANNOT_RATE]).fetchall()
        assert {c for c, _, _ in rows} == set(REVIEWERS)
        assert {(r, f) for _, r, f in rows} == {("Team East @ 2025-H1", "graded_return_plan")}


def test_teams_differ_and_change():
    scores = designed_scores()
    total = {k: round(v["total"], 1) for k, v in scores.items()}
    band = lambda x: "good" if x >= 68 else "fair" if x >= 51 else "poor"  # noqa: E731
    assert [band(total[("Team North", p)]) for p in PERIODS] == ["good", "good"]
    assert [band(total[("Team East", p)]) for p in PERIODS] == ["fair", "fair"]
    assert [band(total[("Team South", p)]) for p in PERIODS] == ["poor", "fair"]
    assert all(total[(t, "2025-H2")] > total[(t, "2025-H1")] for t in TEAMS)
    for team in TEAMS:  # every team has items for the action list
        low = [i for p in PERIODS for i, v in FINALS[(team, p)].items() if v < 4]
        assert len(low) >= 2, team


def test_building_twice_gives_the_same_demo(tmp_path):
    a = build_fidelity_demo(tmp_path / "a")
    b = build_fidelity_demo(tmp_path / "b")
    strip = lambda s: [{k: v for k, v in c.items() if k != "updated_at"} for c in s.codes()]  # noqa: E731
    consensus = "SELECT record_id, field, value, reason, decided_by FROM consensus ORDER BY record_id, field"
    with Store.open(a) as sa, Store.open(b) as sb:
        assert strip(sa) == strip(sb)
        assert sa._db.execute(consensus).fetchall() == sb._db.execute(consensus).fetchall()


def test_private_file_refuses_an_existing_demo(tmp_path):
    messages: list[str] = []
    target = tmp_path / "new" / "fid"
    db = build_fidelity_demo(target, progress=messages.append)
    assert db == target / "ibbis-demo.db"
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert messages[-1] == "done"
    before = db.stat().st_size
    with pytest.raises(UserError, match="delete it or choose another --dir"):
        build_fidelity_demo(target)
    assert db.stat().st_size == before
