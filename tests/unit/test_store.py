"""The audit store: private files, one transaction per action, append-only history."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading

import pytest

from chartcode import resources
from chartcode.codebook import load_codebook
from chartcode.errors import UserError
from chartcode.store import Store
from tests.whole_records import submit_whole


@pytest.fixture
def codebook():
    return load_codebook(resources.resolve("codebooks", "conjoint-pain"))


@pytest.fixture
def store(tmp_path, codebook):
    s = Store.create(tmp_path / "a.db", codebook, coders=[("intern", "coder"), ("supervisor", "supervisor")])
    s.add_records(["R1", "R2"])
    with s._write() as db:
        db.conn.execute(
            "INSERT INTO notes(note_id, record_id, note_type, text, content_sha) VALUES"
            " ('N1', 'R1', 'conjoint', 'x', 'x'), ('N2', 'R1', 'phone', 'y', 'y')"
        )
    s.assign("intern", ["R1", "R2"])
    yield s
    s.close()


def test_database_files_are_owner_only(tmp_path, codebook):
    s = Store.create(tmp_path / "p.db", codebook)
    s.add_records(["R1"])  # forces the WAL and shared-memory files into existence
    names = [n for n in os.listdir(tmp_path) if n.startswith("p.db")]
    assert {"p.db", "p.db-wal", "p.db-shm"} <= set(names)
    for n in names:
        assert stat.S_IMODE(os.stat(tmp_path / n).st_mode) == 0o600, n
    s.close()


def test_database_uses_wal_strict_tables_and_recorded_migrations(store):
    db = store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    assert "STRICT" in tables["codes"] and "STRICT" in tables["history"]
    applied = [r["name"] for r in db.query("SELECT name FROM _sqlite_migrations WHERE migration_set = 'chartcode'")]
    from chartcode.store.schema import migrations

    assert applied == [m.name for m in migrations()._migrations]


def test_opening_an_older_database_applies_pending_migrations(tmp_path, codebook):
    path = tmp_path / "old.db"
    Store.create(path, codebook).close()
    raw = sqlite3.connect(path)
    raw.execute("DROP TABLE positions")
    raw.execute("DELETE FROM _sqlite_migrations WHERE name = 'm002_positions'")
    raw.commit()
    raw.close()
    with Store.open(path) as s:
        assert "positions" in s._db.table_names()


def test_create_refuses_an_existing_file(tmp_path, codebook):
    (tmp_path / "x.db").write_text("")
    with pytest.raises(UserError, match="already exists"):
        Store.create(tmp_path / "x.db", codebook)


def test_open_refuses_a_file_that_is_not_an_audit(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t(x)").connection.close()
    with pytest.raises(UserError, match="not a chartcode audit database"):
        Store.open(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(UserError, match="not a chartcode audit database"):
        Store.open(junk)


@pytest.mark.parametrize("sql", ["UPDATE history SET actor = 'mallory'", "DELETE FROM history"])
def test_the_database_itself_refuses_to_rewrite_history(store, sql):
    store.set_code("intern", "R1", "age", "61")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store._db.execute(sql)
    # even through a raw connection that knows nothing of chartcode
    raw = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute(sql)
    raw.close()


def test_every_change_is_appended_with_who_when_old_new_and_reason(store):
    store.set_code("intern", "R1", "age", "61")
    store.set_code("intern", "R1", "age", "62", reason="re-read the header")
    store.set_code("intern", "R1", "age", None, reason="unclear")
    h = [x for x in store.history(coder="intern") if x["field"] == "age"]
    assert [(x["action"], x["old_value"], x["new_value"]) for x in h] == [
        ("set", None, 61),
        ("change", 61, 62),
        ("clear", 62, None),
    ]
    assert h[1]["reason"] == "re-read the header" and h[1]["actor"] == "intern"
    assert all(x["at"].endswith("Z") for x in h)


def test_setting_the_same_value_again_writes_nothing(store):
    store.set_code("intern", "R1", "age", "61")
    n = len(store.history())
    change = store.set_code("intern", "R1", "age", 61)
    assert not change.changed and len(store.history()) == n


def test_first_code_moves_the_assignment_to_in_progress(store):
    store.set_code("intern", "R1", "sex", 1)
    assert {a["record_id"]: a["status"] for a in store.assignments("intern")} == {
        "R1": "in_progress",
        "R2": "not_started",
    }


@pytest.mark.parametrize(
    "args, message",
    [
        (("intern", "R9", "age", "61"), "unknown record 'R9'"),
        (("intern", "R1", "colour", "1"), "unknown field 'colour'"),
        (("nobody", "R1", "age", "61"), "coder 'nobody' is not in this audit"),
        (("intern", "R1", "sex", "7"), "field 'sex': '7' is not a code"),
        (("intern", "R1", "session_content", "3"), "coded per note; a note_id is required"),
    ],
)
def test_codes_that_do_not_fit_are_refused(store, args, message):
    with pytest.raises(UserError, match=message):
        store.set_code(*args)


def test_note_level_field_only_on_its_note_types(store):
    store.set_code("intern", "R1", "session_content", "3", note_id="N1")
    with pytest.raises(UserError, match="coded only on conjoint notes"):
        store.set_code("intern", "R1", "session_content", "3", note_id="N2")
    with pytest.raises(UserError, match="once per record"):
        store.set_code("intern", "R1", "age", "61", note_id="N1")


def test_submit_freezes_values_and_later_changes_are_revisions(store):
    store.set_code("intern", "R1", "sex", 1)
    submit_whole(store, "intern", "R1")
    store.set_code("intern", "R1", "sex", 2, reason="second look")
    row = store._db.execute("SELECT value, submitted_value FROM codes WHERE field = 'sex'").fetchone()
    assert row == (2, 1)


def test_memo_is_stored_with_the_code_and_in_history(store):
    store.set_code("intern", "R1", "sex", 1)
    assert store.set_memo("intern", "R1", "sex", "header says M")
    assert next(store.codes(coder="intern"))["memo"] == "header says M"
    assert store.history()[-1]["action"] == "memo"


def test_store_works_from_a_worker_thread(store):
    errors = []

    def work():
        try:
            store.set_code("intern", "R2", "age", "70")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert not errors
    assert any(c["record_id"] == "R2" for c in store.codes())


def test_stored_codebook_is_used_not_the_file_on_disk(tmp_path, codebook):
    s = Store.create(tmp_path / "c.db", codebook)
    assert s.codebook.hash == codebook.hash
    changed = load_codebook("x.yaml", text=codebook.source.replace("5: Patient continued in services", "5: Continued"))
    with pytest.raises(UserError) as exc:
        s.require_codebook(changed, "new.yaml")
    assert "differs from the codebook stored" in str(exc.value)
    assert "choice 5 relabelled" in str(exc.value)
    s.close()


def test_upgrade_refuses_to_reinterpret_stored_codes(store, codebook):
    store.set_code("intern", "R1", "termination", 5)
    removed = load_codebook("x.yaml", text=codebook.source.replace("      5: Patient continued in services\n", ""))
    with pytest.raises(UserError, match="would re-interpret stored codes"):
        store.upgrade_codebook(removed, actor="lead")
    relabelled = load_codebook(
        "x.yaml", text=codebook.source.replace("5: Patient continued in services", "5: Still in services")
    )
    with pytest.raises(UserError, match="--yes"):
        store.upgrade_codebook(relabelled, actor="lead")
    store.upgrade_codebook(relabelled, actor="lead", accept_review=True)
    assert store.codebook.hash == relabelled.hash
    assert len(store.codebook_versions()) == 2
    assert store.history()[-1]["action"] == "codebook"


def test_data_layers_do_not_load_textual():
    code = (
        "import sys\n"
        "import chartcode.store, chartcode.codebook, chartcode.importers.notes, chartcode.importers.codes\n"
        "import chartcode.audit, chartcode.codebook.redcap, chartcode.codebook.qdc, chartcode.demo, chartcode.cli\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'chartcode.tui')))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_counts_give_each_coders_stored_codes_and_leave_out_cleared_ones(store):
    store.assign("supervisor", ["R1"])
    store.set_code("intern", "R1", "age", "61")
    store.set_code("intern", "R2", "age", "50")
    store.set_code("intern", "R2", "age", None, reason="wrong record")  # cleared: the row stays, NULL
    store.set_code("supervisor", "R1", "age", "61")
    counts = store.counts()
    assert counts["codes"] == 2
    assert counts["coders"] == ["intern", "supervisor"]
    assert [(c["name"], c["codes"], c["assigned"]) for c in counts["coder_progress"]] == [
        ("intern", 1, 2),
        ("supervisor", 1, 1),
    ]
    with store._write() as db:  # a coder with nothing coded yet counts 0, not a missing entry
        db.conn.execute("INSERT INTO coders(name, role, added_at) VALUES ('third', 'coder', '2026-12-04T00:00:00Z')")
    assert [c["codes"] for c in store.counts()["coder_progress"]] == [1, 1, 0]


def test_counts_read_the_codes_table_once_whatever_the_number_of_coders(store):
    seen: list[str] = []
    store._db.conn.set_trace_callback(seen.append)
    try:
        store.counts()
    finally:
        store._db.conn.set_trace_callback(None)
    assert len([sql for sql in seen if "FROM codes" in sql]) == 1
