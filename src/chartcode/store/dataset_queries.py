"""Reads behind the analysis dataset (chartcode.dataset), agreement, fidelity scoring and sampling.

The submitted-codes read is the hot one (a 100,000-record audit has millions of codes): one
full scan in rowid order, with fields and coders sent as small ints (:func:`_named`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from chartcode.store.visibility import record_closed, record_closed_among, shared

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

    from chartcode.store.connection import Database

SUBMITTED_WHERE = "submitted_at IS NOT NULL AND submitted_value IS NOT NULL"
CHUNK_ROWS = 50_000  # rows per chunk of the streamed reads: a few MB of Python tuples
# packed_codes(split=True): below this many code ids one scan; how long to wait for the write lock that
# lines up the second connection's snapshot with the first's, and for that connection to open it
SPLIT_MIN_CODES = 200_000
SPLIT_LOCK_WAIT_S = 1.0
SPLIT_OPEN_WAIT_S = 5.0


Span = tuple[str | None, str | None]  # record ids from (inclusive) .. to (exclusive); None: no bound


def _within(span: Span | None, column: str = "record_id") -> tuple[str, list[Any]]:
    """SQL (`` AND ...``) and parameters keeping the rows whose ``column`` lies in ``span``."""
    if span is None:
        return "", []
    sql, params = "", []
    if span[0] is not None:
        sql += f" AND {column} >= ?"
        params.append(span[0])
    if span[1] is not None:
        sql += f" AND {column} < ?"
        params.append(span[1])
    return sql, params


def _position(column: str, names: list[str], otherwise: str) -> str:
    """SQL giving the position of ``column`` in ``names`` (parameters: the names, in order), else
    ``otherwise``; ``names`` is not empty."""
    return f"CASE {column} {' '.join(f'WHEN ? THEN {i}' for i in range(len(names)))} ELSE {otherwise} END"


def _named(column: str, names: list[str]) -> str:
    """SQL giving the position of ``column`` in ``names`` (the value itself when not there): small ints
    reach Python far cheaper than a million copies of the same few strings."""
    return _position(column, names, column) if names else column


class PackedCodes(NamedTuple):
    """The submitted codes of closed records, for agreement (:meth:`DatasetQueries.packed_codes`).

    Every submitted code as three comma-separated strings of numbers, code by code in the same
    order (a code whose value is not an integer has field_coder -1, unit -1 and value 0 there):

      field_coder  position of the field in ``fields`` times (len(coders) + 1) plus the position of
                   the coder in ``coders`` (len(coders) if not there); negative for a field not in
                   ``fields``
      unit         2 * rowid of the record for a record-level code, 2 * id of the note + 1 for a
                   note-level code (-1 when note_key names no note of that record)
      value        the submitted value

    The other codes (text, real or blob values) as (field, record_id, note_key, coder, value) rows;
    and the names of the units: (rowid, id) of every record, (id, note_id, record_id, note_type) of
    every note.
    """

    field_coder: str
    unit: str
    value: str
    other: list[tuple[Any, ...]]
    records: list[tuple[Any, ...]]
    notes: list[tuple[Any, ...]]


def unpack_ints(text: str) -> np.ndarray:
    """The comma-separated integers of a packed read (:class:`PackedCodes`, :class:`SpanCodes`) as an
    int64 array: numpy parses them in C, with no Python object each."""
    import numpy as np

    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


class SpanCodes(NamedTuple):
    """A record span's submitted codes on closed records, packed (:meth:`DatasetQueries.span_codes`),
    in the order of the codes_by_record index: unit by unit (record_id, note_key, field), rowid order
    within a unit -- the rows :meth:`DatasetQueries.submitted_code_chunks` gives for the span.

      groups       (record_id, note_key or None, how many codes) per (record, note), in that order
      field_coder  per code: position of the field in ``fields`` times (len(coders) + 1) plus the
                   position of the coder in ``coders``; for a code whose value is not an integer, or
                   whose field or coder is not in the lists (an "other" code), a number that is
                   negative or whose remainder by (len(coders) + 1) is len(coders)
      value        per code: the integer value (0 for an other code)
      other        (field, coder, submitted_value) of the other codes, in the same order; field and
                   coder as their positions where in the lists (as submitted_code_chunks gives them)
    """

    groups: list[tuple[Any, ...]]
    field_coder: np.ndarray
    value: np.ndarray
    other: list[tuple[Any, ...]]


def other_codes(field_coder: np.ndarray, n_coders: int) -> np.ndarray:
    """Which of a :class:`SpanCodes`' codes are other codes (read as rows)."""
    marks: np.ndarray = (field_coder < 0) | (field_coder % (n_coders + 1) == n_coders)
    return marks


