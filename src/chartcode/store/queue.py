"""Reads behind one coder's working session (chartcode.coding): the queue of assigned records,
moving through it, and the coder's own codes on a record.

Blind by construction: every query is filtered to the coder, i.e. to clause 1 of the rule in
chartcode.store.visibility (a viewer's own codes), so no other coder's codes, memos or flags
are read here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chartcode.store.visibility import own

if TYPE_CHECKING:
    from chartcode.store.connection import Database


def _queue_where(coder: str, text: str, status: str) -> tuple[str, list[Any]]:
    sql = "a.coder = ?"
    params: list[Any] = [coder]
    if text:
        sql += " AND a.record_id LIKE ? ESCAPE '\\'"
        params.append("%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if status == "todo":
        sql += " AND a.status != 'done'"
    elif status == "flagged":
        sql += " AND a.flagged = 1"
    elif status in ("not_started", "in_progress", "done"):
        sql += " AND a.status = ?"
        params.append(status)
    return sql, params


class QueueQueries:
    """Store methods for a coder's queue and record (mixed into Store)."""

    if TYPE_CHECKING:  # Store, which these methods are mixed into, defines them

        @property
        def _db(self) -> Database: ...

    def coder_progress(self, coder: str) -> tuple[int, int]:
        """(records done, records assigned) of a coder: two counts of assignments_by_coder_status
        entries (the done ones are one range of it; summing status = 'done' over every entry
        compared 25,000 strings, 8 ms)."""
        row = self._db.execute(
            "SELECT (SELECT count(*) FROM assignments WHERE coder = ? AND status = 'done'),"
            " (SELECT count(*) FROM assignments WHERE coder = ?)",
            [coder, coder],
        ).fetchone()
        return row[0], row[1]

    def queue_count(self, coder: str, text: str = "", status: str = "all") -> int:
        where, params = _queue_where(coder, text, status)
        n: int = self._db.execute(f"SELECT count(*) FROM assignments a WHERE {where}", params).fetchone()[0]
        return n

    def queue_page(
        self, coder: str, offset: int, limit: int, text: str = "", status: str = "all"
    ) -> list[tuple[str, str, int, int]]:
        """(record_id, status, flagged, number of notes) of one page of a coder's queue, by record id."""
        where, params = _queue_where(coder, text, status)
        return self._db.execute(
            f"SELECT a.record_id, a.status, a.flagged,"
            f" (SELECT count(*) FROM notes n WHERE n.record_id = a.record_id)"
            f" FROM assignments a WHERE {where} ORDER BY a.record_id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()

    def queue_index(self, coder: str, record_id: str, text: str = "", status: str = "all") -> int | None:
        """Position of ``record_id`` in a coder's (filtered) queue; None when it is not in it."""
        where, params = _queue_where(coder, text, status)
        row = self._db.execute(
            f"SELECT (SELECT count(*) FROM assignments a WHERE {where} AND a.record_id < ?),"
            f" EXISTS(SELECT 1 FROM assignments a WHERE {where} AND a.record_id = ?)",
            [*params, record_id, *params, record_id],
        ).fetchone()
        return row[0] if row[1] else None

    def next_unfinished(self, coder: str, after: str | None = None) -> str | None:
        """The first record of a coder's not done (after ``after`` when given), or None."""
        if after is not None:
            row = self._db.execute(
                "SELECT record_id FROM assignments WHERE coder = ? AND status != 'done'"
                " AND record_id > ? ORDER BY record_id LIMIT 1",
                [coder, after],
            ).fetchone()
        else:
            row = self._db.execute(
                "SELECT record_id FROM assignments WHERE coder = ? AND status != 'done' ORDER BY record_id LIMIT 1",
                [coder],
            ).fetchone()
        return row[0] if row else None

    def neighbour_record(self, coder: str, record_id: str, step: int) -> str | None:
        """The coder's next (``step`` > 0) or previous assigned record after ``record_id``."""
        op, order = (">", "ASC") if step > 0 else ("<", "DESC")
        row = self._db.execute(
            f"SELECT record_id FROM assignments WHERE coder = ? AND record_id {op} ? ORDER BY record_id {order}"
            " LIMIT 1",
            [coder, record_id],
        ).fetchone()
        return row[0] if row else None

    def first_assigned(self, coder: str) -> str | None:
        first: str | None = self._db.execute(
            "SELECT min(record_id) FROM assignments WHERE coder = ?", [coder]
        ).fetchone()[0]
        return first

    def is_assigned(self, coder: str, record_id: str) -> bool:
        return (
            self._db.execute(
                "SELECT 1 FROM assignments WHERE coder = ? AND record_id = ?", [coder, record_id]
            ).fetchone()
            is not None
        )

    def assignment(self, coder: str, record_id: str) -> tuple[Any, ...] | None:
        """(status, flagged, flag_comment, submitted_at) of a coder's assignment; None if not assigned."""
        row: tuple[Any, ...] | None = self._db.execute(
            "SELECT status, flagged, flag_comment, submitted_at FROM assignments WHERE coder = ? AND record_id = ?",
            [coder, record_id],
        ).fetchone()
        return row

    def own_codes(self, coder: str, record_id: str) -> list[tuple[Any, ...]]:
        """(note_key, field, value, memo) of the coder's own codes on a record (cleared ones too)."""
        return self._db.execute(
            f"SELECT note_key, field, value, memo FROM codes c WHERE {own('c')} AND record_id = ?", [coder, record_id]
        ).fetchall()

    def note_text(self, note_id: str) -> str:
        row = self._db.execute("SELECT text FROM notes WHERE note_id = ?", [note_id]).fetchone()
        return row[0] if row else ""
