"""The same coder in two windows, on the file and on the team server: a change made on the coding
or rating screen against a value another window has changed since is refused on screen with the
value the database holds now ("changed elsewhere: now 2"), the slot shows that value, and nothing
is written over it; coding it again (against the value now shown) saves."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from chartcode.coding import CodingSession, Slot
from chartcode.errors import UserError
from chartcode.store import StaleChange, Store, open_store
from chartcode.tui.app import ChartcodeApp
from chartcode.tui.widgets.header import ProgressHeader
from tests.server import test_backends
from tests.server.conftest import Team, lead_name
from tests.server.test_backends import Backend
from tests.tui.conftest import run
from tests.tui.test_rating_screen import RECORD, scale_yaml

backend = test_backends.backend  # the two-backend fixture: an audit file and a team server


def _app(target: str, coder: str, **kwargs: Any) -> ChartcodeApp:
    return ChartcodeApp(open_store(target), coder, frozen_clock=True, **kwargs)


async def _settle(pilot) -> None:
    screen = pilot.app.main_screen
    for _ in range(1000):
        await pilot.pause()
        if not screen.writer.pending() and not screen.pending:
            await pilot.pause()
            return
        await asyncio.sleep(0.01)
    raise AssertionError("writes did not settle")


def _messages(pilot) -> list[str]:
    return [str(n.message) for n in pilot.app._notifications]


def _stored(b: Backend, who: str, record_id: str, field: str) -> Any:
    with b.open(who) as s:
        return next((c["value"] for c in s.codes(coder=b.names[who], record_id=record_id) if c["field"] == field), None)


async def _on_field(pilot, field: str) -> None:
    screen = pilot.app.coding_screen
    screen.move_cursor(next(i for i, s in enumerate(screen.view.slots) if s.field.name == field))
    await pilot.pause()


def test_a_code_changed_in_another_window_is_refused_with_the_value_it_holds_now(backend: Backend):
    me = backend.names["intern"]

    async def go():
        async with _app(backend.targets["intern"], me).run_test(size=(120, 40)) as pilot:
            await _settle(pilot)
            screen = pilot.app.coding_screen
            assert screen.view.record_id == "R1" and screen.view.values.get((None, "sex")) is None
            with backend.open("intern") as other:  # the other window saves Female on the same code
                other.set_code(me, "R1", "sex", 2, expected_version=other.code_version(me, "R1", "sex"))
            await _on_field(pilot, "sex")
            await pilot.press("1")  # this window still shows sex empty
            await _settle(pilot)
            assert _stored(backend, "intern", "R1", "sex") == 2  # not written over
            assert any("Sex: changed elsewhere: now 2 Female" in m for m in _messages(pilot))
            assert screen.view.values[(None, "sex")] == 2  # the slot shows what the database holds
            assert "changed elsewhere" in screen.query_one(ProgressHeader).saved
            # coded again, against the value now shown, it saves
            await _on_field(pilot, "sex")
            await pilot.press("1")
            await _settle(pilot)
            assert _stored(backend, "intern", "R1", "sex") == 1

    run(go())
    with backend.open("intern") as s:
        hist = [(h["old_value"], h["new_value"]) for h in s.visible_history(me, coder=me) if h["field"] == "sex"]
        assert hist == [(None, 2), (2, 1)]  # the refused change left no trace but its refusal on screen


def test_two_windows_of_one_coder_on_the_server_each_refuse_the_others_stale_change(team: Team):
    """The server keeps no screen leases (a file audit opens a second window read-only, see
    test_second_window.py), so both windows code at once and only the version check stands between them."""
    server = Backend("server", dict(team.urls), {w: lead_name(u) for w, u in team.urls.items()})
    me = server.names["intern"]

    async def go():
        async with (
            _app(server.targets["intern"], me).run_test(size=(120, 40)) as one,
            _app(server.targets["intern"], me).run_test(size=(120, 40)) as two,
        ):
            await _settle(one)
            await _settle(two)
            await _on_field(one, "sex")
            await _on_field(two, "sex")
            await two.press("2")
            await _settle(two)
            await one.press("1")  # window 1 was shown the empty code window 2 has since set
            await _settle(one)
            assert _stored(server, "intern", "R1", "sex") == 2
            assert any("changed elsewhere: now 2" in m for m in _messages(one))
            assert one.app.coding_screen.view.values[(None, "sex")] == 2
            # and the other way round: window 2 now shows 2, window 1 changes it to 9, window 2's 1 is refused
            await _on_field(one, "sex")
            await one.press("9")
            await _settle(one)
            await _on_field(two, "sex")
            await two.press("1")
            await _settle(two)
            assert _stored(server, "intern", "R1", "sex") == 9
            assert any("changed elsewhere: now 9 Not documented" in m for m in _messages(two))

    run(go())


def test_a_memo_written_in_another_window_makes_the_shown_code_stale(backend: Backend):
    me = backend.names["intern"]

    async def go():
        async with _app(backend.targets["intern"], me).run_test(size=(120, 40)) as pilot:
            await _settle(pilot)
            await _on_field(pilot, "sex")
            await pilot.press("1")
            await _settle(pilot)
            with backend.open("intern") as other:
                other.set_memo(me, "R1", "sex", "chart header says so")
                other.set_code(me, "R1", "sex", 2)  # a script or import-codes: no version check there
            await _on_field(pilot, "sex")
            await pilot.press("9")
            await _settle(pilot)
            assert _stored(backend, "intern", "R1", "sex") == 2
            assert any("changed elsewhere: now 2" in m for m in _messages(pilot))

    run(go())


def test_changes_queued_on_one_code_go_out_in_order_and_a_refused_one_takes_the_rest_with_it(
    backend: Backend,
):
    """Keys pressed faster than the writer commits: each change is sent against the version the one
    before it left; once one is refused, those made on top of it are refused too (they were made
    against a value the database never held), even when their version happens to match."""
    me = backend.names["intern"]
    with backend.open("intern") as store, backend.open("intern") as other:
        session = CodingSession(store, me)
        session.load("R1")
        sex = Slot(store.codebook.field("sex"))
        first, second = session.ticket("R1", sex), session.ticket("R1", sex)  # both queued before either runs
        assert session.set("R1", sex, 1, first).version == 1
        assert session.set("R1", sex, 2, second).version == 2
        session.versions.settle(first)
        session.versions.settle(second)
        a, b = session.ticket("R1", sex), session.ticket("R1", sex)
        other.set_code(me, "R1", "sex", 9, expected_version=2)  # another window, between the keys
        with pytest.raises(StaleChange) as refused:
            session.set("R1", sex, 1, a)
        assert refused.value.current == 9 and refused.value.version == 3
        with pytest.raises(StaleChange):  # b would be sent against version 3, which is the current one
            session.set("R1", sex, 2, b)
        session.versions.settle(a)
        session.versions.settle(b)
        assert store.code_version(me, "R1", "sex") == 3 and _stored(backend, "intern", "R1", "sex") == 9
        again = session.ticket("R1", sex)  # made after the refusal was shown: against version 3
        assert session.set("R1", sex, 1, again).version == 4
        session.versions.settle(again)
        bad, after_bad = session.ticket("R1", sex), session.ticket("R1", sex)
        with pytest.raises(UserError):  # refused for another reason: no such choice
            session.set("R1", sex, 7, bad)
        assert session.set("R1", sex, 2, after_bad).version == 5  # sent against the version bad found


# ---------------------------------------------------------------------------- the rating screen
@pytest.fixture(params=["file", "server"])
def scale_audit(request, tmp_path: Path) -> tuple[str, str, str]:
    """The mini fidelity scale with one unit-period assigned to alice: (target, alice, lead) on a file
    or on the team server."""
    from chartcode.codebook import load_codebook

    cb = load_codebook("mini-fidelity.yaml", scale_yaml())
    if request.param == "file":
        db = tmp_path / "fidelity.db"
        with Store.create(db, cb, coders=[("alice", "coder"), ("lead", "lead")]) as store:
            store.add_unit_period("Team A", "2025-H1")
            store.assign("alice", [RECORD])
        return str(db), "alice", "lead"
    from chartcode.store.pg import PgStore
    from chartcode.store.pg import admin as pgadmin

    cluster = request.getfixturevalue("pg_cluster")
    url = request.getfixturevalue("admin_url")
    pgadmin.init_server(url, cb)
    db = url.rsplit("/", 1)[1]
    for who, role in (("alice", "coder"), ("lead", "lead")):
        pgadmin.add_coder(url, f"{db}{who}", role, "pw-" + who)
    alice = cluster.url(db, f"{db}alice", "pw-alice")
    with PgStore.open(cluster.url(db, f"{db}lead", "pw-lead")) as lead:
        lead.add_unit_period("Team A", "2025-H1")
        lead.assign(f"{db}alice", [RECORD])
    return alice, f"{db}alice", f"{db}lead"


def test_a_rating_changed_in_another_window_is_refused_with_the_rating_it_holds_now(scale_audit):
    target, alice, _lead = scale_audit

    async def go():
        async with _app(target, alice, mode="rate", record_id=RECORD).run_test(size=(120, 40)) as pilot:
            await _settle(pilot)
            screen = pilot.app.main_screen
            assert screen.field.name == "caseload"
            with open_store(target) as other:
                other.set_code(alice, RECORD, "caseload", 4, expected_version=0)
            await pilot.press("2")
            await _settle(pilot)
            assert screen.values["caseload"] == 4
            assert any("Caseload size: changed elsewhere: now 4" in m for m in _messages(pilot))
            with open_store(target) as s:
                assert [c["value"] for c in s.codes(coder=alice, record_id=RECORD)] == [4]
            screen.move(0)
            await pilot.press("2")  # against the rating now shown: saved
            await _settle(pilot)
            with open_store(target) as s:
                assert [c["value"] for c in s.codes(coder=alice, record_id=RECORD)] == [2]
            await pilot.press("3", "4", "5")  # the other three items, then submit the unit-period
            await _settle(pilot)
            await pilot.press("s")
            await pilot.pause()
            await pilot.press("y")
            await _settle(pilot)
            assert screen.submitted, _messages(pilot)

    run(go())
    with open_store(target) as s:
        assert s.assignment(alice, RECORD)[0] == "done"
        assert sorted(c["value"] for c in s.codes(coder=alice, record_id=RECORD)) == [2, 3, 4, 5]
