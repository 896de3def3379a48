"""CHARTCODE_KEY_TRACE=FILE: each app keeps its own per-key trace and writes it when it closes.

The trace belongs to the app, not to the module that defines it (no module state): an app made
after the variable is set traces, one made without it does not, and two apps in one process each
write their own file.
"""

from __future__ import annotations

import stat

from chartcode.tui import keytrace
from tests.tui.conftest import make_app, run, settle


def _type_a_code(db) -> None:
    async def go():
        async with make_app(db).run_test(size=(120, 40)) as pilot:
            await pilot.press("3")
            await settle(pilot)

    run(go())


def test_an_app_made_with_the_variable_writes_its_keys_saves_and_paints_when_it_closes(demo_db, tmp_path, monkeypatch):
    trace = tmp_path / "keys.tsv"
    monkeypatch.setenv(keytrace.ENV, str(trace))
    _type_a_code(demo_db)
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600
    rows = [line.split("\t") for line in trace.read_text().splitlines()]
    events = [r[1] for r in rows]
    for name in ("key", "dispatch", "submit", "begin", "commit", "saved", "paint", "paint_end", "layout"):
        assert name in events, name
    # the key's path in order: parsed, dispatched, its code's write queued, begun, committed, heard
    # back (the screen's own "position" write at opening comes before any key)
    key = events.index("key")
    steps = [events.index("dispatch", key)]
    for name in ("submit", "begin", "commit", "saved"):
        steps.append(next(i for i, r in enumerate(rows) if i > key and r[1] == name and r[-1] == "code"))
    assert steps == sorted(steps), steps


def test_without_the_variable_an_app_keeps_no_trace(demo_db, monkeypatch):
    monkeypatch.delenv(keytrace.ENV, raising=False)
    app = make_app(demo_db)
    try:
        assert app.key_trace is None and keytrace.of(app) is None
        assert app.keys.trace is None
    finally:
        app.store.close()


def test_two_apps_in_one_process_each_write_their_own_trace(demo_db, tmp_path, monkeypatch):
    first, second = tmp_path / "first.tsv", tmp_path / "second.tsv"
    monkeypatch.setenv(keytrace.ENV, str(first))
    _type_a_code(demo_db)
    monkeypatch.setenv(keytrace.ENV, str(second))
    _type_a_code(demo_db)
    monkeypatch.delenv(keytrace.ENV)
    _type_a_code(demo_db)  # made without the variable: writes nowhere
    one, two = first.read_text().splitlines(), second.read_text().splitlines()
    assert one and two
    # each file holds its own app's events only: the second began after the first was written
    assert float(two[0].split("\t")[0]) > float(one[-1].split("\t")[0])
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tsv") == ["first.tsv", "second.tsv"]
