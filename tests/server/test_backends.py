"""The same store behaviour on both backends (a ``backend`` fixture: the SQLite file and the team
server), and full-text search on PostgreSQL (tsvector + GIN) matching FTS5 on the demo's notes."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chartcode.importers.notes import import_notes
from chartcode.store import Store, open_store
from tests.conftest import SAMPLE_NOTES
from tests.server.conftest import Cluster, lead_name, make_team
from tests.whole_records import submit_whole


@dataclass
class Backend:
    kind: str
    targets: dict[str, str]  # who -> what open_store takes
    names: dict[str, str]  # who -> coder name

    def open(self, who: str) -> Any:
        return open_store(self.targets[who])


@pytest.fixture(params=["file", "server"])
def backend(request, tmp_path: Path) -> Backend:
    """An audit with notes R1-R3 assigned to intern and supervisor, on a file or on the server."""
    if request.param == "file":
        from chartcode.audit import load_audit

        audit = load_audit("conjoint-pain")
        db = tmp_path / "audit.db"
        coders = [("intern", "coder"), ("supervisor", "supervisor"), ("lead", "lead")]
        with Store.create(db, audit.codebook, audit=audit.as_dict(), coders=coders) as store:
            notes = tmp_path / "notes.csv"
            notes.write_text(SAMPLE_NOTES)
            import_notes(store, notes)
            for who in ("intern", "supervisor"):
                store.assign(who, ["R1", "R2", "R3"])
        return Backend("file", {w: str(db) for w, _ in coders}, {w: w for w, _ in coders})
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    url = request.getfixturevalue("admin_url")
    team = make_team(url, cluster, tmp_path)
    return Backend("server", dict(team.urls), {w: lead_name(u) for w, u in team.urls.items()})


def disagree_on_sex(backend: Backend) -> None:
    """The intern codes R1's sex 1 and the supervisor 2, and both submit the whole record."""
    me, sup = backend.names["intern"], backend.names["supervisor"]
    with backend.open("intern") as i, backend.open("supervisor") as s:
        i.set_code(me, "R1", "sex", 1)
        s.set_code(sup, "R1", "sex", 2)
        submit_whole(i, me, "R1")
        submit_whole(s, sup, "R1")


def test_a_code_round_trips_with_its_history(backend: Backend):
    me = backend.names["intern"]
    with backend.open("intern") as store:
        change = store.set_code(me, "R1", "sex", "2")
        assert change.changed and change.new == 2 and change.old is None
        assert not store.set_code(me, "R1", "sex", 2).changed  # the same value again changes nothing
        store.set_code(me, "R1", "sex", 1)
        assert [(c["field"], c["value"], c["label"]) for c in store.visible_codes(me, record_id="R1")] == [
            ("sex", 1, "Male")
        ]
        hist = [
            (h["action"], h["old_value"], h["new_value"]) for h in store.visible_history(me, coder=me) if h["field"]
        ]
        assert hist == [("set", None, 2), ("change", 2, 1)]


def test_codes_stay_blind_until_both_assigned_coders_submit(backend: Backend):
    me, sup = backend.names["intern"], backend.names["supervisor"]
    with backend.open("intern") as i, backend.open("supervisor") as s:
        i.set_code(me, "R1", "sex", 1)
        s.set_code(sup, "R1", "sex", 2)
        assert [c["coder"] for c in s.visible_codes(sup)] == [sup]
        assert s.hidden_count(sup) == 1
        submit_whole(i, me, "R1")  # the rest of the record filled in: only a whole record is submitted
        assert {c["coder"] for c in s.visible_codes(sup)} == {sup}
        submit_whole(s, sup, "R1")
        assert {c["coder"] for c in s.visible_codes(sup)} == {me, sup}
        assert sorted(c[3] for c in s.shared_submitted_codes(field="sex")) == sorted([me, sup])
        assert [u[:3] for u in s.disagreement_units()] == [("R1", "", "sex")]


def test_an_invalid_code_is_refused_on_both(backend: Backend):
    from chartcode.errors import UserError

    me = backend.names["intern"]
    with backend.open("intern") as store:
        for args in (("R1", "sex", 7), ("R404", "sex", 1), ("R1", "no_such_field", 1)):
            with pytest.raises(UserError):
                store.set_code(me, *args)
        assert list(store.visible_codes(me)) == []


def test_the_coders_queue_reads_the_same(backend: Backend):
    me = backend.names["intern"]
    with backend.open("intern") as store:
        assert store.queue_count(me) == 3
        assert [r[0] for r in store.queue_page(me, 0, 10)] == ["R1", "R2", "R3"]
        assert store.next_unfinished(me) == "R1"
        store.set_code(me, "R1", "sex", 1)
        submit_whole(store, me, "R1")
        assert store.next_unfinished(me) == "R2"
        assert store.coder_progress(me) == (1, 3)
        store.flag(me, "R2", "unclear")
        assert store.assignment(me, "R2")[1:3] == (1, "unclear")


def _words(texts: list[str]) -> list[str]:
    return sorted({w.lower() for t in texts for w in re.findall(r"[A-Za-z]{3,}", t)})


def test_full_text_search_finds_the_same_notes_as_fts5(tmp_path: Path, admin_url: str, pg_cluster: Cluster):
    from chartcode.demo import build_demo

    demo_db = build_demo(tmp_path / "demo")
    notes_csv = tmp_path / "demo-notes.csv"
    with Store.open(demo_db) as file_store:
        notes = [n for rid in file_store.record_ids() for n in file_store.notes_for_record(rid, with_text=True)]
        with notes_csv.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["record_id", "note_id", "note_date", "note_type", "author", "text"])
            for n in notes:
                w.writerow([n["record_id"], n["note_id"], n["note_date"], n["note_type"], n["author"], n["text"]])
        team = make_team(admin_url, pg_cluster, tmp_path)
        with open_store(team.url("lead")) as server:
            import_notes(server, notes_csv)
            words = _words([n["text"] for n in notes])
            demo_ids = {n["note_id"] for n in notes}  # the team fixture's own three notes are there too
            queries = [*words, *(f"{a} {b}" for a, b in zip(words[::7], words[3::7], strict=False))]
            differ = []
            for q in queries:
                f = {r["note_id"] for r in file_store.search_notes(q, limit=1000)}
                s = {r["note_id"] for r in server.search_notes(q, limit=1000)} & demo_ids
                if f != s:
                    differ.append((q, len(f), len(s)))
    assert len(queries) > 300
    # One known difference, from the stemmers and not the search: FTS5's Porter has the later "logi -> log"
    # rule (psychology -> psycholog), Snowball's "porter" does not (psychologi). Every other query matches.
    assert [q for q, _, _ in differ if "psycholog" not in q] == []
    assert len(differ) <= 2
