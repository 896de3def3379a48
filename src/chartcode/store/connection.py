"""Connections to an audit database: one per thread, explicit transactions, WAL.

Datasette's rule applies: a sqlite3 connection belongs to the thread that made it, so a
Store hands each thread (the CLI, a Textual worker) its own. Writes take the write lock
up front (``BEGIN IMMEDIATE``) and wait for it, so two processes coding the same database
queue behind each other instead of failing with "database is locked". A writer waits as long
as the lock is held unless its ``LockWait`` sets a limit (the CLI's ``--wait SECONDS``), and
reports the wait about once a second so the user sees why nothing happens. Giving up happens
before the transaction starts, so nothing is ever half-written.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from chartcode.errors import UserError

# Statements other than BEGIN IMMEDIATE (reads during WAL recovery, schema migrations) wait
# this long for a lock; BEGIN IMMEDIATE waits in short ticks, as long as its LockWait allows.
BUSY_TIMEOUT_MS = 30_000
LOCK_TICK_MS = 100


class LockTimeout(UserError):
    """Another connection held the write lock for longer than the writer was told to wait."""


@dataclass
class LockWait:
    """How a writer waits for another connection's write lock.

    ``limit``: seconds to wait before giving up (LockTimeout); None waits as long as needed.
    ``on_wait(seconds, waiting)``: called about once a second with the seconds waited so far
    (waiting=True), and once more when the wait ends (waiting=False), lock obtained or not.
    It runs on the writing thread.
    """

    limit: float | None = None
    on_wait: Callable[[float, bool], None] | None = None


def create_private_file(path: Path) -> None:
    """Create an empty database file readable and writable by its owner only (0600).

    SQLite gives the -wal and -shm files the same permissions as the database file.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def remove_database(path: Path | str) -> None:
    """Delete a database file with its -wal and -shm files (after a failed creation)."""
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


