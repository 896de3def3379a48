"""The audit database schema, as recorded migrations (sqlite-utils ``Migrations``).

Opening an audit only asks which migrations are pending (:func:`pending`, one read of sqlite-utils'
``_sqlite_migrations`` table); sqlite-utils itself is imported when there are some to apply
(:func:`apply`: a new database, or an older one migrated), not by every screen and command.

Every table is STRICT. ``history`` is append-only: triggers make the database itself
refuse UPDATE and DELETE on it. Record-level codes use ``note_key = ''`` (not NULL) so the
one-code-per-coder-record-note-field rule is a plain UNIQUE constraint.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from chartcode.store import chain
from chartcode.store.connection import Database, import_sqlite_utils

MIGRATION_SET = "chartcode"
MIGRATIONS_TABLE = "_sqlite_migrations"  # sqlite-utils' Migrations.migrations_table
# The migrations in the order they apply; each is given a connection (it uses only ``db.conn``).
STEPS: list[Callable[[Any], None]] = []


def migration(step: Callable[[Any], None]) -> Callable[[Any], None]:
    STEPS.append(step)
    return step


SCHEMA_V1 = [
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT
    ) STRICT""",
    """CREATE TABLE codebooks (
        hash TEXT PRIMARY KEY,
        codebook_id TEXT NOT NULL,
        version TEXT NOT NULL,
        title TEXT NOT NULL,
        source_yaml TEXT NOT NULL,
        canonical_json TEXT NOT NULL,
        added_at TEXT NOT NULL,
        active INTEGER NOT NULL DEFAULT 0
    ) STRICT""",
    "CREATE UNIQUE INDEX codebooks_one_active ON codebooks(active) WHERE active = 1",
    """CREATE TABLE coders (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('coder', 'supervisor', 'lead')),
        added_at TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT,
        kind TEXT NOT NULL,
        file_name TEXT NOT NULL,
        file_sha256 TEXT,
        rows_read INTEGER NOT NULL DEFAULT 0,
        rows_new INTEGER NOT NULL DEFAULT 0,
        rows_unchanged INTEGER NOT NULL DEFAULT 0
    ) STRICT""",
    """CREATE TABLE records (
        id TEXT PRIMARY KEY CHECK (length(id) > 0),
        added_at TEXT NOT NULL,
        import_id INTEGER REFERENCES imports(id)
    ) STRICT""",
    """CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        note_id TEXT NOT NULL UNIQUE CHECK (length(note_id) > 0),
        record_id TEXT NOT NULL REFERENCES records(id),
        note_date TEXT,
        note_type TEXT,
        author TEXT,
        text TEXT NOT NULL,
        content_sha TEXT NOT NULL,
        import_id INTEGER REFERENCES imports(id),
        source_line INTEGER
    ) STRICT""",
    "CREATE INDEX notes_by_record ON notes(record_id, note_date, id)",
    """CREATE VIRTUAL TABLE notes_fts USING fts5(
        text, content='notes', content_rowid='id', tokenize='porter unicode61'
    )""",
    """CREATE TABLE assignments (
        coder TEXT NOT NULL REFERENCES coders(name),
        record_id TEXT NOT NULL REFERENCES records(id),
        assigned_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'manual',
        status TEXT NOT NULL DEFAULT 'not_started'
            CHECK (status IN ('not_started', 'in_progress', 'done')),
        submitted_at TEXT,
        flagged INTEGER NOT NULL DEFAULT 0,
        flag_comment TEXT,
        PRIMARY KEY (coder, record_id)
    ) STRICT""",
    "CREATE INDEX assignments_by_record ON assignments(record_id)",
    """CREATE TABLE codes (
        id INTEGER PRIMARY KEY,
        coder TEXT NOT NULL REFERENCES coders(name),
        record_id TEXT NOT NULL REFERENCES records(id),
        note_key TEXT NOT NULL DEFAULT '',
        field TEXT NOT NULL,
        value ANY,
        memo TEXT,
        submitted_value ANY,
        submitted_at TEXT,
        codebook_hash TEXT NOT NULL REFERENCES codebooks(hash),
        updated_at TEXT NOT NULL,
        UNIQUE (coder, record_id, note_key, field)
    ) STRICT""",
    "CREATE INDEX codes_by_record ON codes(record_id, note_key, field)",
    """CREATE TABLE consensus (
        id INTEGER PRIMARY KEY,
        record_id TEXT NOT NULL REFERENCES records(id),
        note_key TEXT NOT NULL DEFAULT '',
        field TEXT NOT NULL,
        value ANY,
        reason TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        codebook_hash TEXT NOT NULL REFERENCES codebooks(hash),
        UNIQUE (record_id, note_key, field)
    ) STRICT""",
    """CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        coder TEXT,
        record_id TEXT,
        note_id TEXT,
        field TEXT,
        old_value ANY,
        new_value ANY,
        reason TEXT,
        codebook_hash TEXT
    ) STRICT""",
    "CREATE INDEX history_by_coder ON history(coder, id)",
    "CREATE INDEX history_by_record ON history(record_id, id)",
    """CREATE TRIGGER history_is_append_only_update BEFORE UPDATE ON history
       BEGIN SELECT RAISE(ABORT, 'history is append-only: rows cannot be changed'); END""",
    """CREATE TRIGGER history_is_append_only_delete BEFORE DELETE ON history
       BEGIN SELECT RAISE(ABORT, 'history is append-only: rows cannot be deleted'); END""",
]


