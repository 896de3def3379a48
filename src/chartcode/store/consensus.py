"""Reads behind chartcode.consensus: submitted values by unit, disagreements, consensus rows and
the final-value rule's set-based query. Only what the blinding rule shares with everyone
(:data:`chartcode.store.visibility.SHARED`: submitted codes on records every assigned coder has
submitted) is read here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chartcode.store.dataset_queries import Span, _within
from chartcode.store.visibility import SHARED, shared

if TYPE_CHECKING:
    from chartcode.store.connection import Database

FINAL_SQL = f"""
    WITH agg AS (
        SELECT record_id, note_key, field, count(*) AS n, min(submitted_value) AS lo, max(submitted_value) AS hi
        FROM codes
        WHERE submitted_value IS NOT NULL
          AND {shared(submitted_col="submitted_at", record_col="record_id")}
        GROUP BY record_id, note_key, field)
    SELECT agg.record_id, agg.note_key, agg.field, agg.n, agg.lo, agg.hi, cs.value
    FROM agg LEFT JOIN consensus cs
      ON cs.record_id = agg.record_id AND cs.note_key = agg.note_key AND cs.field = agg.field
    ORDER BY agg.record_id, agg.note_key, agg.field"""


class ConsensusQueries:
    """Store methods for consensus and final values (mixed into Store)."""

    if TYPE_CHECKING:  # Store, which these methods are mixed into, defines them

        @property
        def _db(self) -> Database: ...

    def consensus_units(self) -> list[tuple[Any, ...]]:
        """(record_id, note_key, field, value, reason) of every consensus value."""
        return self._db.execute("SELECT record_id, note_key, field, value, reason FROM consensus").fetchall()

    def consensus_reasons(self, record_id: str) -> dict[str, str]:
        """Record-level field -> consensus reason, for one record."""
        return dict(
            self._db.execute(
                "SELECT field, reason FROM consensus WHERE record_id = ? AND note_key = ''", [record_id]
            ).fetchall()
        )

    def shared_submitted_codes(self, *, field: str | None = None) -> list[tuple[Any, ...]]:
        """(record_id, note_key, field, coder, submitted_value, memo) of the submitted values everyone may
        see, by unit then coder."""
        sql = (
            f"SELECT c.record_id, c.note_key, c.field, c.coder, c.submitted_value, c.memo FROM codes c"
            f" WHERE c.submitted_value IS NOT NULL AND {SHARED}"
        )
        params: list[Any] = []
        if field:
            sql += " AND c.field = ?"
            params.append(field)
        sql += " ORDER BY c.record_id, c.note_key, c.field, c.coder"
        return self._db.execute(sql, params).fetchall()

    def disagreement_units(self) -> list[tuple[Any, ...]]:
        """(record_id, note_key, field, consensus value, consensus reason) of the units two or more coders
        submitted with different values (settled or not); set-based (GROUP BY ... HAVING)."""
        return self._disagreement_units(None)

    def disagreement_units_in(self, span: Span) -> list[tuple[Any, ...]]:
        """What :meth:`disagreement_units` gives, for the records whose id lies in ``span`` only (through
        the codes_by_record index): the report reads the audit record span by record span."""
        return self._disagreement_units(span)

    def _disagreement_units(self, span: Span | None) -> list[tuple[Any, ...]]:
        within, params = _within(span, "c.record_id")
        sql = f"""
            WITH eligible AS (
                SELECT c.record_id, c.note_key, c.field, c.submitted_value AS v FROM codes c
                WHERE c.submitted_value IS NOT NULL AND {SHARED}{within}),
            agg AS (
                SELECT record_id, note_key, field FROM eligible GROUP BY record_id, note_key, field
                HAVING count(*) >= 2 AND count(DISTINCT v) > 1)
            SELECT agg.record_id, agg.note_key, agg.field, cs.value, cs.reason
            FROM agg LEFT JOIN consensus cs
              ON cs.record_id = agg.record_id AND cs.note_key = agg.note_key AND cs.field = agg.field
            ORDER BY agg.record_id, agg.note_key, agg.field"""
        return self._db.execute(sql, params).fetchall()

    def unit_submitted_values(self, record_id: str, note_key: str, field: str) -> list[tuple[Any, ...]]:
        """(coder, submitted_value, memo) of one unit's submitted values, by coder."""
        return self._db.execute(
            "SELECT coder, submitted_value, memo FROM codes WHERE record_id = ? AND note_key = ? AND field = ?"
            " AND submitted_at IS NOT NULL AND submitted_value IS NOT NULL ORDER BY coder",
            [record_id, note_key, field],
        ).fetchall()

    def final_rows(self) -> list[tuple[Any, ...]]:
        """(record_id, note_key, field, n_coders, min value, max value, consensus value) per unit."""
        return self._db.execute(FINAL_SQL).fetchall()