class Database:
    """A connection with the four helpers the store uses from sqlite-utils' ``Database``, which
    behave as sqlite-utils' do on the store's autocommit connections: ``execute``, ``query`` (rows
    as dicts), ``table_names`` and ``atomic`` (a savepoint inside an open transaction).

    Why not sqlite-utils' own class: importing it costs ~0.1 s (sqlite_utils.db with dateutil,
    pluggy and tabulate), a tenth of the coding screen's start-up and of `chartcode status`, to
    wrap statements the store writes in SQL anyway. sqlite-utils stays for what it does that the
    store does not hand-write: the recorded migrations (schema.py), imported when a database is
    created or migrated (:func:`import_sqlite_utils`)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """The rows of a SELECT as dicts keyed by column name, fetched as they are iterated."""
        cursor = self.execute(sql, params)
        if cursor.description is None:
            raise ValueError("query() can only be used with SQL that returns rows - use execute() for other statements")
        keys = [d[0] for d in cursor.description]
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def table_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        """A transaction, or a savepoint inside the one already open: all of it or none."""
        conn = self.conn
        if not conn.in_transaction:
            conn.execute("BEGIN")
            try:
                yield self
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return
        savepoint = f"chartcode_{os.urandom(8).hex()}"
        conn.execute(f"SAVEPOINT {savepoint}")
        try:
            yield self
        except BaseException:
            # a RAISE(ROLLBACK) trigger can end the whole transaction, savepoints included
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {savepoint}")


def import_sqlite_utils() -> ModuleType:
    """sqlite_utils, imported with pandas and numpy hidden the first time.

    sqlite_utils.db imports pandas and numpy whenever they are installed (0.4 s), only to map their
    scalar types to column types when it infers a table from Python values. The store writes every
    table and statement in SQL, so that mapping is never used, and `chartcode init` need not pay
    for it. A module already imported (a caller using pandas) is left alone."""
    if "sqlite_utils.db" not in sys.modules:
        hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # import of it raises ImportError
        try:
            import sqlite_utils.db  # noqa: F401
        finally:
            for name in hidden:
                if sys.modules.get(name, "") is None:
                    del sys.modules[name]
    import sqlite_utils

    return sqlite_utils


def connect(path: Path) -> Database:
    conn = sqlite3.connect(
        str(path),
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # autocommit: every transaction is explicit
        check_same_thread=False,  # each thread gets its own connection anyway; close() may run elsewhere
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # WAL is set once, when the database is created (it is persistent); a connection
    # never switches a file it has not checked to be an audit database.
    # FULL: each commit is flushed to the WAL on disk before it is acknowledged, so a
    # saved code survives a killed process and a power cut alike.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    # as sqlite-utils' Database sets it: a REPLACE that deletes a row fires its delete triggers
    conn.execute("PRAGMA recursive_triggers = ON")
    return Database(conn)


class Connections:
    """Per-thread connections to one database file."""

    def __init__(self, path: Path):
        self.path = path
        self.wait = LockWait()
        self.autocheckpoint: int | None = None  # None: SQLite's default (1000 pages)
        self._local = threading.local()
        self._all: list[Database] = []
        self._lock = threading.Lock()

    def get(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            if self.autocheckpoint is not None:
                db.conn.execute(f"PRAGMA wal_autocheckpoint = {int(self.autocheckpoint)}")
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def set_autocheckpoint(self, pages: int) -> None:
        """``PRAGMA wal_autocheckpoint`` for every connection, open or still to come."""
        self.autocheckpoint = pages
        with self._lock:
            for db in self._all:
                db.conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                with contextlib.suppress(sqlite3.Error):
                    db.conn.close()
            self._all.clear()
        self._local = threading.local()


def checkpoint(db: Database) -> tuple[int, int, int] | None:
    """A PASSIVE checkpoint on this connection: copies what it can from the WAL into the database
    without waiting for (or blocking) readers and writers. (busy, WAL pages, pages checkpointed),
    or None when SQLite could not run one now (the next one, or closing, copies the rest)."""
    try:
        row = db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.OperationalError:
        return None
    return int(row[0]), int(row[1]), int(row[2])


def _begin_immediate(conn: sqlite3.Connection, where: Path | str, wait: LockWait) -> None:
    """BEGIN IMMEDIATE, waiting for another connection's write lock as ``wait`` says.

    SQLite's busy handler waits in ticks of LOCK_TICK_MS, so the wait can be reported and
    limited; with nobody else writing, the first BEGIN succeeds and the handler never runs."""
    started = time.monotonic()
    reported = 0
    conn.execute(f"PRAGMA busy_timeout = {LOCK_TICK_MS}")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            waited = time.monotonic() - started
            if wait.limit is not None and waited >= wait.limit:
                raise LockTimeout(
                    f"{where}: the database is locked by another program (a write transaction open elsewhere);"
                    f" gave up after {wait.limit:g} s (--wait); nothing was written"
                )
            if wait.on_wait is not None and int(waited) > reported:
                reported = int(waited)
                wait.on_wait(waited, True)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if wait.on_wait is not None and reported:
            wait.on_wait(time.monotonic() - started, False)


@contextlib.contextmanager
def write_transaction(
    db: Database, wait: LockWait | None = None, where: Path | str = "database", *, durable: bool = True
) -> Iterator[Database]:
    """One committed write transaction; rolled back whole on any error. ``where`` names the
    database in the message when the wait for the lock runs out.

    ``durable=False`` is for bookkeeping that a power cut may lose harmlessly (the screen lease, a
    heartbeat that goes stale in 30 s anyway): its commit is written to the WAL but not flushed to
    disk (``synchronous = NORMAL``), which saves an fsync - 5 to 40 ms - on the UI thread. A killed
    process loses nothing (the WAL is in the file), and the next durable commit flushes the WAL with
    everything before it, so a code's durability never depends on this."""
    conn = db.conn
    if conn.in_transaction:  # nested: a savepoint inside the caller's transaction, as durable as it
        with db.atomic():
            yield db
        return
    if not durable:
        conn.execute("PRAGMA synchronous = NORMAL")  # a connection's setting; changed outside transactions only
    try:
        _begin_immediate(conn, where, wait or LockWait())
        try:
            yield db
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
    finally:
        if not durable:
            conn.execute("PRAGMA synchronous = FULL")
