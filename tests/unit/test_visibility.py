"""The blinding rule (chartcode.store.visibility), once for every listing: who sees whose codes.

A code of coder C on record R is shown to viewer V only if V is C, or V is a lead, or the code
was submitted and every coder assigned to R has submitted R. No viewer: as for any non-lead.
"""

from __future__ import annotations

import pytest

from chartcode import resources
from chartcode.codebook import load_codebook
from chartcode.errors import UserError
from chartcode.store import Store, visibility
from tests.whole_records import submit_whole


@pytest.fixture
def store(tmp_path):
    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    s = Store.create(
        tmp_path / "v.db",
        cb,
        coders=[("intern", "coder"), ("supervisor", "supervisor"), ("other", "coder"), ("boss", "lead")],
    )
    s.add_records(["R1", "R2"])
    s.assign("intern", ["R1", "R2"])
    s.assign("supervisor", ["R1"])
    s.set_code("intern", "R1", "age", "61")
    s.set_code("supervisor", "R1", "age", "62")
    s.set_code("intern", "R2", "age", "70")
    yield s
    s.close()


def seen(store: Store, viewer: str | None) -> set[tuple[str, str]]:
    return {(r["coder"], r["record_id"]) for r in store.visible_codes(viewer)}


def long_seen(store: Store, viewer: str | None) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in store.visible_code_rows(viewer)}


def history_seen(store: Store, viewer: str | None) -> set[tuple[str, str]]:
    return {
        (h["coder"], h["record_id"])
        for h in store.visible_history(viewer)
        if h["action"] in ("set", "change") and h["new_value"] != visibility.BLIND
    }


ALL = {("intern", "R1"), ("supervisor", "R1"), ("intern", "R2")}


@pytest.mark.parametrize("listing", [seen, long_seen, history_seen])
def test_the_coder_sees_their_own_codes_submitted_or_not(store, listing):
    assert listing(store, "intern") == {("intern", "R1"), ("intern", "R2")}
    assert listing(store, "supervisor") == {("supervisor", "R1")}


@pytest.mark.parametrize("listing", [seen, long_seen, history_seen])
def test_another_coder_sees_nothing_until_every_coder_of_the_record_has_submitted(store, listing):
    submit_whole(store, "intern", "R1")  # the supervisor has not submitted R1 yet
    assert listing(store, "supervisor") == {("supervisor", "R1")}
    assert listing(store, "other") == set()
    assert listing(store, None) == set()
    submit_whole(store, "supervisor", "R1")  # now every coder assigned to R1 has
    assert listing(store, "supervisor") == {("supervisor", "R1"), ("intern", "R1")}
    assert listing(store, "intern") == {("supervisor", "R1"), ("intern", "R1"), ("intern", "R2")}
    assert listing(store, "other") == set()  # not assigned to R1: sees nothing of it
    assert listing(store, None) == set()  # no viewer: nobody's codes
    every_code = sum(1 for c in store.codes() if c["value"] is not None)
    assert store.hidden_count(None) == store.hidden_count("other") == every_code


@pytest.mark.parametrize("listing", [seen, long_seen, history_seen])
def test_a_coder_sees_nothing_of_a_record_before_being_assigned_to_it(store, listing):
    submit_whole(store, "intern", "R2")  # R2 is closed: the intern was its only coder
    assert ("intern", "R2") not in listing(store, "supervisor")
    store.assign("supervisor", ["R2"])  # now a double-coding record, open again
    assert ("intern", "R2") not in listing(store, "supervisor")
    submit_whole(store, "supervisor", "R2")  # assigned and submitted: now the supervisor may see it
    assert ("intern", "R2") in listing(store, "supervisor")
    assert ("intern", "R2") not in listing(store, "other")


@pytest.mark.parametrize("listing", [seen, long_seen, history_seen])
def test_a_lead_sees_everything(store, listing):
    assert listing(store, "boss") == ALL
    assert store.hidden_count("boss") == 0


@pytest.mark.parametrize("listing", [seen, long_seen, history_seen])
def test_an_unsubmitted_code_on_a_closed_record_stays_blind(store, listing):
    submit_whole(store, "intern", "R1")
    submit_whole(store, "supervisor", "R1")
    store.set_code("other", "R1", "age", "63")  # a coder not assigned to R1: never submitted
    assert ("other", "R1") not in listing(store, "intern")
    assert ("other", "R1") in listing(store, "other")
    assert ("other", "R1") in listing(store, "boss")


def test_an_unknown_viewer_is_refused(store):
    with pytest.raises(UserError, match="not in this audit"):
        list(store.visible_codes("nobody"))


def test_blinded_history_keeps_whether_there_was_a_value(store):
    store.set_code("supervisor", "R1", "age", None)
    entries = [h for h in store.visible_history("intern") if h["coder"] == "supervisor" and h["field"]]
    assert [(h["action"], h["old_value"], h["new_value"]) for h in entries] == [
        ("set", visibility.BLIND, visibility.BLIND),
        ("clear", visibility.BLIND, visibility.BLIND),
    ]
    assert [h["new_value"] for h in store.visible_history("boss") if h["coder"] == "supervisor" and h["field"]] == [
        62,
        None,
    ]


def test_the_rule_is_one_sql_condition():
    assert visibility.rule(None, lead=True) == ("1 = 1", [])
    cond, params = visibility.rule("intern", lead=False)
    assert params == ["intern", "intern"] and cond.startswith("(c.coder = ? OR ") and visibility.SHARED in cond
    assert visibility.coded_by_viewer("c.record_id") in cond
    assert visibility.rule(None, lead=False) == ("1 = 0", [])


def test_codes_and_history_as_a_viewer_go_through_the_rule(cli, tmp_path, monkeypatch):
    db = tmp_path / "a.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    calls = []
    real = visibility.rule

    def spy(viewer, **kw):
        calls.append(viewer)
        return real(viewer, **kw)

    monkeypatch.setattr(visibility, "rule", spy)
    for command in ("codes", "history"):
        calls.clear()
        r = cli(command, db, "--as", "intern")
        assert r.code == 0, r.err
        assert calls and set(calls) == {"intern"}, command
