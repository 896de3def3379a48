"""Same coder, second window: the screen says so and opens read-only, or takes over after the coder
confirms (the first window then turns read-only); a killed window's stale lease locks no one out."""

from __future__ import annotations

import datetime as dt

from chartcode.store import Store
from tests.tui.conftest import make_app, run, settle


def _codes(db):
    with Store.open(db) as s:
        return sorted((c["record_id"], c["note_id"] or "", c["field"], c["value"]) for c in s.codes(coder="intern"))


def test_a_second_window_opens_read_only_and_writes_nothing(demo_db):
    async def go():
        first = make_app(demo_db)
        async with first.run_test(size=(100, 30)) as one:
            await one.pause()
            second = make_app(demo_db)
            async with second.run_test(size=(100, 30)) as two:
                await two.pause()
                assert type(two.app.screen).__name__ == "SecondWindow"
                title = two.app.screen.query_one("#second-title").render().plain
                assert "intern already has the coding screen open" in title
                await two.press("r")
                await two.pause()
                screen = two.app.coding_screen
                assert screen.read_only
                before = _codes(demo_db)
                await two.press("3", "d")
                await settle(two)
                assert _codes(demo_db) == before  # nothing saved from the read-only window
            # the first window still codes
            await one.press("3")
            await settle(one)
            assert one.app.coding_screen.read_only is False
            assert "VET-019" in {c[0] for c in _codes(demo_db)}

    run(go())


def test_taking_over_turns_the_first_window_read_only_at_its_next_heartbeat(demo_db):
    async def go():
        async with make_app(demo_db).run_test(size=(100, 30)) as one:
            await one.pause()
            async with make_app(demo_db).run_test(size=(100, 30)) as two:
                await two.pause()
                await two.press("t")
                await two.pause()
                assert two.app.coding_screen.read_only is False
                first = one.app.coding_screen
                first._heartbeat()  # what its timer does every few seconds
                await one.pause()
                assert first.read_only
                before = _codes(demo_db)
                await one.press("3")
                await settle(one)
                assert _codes(demo_db) == before
                await two.press("3")
                await settle(two)
                assert _codes(demo_db) != before

    run(go())


async def _opens_writable_and_quits(db) -> None:
    """The coding screen opens for intern without asking, writable, and quits."""
    async with make_app(db).run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert type(pilot.app.screen).__name__ == "CodingScreen"
        assert pilot.app.coding_screen.read_only is False
        await pilot.press("ctrl+q")


def test_a_killed_windows_stale_lease_does_not_lock_the_coder_out(demo_db):
    with Store.open(demo_db) as s:
        assert s.acquire_lease("intern", "a-window-that-was-killed") is None
        old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        with s._write() as db:  # the killed window's last heartbeat, five minutes ago
            db.conn.execute("UPDATE screen_leases SET heartbeat_at = ? WHERE coder = 'intern'", [old])

    run(_opens_writable_and_quits(demo_db))
    with Store.open(demo_db) as s:
        assert s.lease("intern") is None  # released on quit


def _dead_pid() -> int:
    """The pid of a process that has ended (a child that exits at once, reaped)."""
    import os

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def _lease_of(db, *, host: str, pid: int) -> None:
    """intern's lease held by a window of ``pid`` on ``host`` that beat just now."""
    with Store.open(db) as s:
        assert s.acquire_lease("intern", "a-window-of-another-process") is None
        with s._write() as w:
            w.conn.execute("UPDATE screen_leases SET host = ?, pid = ? WHERE coder = 'intern'", [host, pid])


def test_a_lease_whose_process_is_gone_on_this_machine_is_taken_at_once(demo_db):
    import socket

    _lease_of(demo_db, host=socket.gethostname(), pid=_dead_pid())  # killed a moment ago: no 30 s wait

    run(_opens_writable_and_quits(demo_db))


def test_a_fresh_lease_of_a_live_process_or_another_machine_still_asks(demo_db):
    import os
    import socket

    for host, pid in ((socket.gethostname(), os.getppid()), ("another-machine", _dead_pid())):
        _lease_of(demo_db, host=host, pid=pid)  # alive here, or on a machine whose processes we cannot see

        async def go():
            async with make_app(demo_db).run_test(size=(100, 30)) as pilot:
                await pilot.pause()
                assert type(pilot.app.screen).__name__ == "SecondWindow"
                await pilot.press("r")
                await pilot.pause()
                assert pilot.app.coding_screen.read_only

        run(go())
        with Store.open(demo_db) as s:
            lease = s.lease("intern")
            assert lease is not None and (lease.host, lease.pid) == (host, pid)  # nothing taken
