"""The write side of the store behaves the same on both backends (the ``backend`` fixture: the SQLite
file and the team server): the history a coding session leaves (actions, old -> new, reasons), memos,
flags, the refusal of an incomplete submit, consensus and the final value, stale versions, and a
history chain that verifies with the same number of entries. Only names, times and hashes differ."""

from __future__ import annotations

import pytest

from chartcode.errors import UserError
from tests.server.test_backends import Backend, backend, disagree_on_sex  # noqa: F401  (the fixture)


def _history(store, viewer: str, coder: str) -> list[tuple]:
    return [
        (h["action"], h["record_id"], h["field"], h["old_value"], h["new_value"], h["reason"])
        for h in store.visible_history(viewer, coder=coder)
        if h["field"] or h["action"] in ("flag", "submit")
    ]


def test_a_coding_session_leaves_the_same_history(backend: Backend):  # noqa: F811
    me = backend.names["intern"]
    with backend.open("intern") as s:
        s.set_code(me, "R1", "sex", 1, reason="header")
        s.set_code(me, "R1", "sex", 2, reason="second look")
        s.set_memo(me, "R1", "sex", "see note 2")
        s.set_code(me, "R1", "sex", None, reason="unsure")
        s.set_code(me, "R1", "psychoeducation", 1, note_id="R1-N1")
        s.flag(me, "R2", "name in header")
        got = _history(s, me, me)
    assert got == [
        ("set", "R1", "sex", None, 1, "header"),
        ("change", "R1", "sex", 1, 2, "second look"),
        ("memo", "R1", "sex", None, "see note 2", None),
        ("clear", "R1", "sex", 2, None, "unsure"),
        ("set", "R1", "psychoeducation", None, 1, None),
        ("flag", "R2", None, None, "name in header", None),
    ]


def test_versions_count_changes_and_a_stale_change_is_refused(backend: Backend):  # noqa: F811
    from chartcode.store import StaleChange

    me = backend.names["intern"]
    with backend.open("intern") as s:
        assert s.code_version(me, "R1", "sex") == 0
        s.set_code(me, "R1", "sex", 1)
        s.set_code(me, "R1", "sex", 1)  # a repeat: no new version
        assert s.code_version(me, "R1", "sex") == 1
        s.set_code(me, "R1", "sex", 2, expected_version=1)
        with pytest.raises(StaleChange) as err:
            s.set_code(me, "R1", "sex", 1, expected_version=1)
        assert err.value.current == 2 and err.value.version == 2
        assert s.code_versions(me, "R1") == {(None, "sex"): 2}


def test_an_incomplete_record_cannot_be_submitted(backend: Backend):  # noqa: F811
    me = backend.names["intern"]
    with backend.open("intern") as s:
        s.set_code(me, "R1", "sex", 1)
        with pytest.raises(UserError) as err:
            s.submit(me, "R1")
        assert "required field(s) empty" in str(err.value)
        assert s.assignment(me, "R1")[3] is None  # not submitted


def test_consensus_settles_a_disagreement_into_the_final_value(backend: Backend):  # noqa: F811
    me, sup = backend.names["intern"], backend.names["supervisor"]
    disagree_on_sex(backend)
    with backend.open("intern") as i, backend.open("supervisor") as s:
        assert ("R1", "", "sex", None, None) in s.disagreement_units()  # open
        change = s.set_consensus("R1", "sex", 2, reason="note 1 says female", decided_by=sup)
        assert change.new == 2
        assert ("R1", "", "sex", 2, "note 1 says female") in s.disagreement_units()  # settled
        with pytest.raises(UserError):  # a coder does not decide consensus
            i.set_consensus("R1", "sex", 1, reason="mine", decided_by=me)


def test_the_chain_verifies_with_the_same_entries_on_both(backend: Backend):  # noqa: F811
    me = backend.names["intern"]
    with backend.open("intern") as s:
        for v in (1, 2, None, 1):
            s.set_code(me, "R2", "sex", v)
    with backend.open("lead") as lead:
        check = lead.verify()
        assert check.ok, check.problems
        n, head = lead.history_head()
        assert check.entries == n and check.head == head
        coded = [h for h in lead.visible_history(backend.names["lead"], coder=me) if h["field"] == "sex"]
        assert [(h["old_value"], h["new_value"]) for h in coded] == [(None, 1), (1, 2), (2, None), (None, 1)]
