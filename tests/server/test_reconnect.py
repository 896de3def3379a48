"""A team server that goes away mid-coding: the restart of the cluster, or a coder's connection
ended by the server (pg_terminate_backend). Nothing acknowledged as saved is lost, nothing is
shown as saved before the server committed it, every change typed meanwhile is kept in order and
sent when the server answers again, and none is applied twice - also when the connection dropped
with the COMMIT's reply on its way back (the write committed, the coder's program never heard).

Before: a lost connection was a plain error; the coding screen dropped the change it was sending
("not saved"), and a write sent again after a lost COMMIT reply could be applied twice.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psycopg
import pytest

from chartcode.errors import UserError
from chartcode.store import ConnectionLost
from chartcode.store.pg import PgStore
from chartcode.store.pg import connect as pgconnect
from tests.server.conftest import Cluster, Team, lead_name

# ---------------------------------------------------------------------------------------------- helpers


def history_of(admin_url: str, coder: str) -> list[tuple[Any, ...]]:
    """(action, record, note, field, old, new) of a coder's coding entries, in order (as the admin)."""
    with psycopg.connect(admin_url) as conn:
        return conn.execute(
            "SELECT action, record_id, note_id, field, old_value, new_value FROM chartcode.history"
            " WHERE coder = %s AND field IS NOT NULL ORDER BY id",
            [coder],
        ).fetchall()


def code_row(admin_url: str, coder: str, record: str, field: str, note: str = "") -> tuple[Any, ...] | None:
    with psycopg.connect(admin_url) as conn:
        return conn.execute(
            "SELECT value, version FROM chartcode.codes WHERE coder = %s AND record_id = %s AND note_key = %s"
            " AND field = %s",
            [coder, record, note, field],
        ).fetchone()


