"""What opening the coding screen asks of the store stays cheap and keeps its meaning.

- The store's connection is sqlite3 with the few helpers it used from sqlite-utils (store/connection.py's
  Database): rows as dicts, savepoints that roll back alone. Whether migrations are pending is read
  from sqlite-utils' own table, with the same answer as its Migrations.pending.
- The screen lease is bookkeeping: written without an fsync (synchronous NORMAL for that commit
  only); every other write, and every code, still commits with synchronous FULL.
- A coder's progress is counted from an index alone (assignments_by_coder_status), not by reading
  each of the coder's assignment rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chartcode import resources
from chartcode.codebook import load_codebook
from chartcode.demo import build_demo
from chartcode.store import Store, schema
from chartcode.store.connection import import_sqlite_utils


@pytest.fixture
def store(tmp_path):
    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    s = Store.create(tmp_path / "a.db", cb, coders=[("intern", "coder")])
    s.add_records(["R1", "R2", "R3"])
    s.assign("intern", ["R1", "R2", "R3"])
    yield s
    s.close()


def _statements(store: Store, action) -> list[str]:
    """The SQL statements ``action()`` runs on this thread's connection."""
    seen: list[str] = []
    conn = store._db.conn
    conn.set_trace_callback(seen.append)
    try:
        action()
    finally:
        conn.set_trace_callback(None)
    return seen


def test_pending_migrations_are_read_as_sqlite_utils_reads_them(tmp_path, store):
    sqlite_utils = import_sqlite_utils()
    path = store.path
    store.close()

    def both() -> tuple[list[str], list[str]]:
        with sqlite3.connect(path) as conn:
            ours = schema.pending(type("Db", (), {"conn": conn})())
            theirs = [m.name for m in schema.migrations().pending(sqlite_utils.Database(conn, execute_plugins=False))]
        return ours, theirs

    assert both() == ([], [])
    with sqlite3.connect(path) as conn:
        conn.execute(
            "DELETE FROM _sqlite_migrations WHERE name IN ('m002_positions', 'm008_assignments_by_coder_status')"
        )
    assert both() == (["m002_positions", "m008_assignments_by_coder_status"],) * 2


def test_a_database_without_the_migrations_table_has_every_migration_pending(tmp_path):
    conn = sqlite3.connect(tmp_path / "empty.db")
    assert schema.pending(type("Db", (), {"conn": conn})()) == [step.__name__ for step in schema.STEPS]
    conn.close()


def test_query_gives_rows_as_dicts_and_refuses_a_statement_without_rows(store):
    db = store._db
    assert list(db.query("SELECT name, role FROM coders")) == [{"name": "intern", "role": "coder"}]
    with pytest.raises(ValueError, match="returns rows"):
        db.query("UPDATE coders SET role = role")


def test_a_failed_savepoint_rolls_back_alone(store):
    db = store._db
    with store._write() as tx:
        tx.execute("INSERT INTO meta(key, value) VALUES ('kept', '1')")
        with pytest.raises(RuntimeError), db.atomic():
            db.execute("INSERT INTO meta(key, value) VALUES ('dropped', '1')")
            raise RuntimeError("inside the savepoint")
    keys = {r[0] for r in db.execute("SELECT key FROM meta WHERE key IN ('kept', 'dropped')")}
    assert keys == {"kept"}


def test_the_connection_fires_delete_triggers_on_replace_as_sqlite_utils_set_it(store):
    assert store._db.execute("PRAGMA recursive_triggers").fetchone()[0] == 1


def test_the_screen_lease_commits_without_an_fsync_and_other_writes_still_with_one(store):
    ran = _statements(store, lambda: store.acquire_lease("intern", "window-1"))
    assert ran[0] == "PRAGMA synchronous = NORMAL" and ran[-1] == "PRAGMA synchronous = FULL"
    assert ran.index("COMMIT") < len(ran) - 1
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again for what follows
    beat = _statements(store, lambda: store.renew_lease("intern", "window-1"))
    assert beat[0] == "PRAGMA synchronous = NORMAL" and beat[-1] == "PRAGMA synchronous = FULL"

    other = _statements(store, lambda: store.add_records(["R4"]))  # any other write: FULL throughout
    assert "COMMIT" in other and not any(s.startswith("PRAGMA synchronous") for s in other)


def test_a_lease_write_that_fails_leaves_the_connection_durable(store):
    store.close()
    raw = sqlite3.connect(store.path)
    raw.execute("DROP TABLE screen_leases")
    raw.commit()
    raw.close()
    with pytest.raises(sqlite3.OperationalError):
        store.acquire_lease("intern", "window-1")
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo"))


def test_progress_is_counted_from_the_index_alone(demo_db):
    with Store.open(demo_db) as s:
        statuses = [a["status"] for a in s.assignments("intern")]
        ran = _statements(s, lambda: s.coder_progress("intern"))
        assert s.coder_progress("intern") == (statuses.count("done"), len(statuses))
        assert 0 < statuses.count("done") < len(statuses)
        (sql,) = ran
        plan = [row[-1] for row in s._db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert all("COVERING INDEX assignments_by_coder_status" in step for step in plan if "assignments" in step), plan
    assert not any(step.startswith("SCAN assignments") for step in plan), plan
