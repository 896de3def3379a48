"""The blinding rule, once: which coders' values a viewer may see.

A code of coder C on record R is shown to viewer V only if
  1. V is C (their own codes), or
  2. V is a lead, or
  3. the code was submitted, every coder assigned to R has submitted R (R is "closed"), and V
     is one of those coders: V has coded R and submitted it. A coder never assigned to R
     (say, a supervisor before the double-coding sample is drawn) sees nothing of it, so
     nobody can read a record before being asked to code it blind.
Without a named viewer nobody's values are shown: no one can peek by leaving ``--as`` out.
What no particular viewer asks for (final values, agreement, submitted ratings) is clause 3
without its last part: :data:`SHARED`, closed records only.

Every listing (codes, history), screen, export and report asks this module, through the
:class:`Visibility` methods of the Store; no caller sees the SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chartcode.store.connection import Database

# Records some assigned coder has not submitted yet: their codes stay blind.
OPEN_RECORDS = "SELECT record_id FROM assignments WHERE submitted_at IS NULL"


def record_closed(record_col: str) -> str:
    """SQL: every coder assigned to the record in ``record_col`` has submitted it."""
    return f"{record_col} NOT IN ({OPEN_RECORDS})"


OPEN_LISTED_MAX = 500  # open records a caller's list may name in SQL (SQLite's parameter limit: 999 before 3.32)


def record_closed_among(record_col: str, open_ids: list[str] | None) -> tuple[str, list[str]]:
    """:func:`record_closed` for a caller that has read the open records (:data:`OPEN_RECORDS`)
    already, in the same read snapshot: SQL and its parameters. With none open, no test at all (the
    subquery's lookup on every row of a scan of every code costs a tenth of it); a few, by name;
    many, or a caller that has not read them (None), the subquery itself."""
    if open_ids is None or len(open_ids) > OPEN_LISTED_MAX:
        return record_closed(record_col), []
    if not open_ids:
        return "1", []
    return f"{record_col} NOT IN ({', '.join('?' * len(open_ids))})", list(open_ids)


def shared(table: str = "c", *, submitted_col: str | None = None, record_col: str | None = None) -> str:
    """SQL: a code anyone may see (clause 3): submitted, on a closed record."""
    submitted_col = submitted_col or f"{table}.submitted_at"
    record_col = record_col or f"{table}.record_id"
    return f"({submitted_col} IS NOT NULL AND {record_closed(record_col)})"


def coded_by_viewer(record_col: str) -> str:
    """SQL: the viewer (one parameter) is assigned to the record in ``record_col`` and has submitted it."""
    return f"{record_col} IN (SELECT record_id FROM assignments WHERE coder = ? AND submitted_at IS NOT NULL)"


def own(table: str = "c", *, coder_col: str | None = None) -> str:
    """SQL: the code is the viewer's own (clause 1); one parameter, the viewer."""
    return f"{coder_col or f'{table}.coder'} = ?"


def rule(
    viewer: str | None,
    *,
    lead: bool,
    table: str = "c",
    coder_col: str | None = None,
    submitted_col: str | None = None,
    record_col: str | None = None,
) -> tuple[str, list[Any]]:
    """SQL condition (and parameters) for the codes rows ``viewer`` may see; ``lead``: the viewer's role is lead.

    The column arguments name where the coder, submitted time and record of the code are when
    they are not ``table``'s own (history entries joined to their code)."""
    if lead:
        return "1 = 1", []
    if viewer is None:
        return "1 = 0", []
    cond = shared(table, submitted_col=submitted_col, record_col=record_col)
    mine = coded_by_viewer(record_col or f"{table}.record_id")
    return f"({own(table, coder_col=coder_col)} OR ({cond} AND {mine}))", [viewer, viewer]


SHARED = shared("c")

BLIND = "(blind)"


class Visibility:
    """Store methods that list coders' values through :func:`rule` (mixed into Store)."""

    if TYPE_CHECKING:  # Store, which these methods are mixed into, defines them

        @property
        def _db(self) -> Database: ...

        def require_coder(self, name: str) -> str: ...

        def codes(self, *, coder: str | None = None, record_id: str | None = None) -> Iterator[dict[str, Any]]: ...

        def history(
            self, *, coder: str | None = None, record_id: str | None = None, limit: int | None = None
        ) -> list[dict[str, Any]]: ...

    def viewer_is_lead(self, viewer: str | None) -> bool:
        return viewer is not None and self.require_coder(viewer) == "lead"

    def _rule(self, viewer: str | None, **columns: str) -> tuple[str, list[Any]]:
        return rule(viewer, lead=self.viewer_is_lead(viewer), **columns)

    def open_record_ids(self) -> list[str]:
        """Records some assigned coder has not submitted (one row per open assignment)."""
        return [r[0] for r in self._db.execute(OPEN_RECORDS)]

    def visible_codes(
        self, viewer: str | None = None, *, coder: str | None = None, record_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """:meth:`codes` limited to what ``viewer`` may see."""
        cond, params = self._rule(viewer)
        allowed = {
            (r[0], r[1], r[2], r[3])
            for r in self._db.execute(
                f"SELECT c.coder, c.record_id, c.note_key, c.field FROM codes c WHERE {cond}", params
            )
        }
        for row in self.codes(coder=coder, record_id=record_id):
            if (row["coder"], row["record_id"], row["note_id"] or "", row["field"]) in allowed:
                yield row

    def hidden_count(self, viewer: str | None = None) -> int:
        """How many current codes ``viewer`` may not see."""
        cond, params = self._rule(viewer)
        n: int = self._db.execute(
            f"SELECT count(*) FROM codes c WHERE c.value IS NOT NULL AND NOT {cond}", params
        ).fetchone()[0]
        return n

    def visible_code_rows(self, viewer: str | None = None) -> list[tuple[Any, ...]]:
        """(coder, record_id, note_key, field, value, memo, submitted_at, submitted_value, updated_at) of
        every current code ``viewer`` may see, ordered by coder, record, note, field (the long export)."""
        cond, params = self._rule(viewer)
        sql = (
            "SELECT c.coder, c.record_id, c.note_key, c.field, c.value, c.memo, c.submitted_at,"
            " c.submitted_value, c.updated_at FROM codes c"
            f" WHERE c.value IS NOT NULL AND {cond} ORDER BY c.coder, c.record_id, c.note_key, c.field"
        )
        return self._db.execute(sql, params).fetchall()

    def visible_history(
        self,
        viewer: str | None = None,
        *,
        coder: str | None = None,
        record_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """:meth:`history` as ``viewer`` may see it: the values of a change to a coder's code that
        the rule hides from ``viewer`` show as "(blind)" (None when the change had no value).
        A flag's comment is judged like the codes of its coder's record; other entries about no
        code (submit, assign, consensus...) are shown as they are."""
        rows = self.history(coder=coder, record_id=record_id, limit=limit)
        if self.viewer_is_lead(viewer) or not rows:
            return rows
        blind = self._blind_history_ids(viewer, rows[0]["id"], coder=coder, record_id=record_id)
        for h in rows:
            if h["id"] in blind:
                had_value = h["old_value"] is not None or h["new_value"] is not None  # 0 is a value too
                h["old_value"] = h["new_value"] = BLIND if had_value else None
        return rows

    def _blind_history_ids(
        self, viewer: str | None, first_id: int, *, coder: str | None, record_id: str | None
    ) -> set[int]:
        """ids (from ``first_id`` on) of the history entries about a coder's code that the rule hides
        from ``viewer`` (not a lead): each entry is judged by the code it changed."""
        cond, params = rule(
            viewer, lead=False, coder_col="h.coder", submitted_col="c.submitted_at", record_col="h.record_id"
        )
        sql = (
            "SELECT h.id FROM history h LEFT JOIN codes c ON c.coder = h.coder AND c.record_id = h.record_id"
            " AND c.note_key = coalesce(h.note_id, '') AND c.field = h.field"
            f" WHERE h.id >= ? AND h.coder IS NOT NULL AND h.field IS NOT NULL AND NOT {cond}"
        )
        # a flag's comment is the coder's free text about the record (it may well give a value away):
        # judged like the record's codes, as if submitted with them
        flag_cond, flag_params = rule(
            viewer, lead=False, coder_col="h.coder", submitted_col="h.at", record_col="h.record_id"
        )
        flags = (
            "SELECT h.id FROM history h WHERE h.id >= ? AND h.coder IS NOT NULL AND h.field IS NULL"
            f" AND h.action IN ('flag', 'unflag') AND NOT {flag_cond}"
        )
        blind: set[int] = set()
        for query, cond_params in ((sql, params), (flags, flag_params)):
            args: list[Any] = [first_id, *cond_params]
            for column, value in (("h.coder", coder), ("h.record_id", record_id)):
                if value is not None:
                    query += f" AND {column} = ?"
                    args.append(value)
            blind |= {r[0] for r in self._db.execute(query, args)}
        return blind