def terminate(admin_url: str, role: str) -> int:
    """End every session of ``role`` on the server, as an administrator would; how many."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
            [role],
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


WRITES = ("chartcode.set_code(", "chartcode.flag(", "chartcode.submit(", "chartcode.set_memo(")


class Faults:
    """A connection factory for PgStore whose next write loses its connection on purpose:
    ``"before_write"``, as the write is sent (the server never runs it), or ``"after_write"``, once
    the server has run and committed it (the client sees only the connection go, as when the
    COMMIT's reply is lost). The connection is really ended, by the server (pg_terminate_backend of
    itself)."""

    def __init__(self) -> None:
        self.next: str | None = None
        self.dropped = 0
        faults = self

        class Conn(psycopg.Connection):  # type: ignore[type-arg]
            def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
                when = faults.next if any(w in str(query) for w in WRITES) else None
                if when is not None:
                    faults.next = None
                    faults.dropped += 1
                if when == "before_write":
                    super().execute("SELECT pg_terminate_backend(pg_backend_pid())")
                cursor = super().execute(query, params, **kwargs)
                if when == "after_write":
                    super().execute("SELECT pg_terminate_backend(pg_backend_pid())")
                return cursor

        self.conn_class = Conn

    def connect(self, url: str, **kwargs: Any) -> psycopg.Connection[Any]:
        return self.conn_class.connect(url, connect_timeout=10, **kwargs)


# ---------------------------------------------------------------------------------------------- the store


@pytest.mark.parametrize("again", [True, False], ids=["told-it-is-a-resend", "not-told"])
def test_a_write_whose_commit_reply_was_lost_is_not_applied_again_when_sent_again(team: Team, again: bool):
    """Told that this is a second attempt, the store asks the server first; not told, the key (the
    primary key of the server's record of it) refuses a second application all the same."""
    intern = lead_name(team.url("intern"))
    faults = Faults()
    with PgStore.open(team.url("intern"), connect=faults.connect) as store:
        before = history_of(team.admin, intern)
        faults.next = "after_write"
        with store.request("job-1"), pytest.raises(ConnectionLost) as lost:
            store.set_code(intern, "R1", "sex", 1)
        assert faults.dropped == 1 and "lost the connection to the server" in str(lost.value)
        assert code_row(team.admin, intern, "R1", "sex") == (1, 1)  # the server did commit it
        with psycopg.connect(team.admin) as conn:
            (committed_entry,) = conn.execute("SELECT last_id FROM chartcode.chain_head").fetchone()
        # meanwhile the same coder changes it elsewhere (another program, logged in as them)
        with PgStore.open(team.url("intern")) as other:
            other.set_code(intern, "R1", "sex", 2)
        # sent again with the same key: the recorded result, nothing written over the later change
        with store.request("job-1", again=again):
            resent = store.set_code(intern, "R1", "sex", 1)
        assert (resent.old, resent.new, resent.changed) == (None, 1, True)
        assert code_row(team.admin, intern, "R1", "sex") == (2, 2)
        added = history_of(team.admin, intern)[len(before) :]
        assert added == [("set", "R1", None, "sex", None, 1), ("change", "R1", None, "sex", 1, 2)]
        assert resent.history_id == committed_entry
        # a new key is a new write
        with store.request("job-2"):
            assert store.set_code(intern, "R1", "sex", 1).changed
        assert code_row(team.admin, intern, "R1", "sex") == (1, 3)


def test_a_write_lost_before_its_commit_is_applied_once_when_sent_again(team: Team):
    intern = lead_name(team.url("intern"))
    faults = Faults()
    with PgStore.open(team.url("intern"), connect=faults.connect) as store:
        before = history_of(team.admin, intern)
        faults.next = "before_write"
        with store.request("job-1"), pytest.raises(ConnectionLost):
            store.set_code(intern, "R1", "sex", 2)
        assert code_row(team.admin, intern, "R1", "sex") is None  # rolled back by the server
        with store.request("job-1", again=True):
            change = store.set_code(intern, "R1", "sex", 2)
        assert change.changed and code_row(team.admin, intern, "R1", "sex") == (2, 1)
        assert history_of(team.admin, intern)[len(before) :] == [("set", "R1", None, "sex", None, 2)]


def test_every_write_of_a_job_is_applied_once_whichever_of_them_lost_its_reply(team: Team):
    """A job that writes twice (a code, then the record's flag): the second write's reply is lost;
    sent again, the first is not written again either."""
    intern = lead_name(team.url("intern"))
    faults = Faults()
    with PgStore.open(team.url("intern"), connect=faults.connect) as store:

        def job() -> None:
            store.set_code(intern, "R2", "sex", 1)
            faults.next = "after_write" if faults.dropped == 0 else None
            store.flag(intern, "R2", "check the date")

        with store.request("job-9"), pytest.raises(ConnectionLost):
            job()
        with store.request("job-9", again=True):
            job()
    with psycopg.connect(team.admin) as conn:
        actions = conn.execute(
            "SELECT action FROM chartcode.history WHERE coder = %s AND record_id = 'R2' AND action IN ('set', 'flag')"
            " ORDER BY id",
            [intern],
        ).fetchall()
    assert actions == [("set",), ("flag",)]


def test_each_kind_of_screen_write_is_sent_with_a_key_and_returns_what_it_would_without(team: Team):
    """What the coding, rating and reconcile screens write (codes, memos, flags, positions, submit,
    consensus), inside a request: each lands once, with its usual result, and its result recorded."""
    from tests.whole_records import completed_csv

    intern = lead_name(team.url("intern"))
    with PgStore.open(team.url("lead")) as lead:
        rows = completed_csv(lead, "record_id,note_id,field,value\nR3,,sex,1\n").splitlines()[1:]
    with PgStore.open(team.url("intern")) as store:
        for n, line in enumerate(rows):
            record, note, field, value = line.split(",")
            with store.request(f"code-{n}"):
                assert store.set_code(intern, record, field, value, note_id=note or None).changed
        with store.request("memo"):
            assert store.set_memo(intern, "R3", "sex", "from the intake form") is True
        with store.request("flag"):
            store.flag(intern, "R3", "ask the supervisor")
        with store.request("position"):
            store.save_position(intern, "R3", None, "sex")
        with store.request("submit"):
            store.submit(intern, "R3")
        assert store.position(intern) == ("R3", None, "sex")
        assert store.assignment(intern, "R3")[0] == "done"
    with PgStore.open(team.url("supervisor")) as sup, sup.request("consensus"):
        change = sup.set_consensus("R3", "sex", 2, reason="chart says so", decided_by=lead_name(team.url("supervisor")))
        assert change.changed and change.new == 2
    with psycopg.connect(team.admin) as conn:
        keys = {k for (k,) in conn.execute("SELECT key FROM chartcode.requests")}
    assert {"memo/1", "flag/1", "position/1", "submit/1", "consensus/1", "code-0/1"} <= keys


def test_an_undo_sent_again_after_a_lost_reply_undoes_one_change_not_two(team: Team):
    """The session keeps its undo list until the undo has committed: sent again by the writer, the
    same undo goes out (before: the first attempt had taken it off the list, so the second undid
    the change before it too)."""
    from chartcode.coding import CodingSession, Slot

    intern = lead_name(team.url("intern"))
    faults = Faults()
    with PgStore.open(team.url("intern"), connect=faults.connect) as store:
        session = CodingSession(store, intern)
        sex = Slot(store.codebook.get("sex"))
        for key, value in (("a", 1), ("b", 2)):
            with store.request(key):
                session.set("R1", sex, value)
        faults.next = "after_write"
        with store.request("undo"), pytest.raises(ConnectionLost):
            session.undo()
        with store.request("undo", again=True):
            undone = session.undo()
        assert undone is not None and (undone.old, undone.new) == (2, 1)
        assert code_row(team.admin, intern, "R1", "sex") == (1, 3)
        assert session.can_undo()  # the first change is still there to undo, once
    actions = [(a, old, new) for a, _r, _n, f, old, new in history_of(team.admin, intern) if f == "sex"]
    assert actions == [("set", None, 1), ("change", 1, 2), ("undo", 2, 1)]


def test_a_read_after_the_server_ended_the_connection_is_sent_again_on_a_new_one(team: Team):
    intern = lead_name(team.url("intern"))
    with PgStore.open(team.url("intern")) as store:
        assert store.record_ids() == ["R1", "R2", "R3"]
        assert terminate(team.admin, intern) >= 1
        assert store.record_ids() == ["R1", "R2", "R3"]


def test_a_write_without_a_request_key_is_not_sent_twice(team: Team):
    """Outside a writer's request (a command-line write), a lost connection is reported, not retried:
    whether the write landed is the caller's to find out (one clear line, no traceback)."""
    intern = lead_name(team.url("intern"))
    faults = Faults()
    with PgStore.open(team.url("intern"), connect=faults.connect) as store:
        faults.next = "before_write"
        with pytest.raises(ConnectionLost) as lost:
            store.set_code(intern, "R1", "sex", 1)
        assert "\n" not in str(lost.value) and team.password not in str(lost.value)
        assert code_row(team.admin, intern, "R1", "sex") is None
        assert store.set_code(intern, "R1", "sex", 1).changed  # the next call connects again


def test_an_unreachable_server_is_a_lost_connection_but_a_refused_login_is_not(team: Team, pg_cluster: Cluster):
    db = team.admin.rsplit("/", 1)[1]
    with pytest.raises(ConnectionLost) as gone:
        PgStore(f"postgresql://someone:pw@127.0.0.1:1/{db}").record_ids()
    assert "cannot reach the server" in str(gone.value)
    with pytest.raises(UserError) as refused:
        PgStore(pg_cluster.url(db, lead_name(team.url("intern")), "wrong")).record_ids()
    assert not isinstance(refused.value, ConnectionLost) and "wrong or missing password" in str(refused.value)
    assert pgconnect.unavailable(psycopg.OperationalError("FATAL:  the database system is starting up"))


# ---------------------------------------------------------------------------------------------- the coding screen


def server_app(url: str) -> Any:
    from chartcode.tui.app import ChartcodeApp

    return ChartcodeApp(PgStore.open(url), lead_name(url), frozen_clock=True)


async def type_codes(pilot: Any, count: int, choice: int = 0) -> list[tuple[str | None, str, Any]]:
    """Press a choice key on the next ``count`` choice slots (tab past a slot typed in); what was
    typed, in order, as (note_id, field, value)."""
    from chartcode.tui.widgets.coding_form import choice_keys

    screen = pilot.app.coding_screen
    typed: list[tuple[str | None, str, Any]] = []
    while len(typed) < count:
        slot = screen.current_slot
        if not slot.field.has_choices:
            await pilot.press("tab")
            continue
        keys = list(choice_keys(slot.field).items())
        key, value = keys[min(choice, len(keys) - 1)]
        await pilot.press(key)
        typed.append((slot.note_id, slot.field.name, value))
    return typed


async def wait_saved(pilot: Any, timeout: float = 60.0) -> None:
    """Until every write has committed and its message been handled (the server may be restarting)."""
    screen = pilot.app.coding_screen
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause()
        if not screen.writer.pending() and not screen.pending:
            await pilot.pause()
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"writes did not commit within {timeout} s ({screen.writer.pending()} pending)")