class DatasetQueries:
    """Store methods for the dataset and the statistics built on it (mixed into Store)."""

    if TYPE_CHECKING:  # Store, which these methods are mixed into, defines them
        path: Path

        @property
        def _db(self) -> Database: ...

    def submitted_code_rows(self, fields: list[str], coders: list[str]) -> list[tuple[Any, ...]]:
        """(field, record_id, note_key or None, coder, submitted_value) of every submitted code that the
        blinding rule shares (records every assigned coder has submitted), in rowid order; field and
        coder come as their position in ``fields`` / ``coders`` (the name itself when not there).
        Agreement and the final values start from these rows, so neither counts an open record."""
        return [row for chunk in self.submitted_code_chunks(fields, coders) for row in chunk]

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[None]:
        """One read transaction around several reads (a streamed export's queries, record span by
        record span): they all see the same state of the database, whatever commits meanwhile."""
        with self._db.atomic():
            yield

    @contextlib.contextmanager
    def writes_held(self, wait: float) -> Iterator[bool]:
        """Hold the database's write lock (``BEGIN IMMEDIATE`` on a connection of its own, nothing
        written, rolled back at the end) so that no commit lands while other connections open their
        read snapshots: every read transaction begun inside the block sees the same state. Yields
        False, holding nothing, when another writer kept the lock for ``wait`` seconds. Writers
        meanwhile wait, as they wait for any writer."""
        conn = sqlite3.connect(self.path, timeout=wait, isolation_level=None, check_same_thread=False)
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                held = False
            else:
                held = True
            try:
                yield held
            finally:
                if held:
                    conn.execute("ROLLBACK")
        finally:
            conn.close()

    def submitted_code_chunks(
        self, fields: list[str], coders: list[str], size: int | None = None, *, span: Span | None = None
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of :meth:`submitted_code_rows`, ``size`` at a time, from one read: a caller that
        turns each chunk into arrays holds one chunk of Python tuples at a time, not millions.
        ``span``: only the records whose id lies in it (through the codes_by_record index), in that
        index's order: unit by unit (record_id, note_key, field), rowid order within a unit."""
        within, params = _within(span)
        # A span is read in the order of the record index itself (record_id, note_key, field, then
        # rowid: a unit's codes in rowid order), so SQLite walks the index range and sorts nothing.
        # Sorted by ``id`` instead, it had to gather and sort the span first (a fifth of the read:
        # 6.0 s against 4.3-4.8 s for the 2 million codes of a 100k-record audit, in 10 spans), and
        # with one bound only (the first and the last span) it walked the whole table in id order.
        order = "record_id, note_key, field, id" if within else "id"
        sql = (
            f"SELECT {_named('field', fields)}, record_id, NULLIF(note_key, ''), {_named('coder', coders)},"
            f" submitted_value FROM codes WHERE {SUBMITTED_WHERE} AND {record_closed('record_id')}{within}"
            f" ORDER BY {order}"
        )
        cursor = self._db.execute(sql, [*fields, *coders, *params])
        try:
            while rows := cursor.fetchmany(size or CHUNK_ROWS):
                yield rows
        finally:
            cursor.close()

    def span_codes(
        self, fields: list[str], coders: list[str], span: Span, open_ids: list[str] | None = None
    ) -> SpanCodes:
        """The rows of :meth:`submitted_code_chunks` for ``span``, packed (:class:`SpanCodes`): one row per
        (record, note), SQLite writing its codes as strings of numbers while it walks the index (no
        Python object per code), and the codes that are not integers, if any, as rows. Call it inside
        :meth:`read_snapshot` (its two queries must see the same codes); ``fields`` and ``coders``
        are not empty. ``open_ids``: the span's open records, read in that same snapshot (else the
        query finds them itself)."""
        within, params = _within(span)
        closed, closed_params = record_closed_among("record_id", open_ids)
        where = f"{SUBMITTED_WHERE} AND {closed}{within}"
        params = [*closed_params, *params]
        integer = "typeof(submitted_value) = 'integer'"
        n = len(coders) + 1
        field, coder = _position("field", fields, "-1"), _position("coder", coders, str(len(coders)))
        # GROUP BY the index's first two columns: SQLite walks the span's index range in its order,
        # sorting nothing, and concatenates each group's codes in the order it visits them
        groups = self._db.execute(
            f"SELECT record_id, NULLIF(note_key, ''), count(*),"
            f" group_concat(CASE WHEN {integer} THEN ({field}) * {n} + ({coder}) ELSE -1 END),"
            f" group_concat(CASE WHEN {integer} THEN submitted_value ELSE 0 END)"
            f" FROM codes WHERE {where} GROUP BY record_id, note_key ORDER BY record_id, note_key",
            [*fields, *coders, *params],
        ).fetchall()
        field_coder = unpack_ints(",".join(g[3] for g in groups))
        other: list[tuple[Any, ...]] = []
        # found from the numbers, not counted in SQL: a count there (IN tests on every code) cost
        # the packed query a fifth more
        if other_codes(field_coder, len(coders)).any():
            other = self._db.execute(
                f"SELECT {_named('field', fields)}, {_named('coder', coders)}, submitted_value FROM codes"
                f" WHERE {where} AND NOT ({integer} AND field IN ({', '.join('?' * len(fields))})"
                f" AND coder IN ({', '.join('?' * len(coders))})) ORDER BY record_id, note_key, field, id",
                [*fields, *coders, *params, *fields, *coders],
            ).fetchall()
        values = unpack_ints(",".join(g[4] for g in groups))
        return SpanCodes([g[:3] for g in groups], field_coder, values, other)

    def packed_codes(self, fields: list[str], coders: list[str], *, split: bool = False) -> PackedCodes:
        """The rows of :meth:`submitted_code_rows` for agreement (chartcode.agreement.read), packed: see
        :class:`PackedCodes`. Its queries read one snapshot of the database (one read transaction).

        The codes come from one aggregate query: SQLite builds the strings while it scans, with no
        Python object per row (the Python sqlite3 module releases the GIL while it steps, so other
        threads run meanwhile), and numpy parses them.

        ``split``: scan the second half of the codes (by id) on a connection of its own in a thread
        (a second CPU), on the same snapshot as this one: both read transactions are opened while
        the write lock is held (:meth:`writes_held`), for as long as that takes. Where the lock
        cannot be had within :data:`SPLIT_LOCK_WAIT_S`, or the thread does not open its snapshot
        within :data:`SPLIT_OPEN_WAIT_S`, this connection scans every code, as without ``split``.
        The strings are the same either way."""
        field = _position("field", fields, str(-(len(fields) + 1)))
        coder = _position("coder", coders, str(len(coders)))
        unit = (
            "ifnull(CASE WHEN note_key = '' THEN 2 * (SELECT rowid FROM records WHERE id = codes.record_id)"
            " ELSE 2 * (SELECT id FROM notes WHERE note_id = codes.note_key AND record_id = codes.record_id) + 1"
            " END, -1)"
        )
        where = f"{SUBMITTED_WHERE} AND {record_closed('record_id')}"
        # One scan for every submitted code: a code whose value is not an integer is sent as field
        # position -1 (dropped, as a field not in ``fields`` is) and counted, and only when there are
        # some are they read as rows (a second scan for them, on every read, cost a third of this one).
        integer = "typeof(submitted_value) = 'integer'"
        sql = (
            f"SELECT group_concat(CASE WHEN {integer} THEN ({field}) * {len(coders) + 1} + ({coder}) ELSE -1 END),"
            f" group_concat(CASE WHEN {integer} THEN {unit} ELSE -1 END),"
            f" group_concat(CASE WHEN {integer} THEN submitted_value ELSE 0 END), sum(NOT {integer})"
            f" FROM codes WHERE {where} AND id BETWEEN ? AND ?"
        )
        params = [*fields, *coders]
        with self._db.atomic() as db:
            upper = _UpperHalf(self, sql, params) if split else None
            half = upper.open() if upper is not None else None  # opens this snapshot in any case
            if half is None:
                parts = [db.execute(sql, [*params, -(2**63), 2**63 - 1]).fetchone()]
            else:
                assert upper is not None
                try:
                    lower = db.execute(sql, [*params, -(2**63), half]).fetchone()
                finally:
                    upper_row = upper.row()  # (waits for the thread whatever happened here)
                parts = [lower, upper_row]
            fc, units, values = (",".join(p[k] for p in parts if p[k]) for k in range(3))
            other = []
            if any(p[3] for p in parts):
                other = db.execute(
                    "SELECT field, record_id, note_key, coder, submitted_value FROM codes"
                    f" WHERE {where} AND NOT {integer} ORDER BY id"
                ).fetchall()
            records = db.execute("SELECT rowid, id FROM records").fetchall()
            notes = db.execute("SELECT id, note_id, record_id, note_type FROM notes").fetchall()
        return PackedCodes(fc, units, values, other, records, notes)

    def submitted_memo_rows(self, record_ids: list[str]) -> Iterator[tuple[Any, ...]]:
        """(record_id, note_key, field, coder, memo) of the submitted codes on ``record_ids`` that carry a
        memo; by record, through the codes_by_record index."""
        for start in range(0, len(record_ids), 500):
            chunk = record_ids[start : start + 500]
            yield from self._db.execute(
                "SELECT record_id, note_key, field, coder, memo FROM codes WHERE record_id IN"
                f" ({', '.join('?' * len(chunk))}) AND {SUBMITTED_WHERE}"
                " AND memo IS NOT NULL AND memo <> ''",
                chunk,
            )

    def note_rows(self, *, span: Span | None = None) -> list[dict[str, Any]]:
        """note_id, record_id, note_date, note_type of every note (of the records in ``span``), by
        record, date and import order."""
        within, params = _within(span)
        return list(
            self._db.query(
                "SELECT note_id, record_id, note_date, note_type FROM notes WHERE 1"
                f"{within} ORDER BY record_id, note_date, id",
                params,
            )
        )

    def consensus_units_in(self, span: Span) -> list[tuple[Any, ...]]:
        """What consensus_units gives, for the records in ``span`` only."""
        within, params = _within(span)
        return self._db.execute(
            f"SELECT record_id, note_key, field, value, reason FROM consensus WHERE 1{within}", params
        ).fetchall()

    def submitted_record_values(self, field: str, *, coder: str | None = None) -> list[tuple[Any, ...]]:
        """(record_id, submitted_value) of a record-level field's submitted codes (one coder's, or all)."""
        params: list[Any] = [field]
        sql = (
            "SELECT record_id, submitted_value FROM codes WHERE field = ? AND note_key = ''"
            " AND submitted_at IS NOT NULL"
        )
        if coder:
            sql += " AND coder = ?"
            params.append(coder)
        return self._db.execute(sql, params).fetchall()

    def shared_record_ratings(self) -> list[tuple[Any, ...]]:
        """(record_id, coder, field, submitted_value) of the record-level submitted codes everyone may see
        (records every assigned rater has submitted)."""
        return self._db.execute(
            "SELECT record_id, coder, field, submitted_value FROM codes WHERE note_key = ''"
            f" AND {shared(submitted_col='submitted_at', record_col='record_id')}"
        ).fetchall()

    def submitted_memos(self, record_id: str) -> list[tuple[Any, ...]]:
        """(field, coder, memo) of a record's submitted record-level codes that carry a memo, once every
        assigned rater has submitted the record (the blinding rule's shared clause)."""
        return self._db.execute(
            "SELECT field, coder, memo FROM codes WHERE record_id = ? AND note_key = ''"
            f" AND {shared(submitted_col='submitted_at', record_col='record_id')}"
            " AND memo IS NOT NULL AND memo != '' ORDER BY field, coder",
            [record_id],
        ).fetchall()


class _UpperHalf:
    """:meth:`DatasetQueries.packed_codes`' scan of the codes above the middle id, on a connection of
    its own in a thread, on the calling connection's snapshot."""

    def __init__(self, store: DatasetQueries, sql: str, params: list[Any]) -> None:
        self.store, self.sql, self.params = store, sql, params
        self.result: list[Any] = []
        self.error: BaseException | None = None
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.state = "waiting"  # -> "open" (its snapshot is this one's), or "dropped" (read it all here)
        self.thread: threading.Thread | None = None

    def open(self) -> int | None:
        """Open the calling connection's snapshot (it must be in a read transaction with nothing read
        yet) and, with the write lock held, the thread's; the middle id, or None: read every code on
        the calling connection (the lock or the thread's snapshot could not be had in time, or there
        are too few codes for a second scan to pay)."""
        with self.store.writes_held(SPLIT_LOCK_WAIT_S) as held:
            # (each bound a query of its own: SQLite finds min() or max() alone at an end of the rowid
            # b-tree, but scans the whole table for the two together - half a second at a million codes)
            lo, hi = self.store._db.execute(
                "SELECT (SELECT min(id) FROM codes), (SELECT max(id) FROM codes)"
            ).fetchone()  # opens it
            if not held or lo is None or hi - lo < SPLIT_MIN_CODES:
                return None
            half = int(lo + (hi - lo) // 2)
            self.thread = threading.Thread(target=self._run, args=(half,), name="chartcode-codes-upper", daemon=True)
            self.thread.start()
            self.opened.wait(SPLIT_OPEN_WAIT_S)
            with self.lock:
                if self.state != "open":
                    self.state = "dropped"
                    return None
        return half

    def _run(self, half: int) -> None:
        try:
            db = self.store._db  # this thread's connection
            with db.atomic():
                db.execute("SELECT min(id) FROM codes").fetchone()  # opens its snapshot
                with self.lock:
                    if self.state == "dropped":
                        return
                    self.state = "open"
                self.opened.set()
                self.result.append(db.execute(self.sql, [*self.params, half + 1, 2**63 - 1]).fetchone())
        except BaseException as e:  # said in the calling thread
            self.error = e
        finally:
            self.opened.set()

    def row(self) -> Any:
        """The upper half's row (waits for the thread; its error, raised here)."""
        assert self.thread is not None
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.result[0]
