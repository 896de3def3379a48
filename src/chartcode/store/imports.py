"""Writes behind the importers (chartcode.importers): notes in batches inside one transaction,
and one coder's codes in one transaction, each code with its history entry.

The importers read and check their files; what reads or writes the database is here. A bad
row raises inside the transaction, which rolls the whole import back. Neither side holds a
whole file in memory: rows come in batches, and what must be remembered across batches (the
codes file's keys, for exact duplicate detection) is kept on disk by CodeKeys.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chartcode.errors import UserError, quote

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from chartcode.codebook import Field
    from chartcode.store.connection import Database
    from chartcode.store.store import CodeChange


class _NothingNew(Exception):
    pass


class CodeKeys:
    """The (record, note, field) keys of one codes file with the line each was first seen on, and the
    file's records in the order they first appear: kept in a private temporary SQLite database (an
    unnamed file, removed when closed), so duplicate detection stays exact while memory stays the
    same for a file of any length. Used by both backends' imports (it never touches the audit)."""

    def __init__(self) -> None:
        # "": a temporary on-disk database SQLite deletes on close; its page cache is the bound
        self._conn = sqlite3.connect("", isolation_level=None)
        self._conn.execute("PRAGMA cache_size = -8192")  # KiB: 8 MB of pages, the rest on disk
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        self._conn.execute(
            "CREATE TABLE keys(record_id TEXT, note_key TEXT, field TEXT, line INTEGER,"
            " PRIMARY KEY(record_id, note_key, field)) WITHOUT ROWID"
        )
        self._conn.execute("CREATE TABLE records(line INTEGER PRIMARY KEY, record_id TEXT UNIQUE)")

    def __enter__(self) -> CodeKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def claim(self, rows: list[tuple[str, str, str, int]]) -> dict[int, int]:
        """Remember the keys of ``rows`` (record_id, note_key, field, line), in order; return
        {line: first line} for each row whose key an earlier row (of this batch or another) has."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            before = conn.total_changes
            conn.executemany("INSERT OR IGNORE INTO keys VALUES (?, ?, ?, ?)", rows)
            dup: dict[int, int] = {}
            if conn.total_changes - before != len(rows):
                for rid, note_key, field, line in rows:
                    first = conn.execute(
                        "SELECT line FROM keys WHERE record_id = ? AND note_key = ? AND field = ?",
                        [rid, note_key, field],
                    ).fetchone()[0]
                    if first != line:
                        dup[line] = first
            conn.executemany(
                "INSERT OR IGNORE INTO records(line, record_id) VALUES (?, ?)",
                [(line, rid) for rid, _, _, line in rows if line not in dup],
            )
        finally:
            conn.execute("COMMIT")
        return dup

    def record_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM records").fetchone()[0])

    def records(self, page: int = 1000) -> Iterator[str]:
        """The records of the claimed rows, each once, in the order of their first line."""
        last = -1
        while True:
            rows = self._conn.execute(
                "SELECT line, record_id FROM records WHERE line > ? ORDER BY line LIMIT ?", [last, page]
            ).fetchall()
            if not rows:
                return
            for _, rid in rows:
                yield rid
            last = rows[-1][0]


def _chunks(items: list[str], size: int = 900) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@dataclass
class CodesWritten:
    changed: int = 0
    unchanged: int = 0
    submitted: int = 0
    drafts: int = 0  # records left as drafts: not every required field coded


def reused_note_id(shown: str, line: int, note_id: str, import_id: int | None) -> UserError:
    """The refusal of a note id already stored with other content (both backends say it so)."""
    return UserError(
        f"{shown}:{line}: note_id {quote(note_id)} was already imported with different content"
        f" (import #{import_id}); notes are never overwritten - give the new note its own note_id, or fix"
        " a wrong import with `chartcode import DB FILE --replace`"
    )


def _flush(conn: sqlite3.Connection, batch: list[Any], import_id: int, now: str, result: Any, shown: str) -> None:
    if not batch:
        return
    seen: dict[str, Any] = {}
    for r in batch:
        if r.note_id in seen:
            raise UserError(
                f"{shown}:{r.line}: duplicate note_id {quote(r.note_id)} (first at line {seen[r.note_id].line})"
            )
        seen[r.note_id] = r
    existing: dict[str, tuple[str, int, int | None]] = {}
    ids = list(seen)
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        q = (
            "SELECT note_id, content_sha, import_id, source_line FROM notes"
            f" WHERE note_id IN ({','.join('?' * len(chunk))})"
        )
        for note_id, sha, imp, line in conn.execute(q, chunk):
            existing[note_id] = (sha, imp, line)
    new_rows = []
    for r in batch:
        result.rows += 1
        old = existing.get(r.note_id)
        if old is None:
            new_rows.append(r)
            continue
        sha, imp, line = old
        if imp == import_id:
            raise UserError(f"{shown}:{r.line}: duplicate note_id {quote(r.note_id)} (first at line {line})")
        if sha != r.sha:
            raise reused_note_id(shown, r.line, r.note_id, imp)
        result.unchanged += 1
    if not new_rows:
        return
    record_ids = list(dict.fromkeys(r.record_id for r in new_rows))
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO records(id, added_at, import_id) VALUES (?, ?, ?)",
        [(rid, now, import_id) for rid in record_ids],
    )
    result.records_new += conn.total_changes - before
    conn.executemany(
        "INSERT INTO notes(note_id, record_id, note_date, note_type, author, text, content_sha, import_id, source_line)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (r.note_id, r.record_id, r.note_date, r.note_type, r.author, r.text, r.sha, import_id, r.line)
            for r in new_rows
        ],
    )
    result.new += len(new_rows)


class ImportWrites:
    """Store methods the importers write through (mixed into Store)."""

    if TYPE_CHECKING:  # Store, which these methods are mixed into, defines them

        @property
        def _db(self) -> Database: ...
        def _write(self) -> AbstractContextManager[Database]: ...

        def _history(
            self,
            db: Database,
            actor: str,
            action: str,
            *,
            coder: str | None = None,
            record_id: str | None = None,
            note_id: str | None = None,
            field: str | None = None,
            old: Any = None,
            new: Any = None,
            reason: str | None = None,
            at: str | None = None,
        ) -> int: ...

        def _assign(self, db: Database, coder: str, record_ids: list[str], actor: str, source: str, at: str) -> int: ...

        def _set_code(
            self,
            db: Database,
            coder: str,
            record_id: str,
            note_key: str,
            fld: Field,
            value: Any,
            *,
            reason: str | None,
            actor: str,
            action: str | None,
            at: str,
            memo: str | None = None,
            touch_assignment: bool = True,
        ) -> CodeChange: ...

        def _submit(
            self, db: Database, coder: str, record_id: str, actor: str, at: str, reason: str | None
        ) -> bool: ...

        def _missing_required(self, db: Database, coder: str, record_id: str) -> list[tuple[str | None, Field]]: ...

    def note_target(self, note_id: str) -> tuple[str, str | None] | None:
        """(record_id, note_type) of a note; None if unknown."""
        row: tuple[str, str | None] | None = self._db.execute(
            "SELECT record_id, note_type FROM notes WHERE note_id = ?", [note_id]
        ).fetchone()
        return row

    def import_targets(
        self, record_ids: Iterable[str], note_ids: Iterable[str]
    ) -> tuple[set[str], dict[str, tuple[str, str | None]]]:
        """Of these ids, the records that exist and (record_id, note_type) of the notes that exist:
        the lookups of a batch of imported codes, a few statements instead of one per row."""
        records: set[str] = set()
        notes: dict[str, tuple[str, str | None]] = {}
        conn = self._db.conn
        for chunk in _chunks(list(dict.fromkeys(record_ids))):
            q = f"SELECT id FROM records WHERE id IN ({','.join('?' * len(chunk))})"
            records.update(r[0] for r in conn.execute(q, chunk))
        for chunk in _chunks(list(dict.fromkeys(note_ids))):
            q = f"SELECT note_id, record_id, note_type FROM notes WHERE note_id IN ({','.join('?' * len(chunk))})"
            notes.update((r[0], (r[1], r[2])) for r in conn.execute(q, chunk))
        return records, notes

    def write_imported_notes(
        self,
        file_name: str,
        shown: str,
        rows: Iterable[Any],
        sha: str | None,
        actor: str,
        result: Any,
        batch_size: int,
        on_phase: Callable[[str], None] | None = None,
    ) -> None:
        """Insert ``rows`` (objects with line, record_id, note_id, note_date, note_type, author, text, sha)
        in batches of ``batch_size``, all in one transaction, counting into ``result`` (rows, new,
        unchanged, records_new). When no note is new, the database is left exactly as it was."""
        from chartcode.store.store import utcnow

        try:
            with self._write() as db:
                conn = db.conn
                now = utcnow()
                cur = conn.execute(
                    "INSERT INTO imports(at, actor, kind, file_name, file_sha256) VALUES (?, ?, 'notes', ?, ?)",
                    [now, actor, file_name, sha],
                )
                import_id = cur.lastrowid
                assert import_id is not None  # set by the INSERT
                max_before = conn.execute("SELECT coalesce(max(id), 0) FROM notes").fetchone()[0]
                batch: list[Any] = []
                for row in rows:
                    batch.append(row)
                    if len(batch) >= batch_size:
                        _flush(conn, batch, import_id, now, result, shown)
                        batch = []
                _flush(conn, batch, import_id, now, result, shown)
                if result.new == 0:
                    raise _NothingNew
                if on_phase:
                    on_phase(f"indexing {result.new} notes for full-text search")
                conn.execute("INSERT INTO notes_fts(rowid, text) SELECT id, text FROM notes WHERE id > ?", [max_before])
                conn.execute(
                    "UPDATE imports SET rows_read = ?, rows_new = ?, rows_unchanged = ? WHERE id = ?",
                    [result.rows, result.new, result.unchanged, import_id],
                )
                self._history(
                    db,
                    actor,
                    "import_notes",
                    reason=f"{file_name}: {result.new} notes, {result.records_new} new records",
                    new=import_id,
                    at=now,
                )
        except _NothingNew:
            pass  # every note was already there: the database is left exactly as it was

    def write_imported_codes(
        self,
        coder: str,
        batches: Iterable[list[Any]],
        records: Callable[[], Iterable[str]],
        *,
        actor: str,
        reason: str,
        draft: bool,
    ) -> CodesWritten:
        """In one transaction: for each batch of ``batches`` (lists of objects with record_id, note_key,
        field, value, memo) assign its records to ``coder`` and set its codes, each with its history
        entry; then (unless ``draft``) submit each of ``records()`` (called once the batches are done)
        that is complete. An exception from ``batches`` (a bad row) rolls all of it back."""
        from chartcode.store.store import utcnow

        out = CodesWritten()
        with self._write() as wdb:
            at = utcnow()
            for batch in batches:
                self._assign(wdb, coder, list(dict.fromkeys(c.record_id for c in batch)), actor, "import", at)
                for c in batch:
                    change = self._set_code(
                        wdb,
                        coder,
                        c.record_id,
                        c.note_key,
                        c.field,
                        c.value,
                        reason=reason,
                        actor=actor,
                        action=None,
                        at=at,
                        memo=c.memo,
                    )
                    if change.changed:
                        out.changed += 1
                    else:
                        out.unchanged += 1
            if not draft:
                for rid in records():
                    if self._missing_required(wdb, coder, rid):
                        out.drafts += 1  # only a whole record is submitted (and so unblinded)
                        continue
                    if self._submit(wdb, coder, rid, actor, at, reason):
                        out.submitted += 1
        return out