def header_text(pilot: Any) -> str:
    from chartcode.tui.widgets.header import ProgressHeader

    r = pilot.app.coding_screen.query_one(ProgressHeader).render()
    return str(getattr(r, "plain", r))


def server_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def reconnecting_messages(messages: list[Any]) -> list[Any]:
    from chartcode.tui.writer import RECONNECTING, Waiting

    return [m for m in messages if isinstance(m, Waiting) and m.reason == RECONNECTING and m.waiting]


def check_committed_once_in_order(cli: Any, team: Team, before: int, typed: list[tuple[str | None, str, Any]]) -> None:
    intern = lead_name(team.url("intern"))
    added = history_of(team.admin, intern)[before:]
    assert [(note, field, new) for _a, _r, note, field, _old, new in added] == typed  # each once, in order
    for note, field, value in typed:
        assert code_row(team.admin, intern, "R1", field, note or "") == (value, 1)
    r = cli("verify", team.url("lead"))
    assert r.code == 0, r.err


def test_codes_typed_while_the_server_is_down_are_kept_in_order_and_sent_when_it_is_back(
    cli, team: Team, pg_cluster: Cluster
):
    before = len(history_of(team.admin, lead_name(team.url("intern"))))
    messages: list[Any] = []

    async def go() -> list[tuple[str | None, str, Any]]:
        app = server_app(team.url("intern"))
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            assert pilot.app.coding_screen.view.record_id == "R1"
            typed = await type_codes(pilot, 2)
            await wait_saved(pilot)
            assert "✓ saved" in header_text(pilot)
            await asyncio.to_thread(pg_cluster.stop)
            try:
                typed += await type_codes(pilot, 4)
                await pilot.pause(1.5)
                shown = header_text(pilot)
                assert "reconnecting to the server" in shown and "4 change(s) kept in order" in shown, shown
                assert "✓ saved" not in shown  # nothing shown as saved that the server has not committed
                assert pilot.app.coding_screen.writer.pending() == 4
            finally:
                await asyncio.to_thread(pg_cluster.start)
            await wait_saved(pilot)
            assert "✓ saved" in header_text(pilot)
            return typed

    typed = asyncio.run(go())
    assert len(typed) == 6 and reconnecting_messages(messages)
    check_committed_once_in_order(cli, team, before, typed)


