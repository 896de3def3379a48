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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

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
    return Database(conn, execute_plugins=False)


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
def write_transaction(db: Database, wait: LockWait | None = None, where: Path | str = "database") -> Iterator[Database]:
    """One committed write transaction; rolled back whole on any error. ``where`` names the
    database in the message when the wait for the lock runs out."""
    conn = db.conn
    if conn.in_transaction:  # nested: a savepoint inside the caller's transaction
        with db.atomic():
            yield db
        return
    _begin_immediate(conn, where, wait or LockWait())
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
