"""Connections to an audit database: one per thread, explicit transactions, WAL.

Datasette's rule applies: a sqlite3 connection belongs to the thread that made it, so a
Store hands each thread (the CLI, a Textual worker) its own. Writes take the write lock
up front (``BEGIN IMMEDIATE``) and wait for it (``busy_timeout``), so two processes coding
the same database queue behind each other instead of failing with "database is locked".
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

BUSY_TIMEOUT_MS = 30_000
# Extra patience on top of SQLite's own busy handler: a lock held longer than this by
# another process is a real problem worth reporting.
WRITE_RETRY_SECONDS = 60.0


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
        self._local = threading.local()
        self._all: list[Database] = []
        self._lock = threading.Lock()

    def get(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                with contextlib.suppress(sqlite3.Error):
                    db.conn.close()
            self._all.clear()
        self._local = threading.local()


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """One committed write transaction; rolled back whole on any error."""
    conn = db.conn
    if conn.in_transaction:  # nested: a savepoint inside the caller's transaction
        with db.atomic():
            yield db
        return
    deadline = time.monotonic() + WRITE_RETRY_SECONDS
    delay = 0.01
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