@migration
def m001_initial_schema(db: Database) -> None:
    for statement in SCHEMA_V1:
        db.conn.execute(statement)


@migration
def m002_positions(db: Database) -> None:
    """Where each coder left off, so reopening the coding screen resumes there."""
    db.conn.execute(
        """CREATE TABLE positions (
            coder TEXT PRIMARY KEY REFERENCES coders(name),
            record_id TEXT,
            note_id TEXT,
            field TEXT,
            updated_at TEXT NOT NULL
        ) STRICT"""
    )


@migration
def m003_rated_units(db: Database) -> None:
    """Rating scales rate a unit (team, site, clinician) in a review period: a record is one
    unit-period, so blinding, agreement and consensus work on ratings unchanged."""
    db.conn.execute("ALTER TABLE records ADD COLUMN unit TEXT")
    db.conn.execute("ALTER TABLE records ADD COLUMN period TEXT")
    db.conn.execute("CREATE INDEX records_by_unit ON records(unit, period)")


HISTORY_UPDATE_TRIGGER = """CREATE TRIGGER history_is_append_only_update BEFORE UPDATE ON history
       BEGIN SELECT RAISE(ABORT, 'history is append-only: rows cannot be changed'); END"""
CHAINED_AT_MIGRATION = "history_chained_at_migration"


@migration
def m004_history_chain(db: Database) -> None:
    """A hash chain over the history (chartcode.store.chain) so a file audit can tell when it was
    edited, and a trigger refusing ``REPLACE INTO history`` over an existing entry (REPLACE deletes
    the old row without firing delete triggers).

    Entries already in the file are chained here, once: tampering before this migration cannot be
    detected. How many there were, and when, is kept in meta (``history_chained_at_migration``)."""
    conn = db.conn
    conn.execute("ALTER TABLE history ADD COLUMN hash TEXT")
    conn.execute("DROP TRIGGER history_is_append_only_update")
    prev, n, last_id = chain.GENESIS, 0, None
    cols = ", ".join(chain.COLUMNS)
    rows = conn.execute(f"SELECT {cols} FROM history ORDER BY id").fetchall()
    for row in rows:
        entry = dict(zip(chain.COLUMNS, row, strict=True))
        prev = chain.entry_hash(prev, entry)
        conn.execute("UPDATE history SET hash = ? WHERE id = ?", [prev, entry["id"]])
        n, last_id = n + 1, entry["id"]
    conn.execute(HISTORY_UPDATE_TRIGGER)
    conn.execute(
        """CREATE TRIGGER history_refuses_replace BEFORE INSERT ON history
           WHEN EXISTS (SELECT 1 FROM history WHERE id = NEW.id)
           BEGIN SELECT RAISE(ABORT, 'history is append-only: an entry cannot be replaced'); END"""
    )
    conn.execute(
        """CREATE TRIGGER history_is_chained BEFORE INSERT ON history
           WHEN NEW.hash IS NULL OR length(NEW.hash) != 64
           BEGIN SELECT RAISE(ABORT, 'history entries carry their chain hash'); END"""
    )
    if n:
        at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
            [CHAINED_AT_MIGRATION, json.dumps({"entries": n, "last_id": last_id, "at": at})],
        )