def test_codes_typed_during_a_cluster_restart_are_each_committed_once_in_order(cli, team: Team, pg_cluster: Cluster):
    before = len(history_of(team.admin, lead_name(team.url("intern"))))
    messages: list[Any] = []

    async def go() -> list[tuple[str | None, str, Any]]:
        app = server_app(team.url("intern"))
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            typed = await type_codes(pilot, 1)
            await wait_saved(pilot)
            restart = threading.Thread(target=pg_cluster.restart)
            restart.start()
            # the slots are few (each is typed once), so type them while the server is down: on a
            # busy machine pg_ctl may take seconds to begin stopping it
            while restart.is_alive() and await asyncio.to_thread(server_answers, team.admin):
                await asyncio.sleep(0.02)
            while restart.is_alive() or len(typed) < 8:  # keep typing through the restart
                if len(typed) < 12:
                    typed += await type_codes(pilot, 1)
                await asyncio.sleep(0.1)
            restart.join()
            await wait_saved(pilot)
            return typed

    typed = asyncio.run(go())
    assert reconnecting_messages(messages), "the restart went unnoticed: no write was sent while it ran"
    check_committed_once_in_order(cli, team, before, typed)


def test_a_connection_ended_by_the_server_mid_write_is_sent_again_once(cli, team: Team):
    """An administrator ends the coder's session while a write waits on the server (here: for a
    lock the admin holds): the screen says it is reconnecting, and the write lands once."""
    intern = lead_name(team.url("intern"))
    before = len(history_of(team.admin, intern))
    messages: list[Any] = []

    async def go() -> list[tuple[str | None, str, Any]]:
        app = server_app(team.url("intern"))
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            typed = await type_codes(pilot, 1)
            await wait_saved(pilot)
            with psycopg.connect(team.admin) as holder:  # holds the history's head: writes wait
                holder.execute("SELECT * FROM chartcode.chain_head FOR UPDATE")
                typed += await type_codes(pilot, 2)
                for _ in range(200):
                    await asyncio.sleep(0.05)
                    with psycopg.connect(team.admin, autocommit=True) as admin:
                        waiting = admin.execute(
                            "SELECT pid FROM pg_stat_activity WHERE usename = %s AND wait_event_type = 'Lock'",
                            [intern],
                        ).fetchall()
                        if waiting:
                            admin.execute("SELECT pg_terminate_backend(%s)", [waiting[0][0]])
                            break
                else:
                    raise AssertionError("the write never reached the server")
                for _ in range(100):
                    await pilot.pause(0.05)
                    if reconnecting_messages(messages):
                        break
                shown = header_text(pilot)
                assert "reconnecting to the server" in shown and "kept in order" in shown, shown
                holder.rollback()
            await wait_saved(pilot)
            assert "✓ saved" in header_text(pilot)
            return typed

    typed = asyncio.run(go())
    check_committed_once_in_order(cli, team, before, typed)


