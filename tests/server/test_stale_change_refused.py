"""A change made against an old version of a code is refused with the current value, on both
backends (the same coder in two windows): the file audit keeps a version per code exactly as the
team server does, and a change without an expected version (import-codes, scripts) still writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chartcode.store import StaleChange, Store
from tests.server import test_backends
from tests.server.test_backends import Backend

backend = test_backends.backend  # the two-backend fixture: an audit file and a team server


def test_window_one_cannot_write_over_what_window_two_saved(backend: Backend):
    me = backend.names["intern"]
    with backend.open("intern") as window1, backend.open("intern") as window2:
        window1.set_code(me, "R1", "sex", 1)
        seen = window1.code_version(me, "R1", "sex")  # window 1 shows 1
        window2.set_code(me, "R1", "sex", 2, expected_version=window2.code_version(me, "R1", "sex"))
        history_before = len(window1.visible_history(me, coder=me))
        with pytest.raises(StaleChange) as stale:
            window1.set_code(me, "R1", "sex", 9, expected_version=seen)
        assert (stale.value.field, stale.value.current, stale.value.version) == ("sex", 2, seen + 1)
        assert str(stale.value) == "sex: changed elsewhere since you saw it (now 2); not saved"
        assert [c["value"] for c in window1.codes(coder=me, record_id="R1")] == [2]
        assert len(window1.visible_history(me, coder=me)) == history_before  # nothing written, not even history
        # made against the current version, the same change goes through
        change = window1.set_code(me, "R1", "sex", 9, expected_version=stale.value.version)
        assert change.changed and change.old == 2 and change.version == seen + 2


def test_a_first_code_raced_by_another_window_is_stale_too(backend: Backend):
    me = backend.names["intern"]
    with backend.open("intern") as window1, backend.open("intern") as window2:
        window2.set_code(me, "R2", "sex", 1, expected_version=0)  # both windows saw R2 empty (version 0)
        with pytest.raises(StaleChange) as stale:
            window1.set_code(me, "R2", "sex", 2, expected_version=0)
        assert stale.value.current == 1 and stale.value.version == 1


def test_versions_follow_the_same_rule_on_both_backends(backend: Backend):
    me = backend.names["intern"]
    with backend.open("intern") as store:

        def version() -> int:
            return store.code_version(me, "R1", "sex")

        steps = [version()]  # never set: 0
        assert store.set_code(me, "R1", "sex", 1).version == 1
        steps.append(version())
        assert store.set_code(me, "R1", "sex", 1).version == 1  # the same value again: no change, no new version
        steps.append(version())
        store.set_memo(me, "R1", "sex", "said so twice")  # a memo is a change to the code
        steps.append(version())
        assert store.set_code(me, "R1", "sex", 2).version == 3
        assert store.set_code(me, "R1", "sex", None).version == 4  # a clear too
        steps.append(version())
        assert store.set_code(me, "R2", "sex", None).version == 0  # clearing what was never set changes nothing
        assert steps == [0, 1, 1, 2, 4]
        assert store.code_versions(me, "R1") == {(None, "sex"): 4}


def test_changes_without_an_expected_version_still_write(backend: Backend, cli, tmp_path: Path):
    """import-codes (and any caller that does not pass expected_version) writes as before."""
    me = backend.names["intern"]
    with backend.open("intern") as store:
        store.set_code(me, "R1", "sex", 1, expected_version=0)
        store.set_code(me, "R1", "sex", 2)  # no version given: no check
        assert store.code_version(me, "R1", "sex") == 2
    codes = tmp_path / "codes.csv"
    codes.write_text("record_id,note_id,field,value\nR1,,sex,9\n")
    r = cli("import-codes", backend.targets["intern"], codes, "--coder", me, "--draft")
    assert r.code == 0, r.err
    with backend.open("intern") as store:
        assert [c["value"] for c in store.codes(coder=me, record_id="R1") if c["field"] == "sex"] == [9]
        assert store.code_version(me, "R1", "sex") == 3


def test_one_stale_change_class_for_both_backends():
    pytest.importorskip("psycopg")
    from chartcode.store import pg

    assert pg.StaleChange is StaleChange
    assert issubclass(StaleChange, Exception) and StaleChange("sex", None, 0).current is None


def test_an_audit_file_from_before_versions_opens_with_its_codes_at_version_1(tmp_path: Path):
    from chartcode.audit import load_audit

    audit = load_audit("conjoint-pain")
    db = tmp_path / "old.db"
    with Store.create(db, audit.codebook, audit=audit.as_dict(), coders=[("intern", "coder")]) as store:
        store.add_records(["R1"])
        store.set_code("intern", "R1", "sex", 1)
        store.set_code("intern", "R1", "sex", 2)
    conn = sqlite3.connect(db)  # back to the file as m006 left it: no version column, m007 not applied
    with conn:
        conn.execute("ALTER TABLE codes DROP COLUMN version")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_code_versions'")
    conn.close()
    with Store.open(db) as store:
        assert store.code_version("intern", "R1", "sex") == 1
        with pytest.raises(StaleChange):
            store.set_code("intern", "R1", "sex", 9, expected_version=0)
        assert store.set_code("intern", "R1", "sex", 9, expected_version=1).version == 2
        assert store.verify().ok


def test_versions_move_with_the_audit_to_a_server_and_back(cli, tmp_path: Path, admin_url: str):
    """A window opened on the migrated audit (or on a snapshot) keeps refusing a change made against
    the version shown before the move: migrate and snapshot copy each code's version."""
    import psycopg

    from chartcode.audit import load_audit

    audit = load_audit("conjoint-pain")
    db = tmp_path / "audit.db"
    with Store.create(db, audit.codebook, audit=audit.as_dict(), coders=[("intern", "coder"), ("qi", "lead")]) as s:
        s.add_records(["R1"])
        for value in (1, 2, 9):
            s.set_code("intern", "R1", "sex", value)
        assert s.code_version("intern", "R1", "sex") == 3
    assert cli("migrate", db, admin_url).code == 0
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("SELECT version FROM chartcode.codes WHERE coder = 'intern' AND field = 'sex'").fetchone()
    assert row == (3,)
    back = tmp_path / "back.db"
    assert cli("snapshot", admin_url, "--out", back).code == 0
    with Store.open(back) as s:
        assert s.code_version("intern", "R1", "sex") == 3
        with pytest.raises(StaleChange):
            s.set_code("intern", "R1", "sex", 1, expected_version=2)