@migration
def m005_notes_fts_findable(db: Database) -> None:
    """Declare the notes index as ``content="notes"``, the form sqlite-utils' ``detect_fts()``
    and Datasette look for (current versions match ``content="notes"`` or ``content=[notes]``,
    older Datasette only the first; the ``content='notes'`` of m001 hid the index, so Datasette
    showed no search box). An FTS5 table's options cannot be altered: it is dropped and rebuilt
    from the notes it indexes."""
    conn = db.conn
    conn.execute("DROP TABLE notes_fts")
    conn.execute(
        """CREATE VIRTUAL TABLE notes_fts USING fts5(
            text, content="notes", content_rowid="id", tokenize='porter unicode61'
        )"""
    )
    conn.execute("INSERT INTO notes_fts(notes_fts) VALUES ('rebuild')")


@migration
def m006_screen_leases(db: Database) -> None:
    """Which window has a coder's coding screen open (store/leases.py): a heartbeat row per coder,
    stale after a timeout, so a second window says so and a killed one does not lock the coder out."""
    db.conn.execute(
        """CREATE TABLE screen_leases (
            coder TEXT PRIMARY KEY REFERENCES coders(name),
            holder TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL
        ) STRICT"""
    )


@migration
def m007_code_versions(db: Database) -> None:
    """A version on every code, as the team server has (store/pg/schema.py): +1 for each change of its
    value or memo, so a change made in one window against a value another window has changed since
    is refused (StaleChange) instead of written over. Codes already in the file have been set once
    or more; they start at 1, the server's default for the rows it is given."""
    db.conn.execute("ALTER TABLE codes ADD COLUMN version INTEGER NOT NULL DEFAULT 1")


@migration
def m008_assignments_by_coder_status(db: Database) -> None:
    """A coder's progress (records done of records assigned: the coding screen's header, `status`)
    read from an index alone: without it each of the coder's assignments was looked up in the table
    for its status, 15-30 ms for 25,000 of them on every screen start and every record marked done."""
    db.conn.execute("CREATE INDEX assignments_by_coder_status ON assignments(coder, status)")


def migrations() -> Any:
    """The schema as sqlite-utils ``Migrations`` (imports sqlite-utils)."""
    sets = import_sqlite_utils().migrations.Migrations(MIGRATION_SET)
    for step in STEPS:
        sets()(step)
    return sets


def apply(db: Any) -> None:
    """Apply the pending migrations; ``db`` is the store's connection or a sqlite-utils Database."""
    migrations().apply(import_sqlite_utils().Database(db.conn, execute_plugins=False))


def pending(db: Database) -> list[str]:
    """The migrations not yet applied, read as sqlite-utils' ``Migrations.pending`` reads them."""
    conn = db.conn
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATIONS_TABLE]).fetchone():
        applied = {
            r[0] for r in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ?", [MIGRATION_SET])
        }
    else:
        applied = set()
    return [step.__name__ for step in STEPS if step.__name__ not in applied]