def test_a_key_that_needs_the_server_while_it_is_down_says_so_and_the_screen_carries_on(cli, team: Team, pg_cluster):
    """Moving to the next note reads it from the server: while the server is down the key says so
    (before: the exception ended the app, and the change waiting to be sent with it)."""
    before = len(history_of(team.admin, lead_name(team.url("intern"))))
    messages: list[Any] = []

    async def go() -> list[tuple[str | None, str, Any]]:
        app = server_app(team.url("intern"))
        async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
            await asyncio.to_thread(pg_cluster.stop)
            try:
                typed = await type_codes(pilot, 1)
                await pilot.press("n", "right_square_bracket")  # next note, next record: both read
                await pilot.pause(0.5)
                assert pilot.app.is_running
                assert "reconnecting to the server" in header_text(pilot)
            finally:
                await asyncio.to_thread(pg_cluster.start)
            await wait_saved(pilot)
            assert "✓ saved" in header_text(pilot)  # the end of the wait does not hide the save
            await pilot.press("n")  # the server is back: the key works again
            await pilot.pause(0.5)
            assert pilot.app.coding_screen.note_idx == 1
            return typed

    typed = asyncio.run(go())
    notes = [m.notification for m in messages if type(m).__name__ == "Notify"]
    away = [n for n in notes if n.title == "Server not answering"]
    assert len(away) == 2 and "cannot reach the server" in away[0].message
    check_committed_once_in_order(cli, team, before, typed)
