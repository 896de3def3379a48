"""One coder's view of an audit: the queue, a record's notes and slots, and coding actions.

This is what the coding screen talks to. It is blind by construction: every query is
filtered to ``self.coder``, so no other coder's codes, memos or flags can reach the screen.
It knows nothing of Textual; the TUI calls it from worker threads for writes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from chartcode.codebook import Codebook, CodeError, Field
from chartcode.errors import UserError
from chartcode.store import StaleChange
from chartcode.store.faults import ConnectionLost
from chartcode.store.store import CodeChange, Store

STATUSES = ("not_started", "in_progress", "done", "flagged")
STATUS_FILTERS = ("all", "todo", "not_started", "in_progress", "done", "flagged")


@dataclass(frozen=True)
class Slot:
    """One code to enter: a field, on a note for note-level fields."""

    field: Field
    note_id: str | None = None

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.note_id, self.field.name)


@dataclass(frozen=True)
class QueueRow:
    record_id: str
    status: str
    flagged: bool
    n_notes: int


@dataclass
class RecordView:
    codebook: Codebook
    record_id: str
    notes: list[dict[str, Any]]
    slots: list[Slot]
    values: dict[tuple[str | None, str], Any]
    memos: dict[tuple[str | None, str], str]
    status: str
    flagged: bool
    flag_comment: str | None
    submitted: bool = False
    note_index: dict[str, int] = dc_field(default_factory=dict)

    def missing(self) -> list[Slot]:
        """The empty required slots, by the one completeness rule (Codebook.missing_required) that
        Store.submit applies too."""
        notes = ((n["note_id"], n["note_type"]) for n in self.notes)
        return [Slot(f, nid) for nid, f in self.codebook.missing_required(notes, self.values)]

    def coded(self) -> int:
        return sum(1 for s in self.slots if self.values.get(s.key) is not None)

    def describe_missing(self) -> str:
        """The empty required fields, grouped: 'note 1: a, b; record: c, d'."""
        groups: dict[str, list[str]] = {}
        for slot in self.missing():
            groups.setdefault(self.note_label(slot.note_id), []).append(slot.field.name)
        return "; ".join(f"{where}: {', '.join(names)}" for where, names in groups.items())

    def note_label(self, note_id: str | None) -> str:
        if note_id is None:
            return "record"
        i = self.note_index.get(note_id)
        return f"note {i + 1}" if i is not None else note_id


CodeKey = tuple[str, str | None, str]  # record, note (None: the record), field


@dataclass(eq=False)
class Ticket:
    """One change the screen has asked for, with what it was made against: the version the shown
    value was loaded with (``base``), or, when made on top of a change of the same code still
    unsaved, that change (``after``). The writer thread fills in ``expected`` (the version sent)
    and ``version`` (the code's version after it) as it runs the changes in order."""

    id: int
    key: CodeKey
    base: int
    after: Ticket | None
    expected: int | None = None
    version: int | None = None
    refused: StaleChange | None = None


class ShownVersions:
    """Which version of each code the screen shows, so every change carries the version it was made
    against and a change made in another window since is refused (StaleChange), not written over.

    The screen makes a ticket when a key is pressed (UI thread); the writer runs tickets in order
    (one thread), so a change made on top of an unsaved one is sent against the version that one
    left, and a change made on top of a refused one is refused too: it was made against a value the
    database no longer holds. The screen settles each ticket when its result comes back."""

    def __init__(self) -> None:
        self._shown: dict[CodeKey, int] = {}
        self._open: dict[CodeKey, Ticket] = {}  # the newest unsettled ticket of each code
        self._ids = itertools.count(1)

    def loaded(self, record_id: str, versions: dict[tuple[str | None, str], int], slots: list[Slot]) -> None:
        for slot in slots:
            key = (record_id, *slot.key)
            if key not in self._open:  # an unsaved change of the code knows better than this read
                self._shown[key] = versions.get(slot.key, 0)

    def ticket(self, record_id: str, slot: Slot) -> Ticket:
        key = (record_id, *slot.key)
        t = Ticket(next(self._ids), key, self._shown.get(key, 0), self._open.get(key))
        self._open[key] = t
        return t

    @staticmethod
    def expected(ticket: Ticket) -> int:
        """Writer thread, before the change is sent: the version it is made against."""
        before = ticket.after
        if before is None:
            ticket.expected = ticket.base
        elif before.refused is not None:
            ticket.refused = before.refused
            raise StaleChange(before.refused.field, before.refused.current, before.refused.version)
        else:  # saved: the version it left; failed for another reason: the version it found
            ticket.expected = before.version if before.version is not None else before.expected
        assert ticket.expected is not None
        return ticket.expected

    def settle(self, ticket: Ticket) -> None:
        """UI thread, when the ticket's change was saved or refused: the code now shows its version."""
        if self._open.get(ticket.key) is ticket:
            del self._open[ticket.key]
            if ticket.refused is not None:
                self._shown[ticket.key] = ticket.refused.version
            elif ticket.version is not None:
                self._shown[ticket.key] = ticket.version
            elif ticket.expected is not None:
                self._shown[ticket.key] = ticket.expected

    def note(self, record_id: str, note_id: str | None, field: str, version: int | None) -> None:
        """A change made without a ticket (undo) left the code at ``version``."""
        key = (record_id, note_id, field)
        if version is not None and key not in self._open:
            self._shown[key] = version


class CodingSession:
    """A coder's blinded working session over a Store."""

    def __init__(self, store: Store, coder: str):
        self.store = store
        self.coder = coder
        self.role = store.require_coder(coder)
        self.codebook = store.codebook
        self._undo: list[CodeChange] = []
        self._left: dict[CodeKey, int] = {}  # the version this session's own last write left each code at
        self.versions = ShownVersions()

    # ------------------------------------------------------------------ queue
    def progress(self) -> tuple[int, int]:
        return self.store.coder_progress(self.coder)

    def queue_count(self, text: str = "", status: str = "all") -> int:
        return self.store.queue_count(self.coder, text, status)

    def queue_page(self, offset: int, limit: int, text: str = "", status: str = "all") -> list[QueueRow]:
        """One page of the queue; the screen asks only for the rows it shows."""
        rows = self.store.queue_page(self.coder, offset, limit, text, status)
        return [QueueRow(r[0], r[1], bool(r[2]), r[3]) for r in rows]

    def queue_index(self, record_id: str, text: str = "", status: str = "all") -> int | None:
        return self.store.queue_index(self.coder, record_id, text, status)

    def first_unfinished(self, after: str | None = None) -> str | None:
        """The next record not done (wrapping round), or None when all are done."""
        if after is not None:
            found = self.store.next_unfinished(self.coder, after)
            if found:
                return found
        return self.store.next_unfinished(self.coder)

    def neighbour(self, record_id: str, step: int) -> str | None:
        return self.store.neighbour_record(self.coder, record_id, step)

    def first_record(self) -> str | None:
        return self.store.first_assigned(self.coder)

    def is_assigned(self, record_id: str) -> bool:
        return self.store.is_assigned(self.coder, record_id)

    # ------------------------------------------------------------------ one record
    def load(self, record_id: str) -> RecordView:
        a = self.store.assignment(self.coder, record_id)
        if a is None:
            raise UserError(f"record {record_id!r} is not assigned to {self.coder!r}")
        notes = self.store.notes_for_record(record_id)
        slots = [Slot(f, nid) for nid, f in self.codebook.targets((n["note_id"], n["note_type"]) for n in notes)]
        values: dict[tuple[str | None, str], Any] = {}
        memos: dict[tuple[str | None, str], str] = {}
        for note_key, fname, value, memo in self.store.own_codes(self.coder, record_id):
            key = (note_key or None, fname)
            if value is not None:
                values[key] = value
            if memo:
                memos[key] = memo
        self.versions.loaded(record_id, self.store.code_versions(self.coder, record_id), slots)
        return RecordView(
            codebook=self.codebook,
            record_id=record_id,
            notes=notes,
            slots=slots,
            values=values,
            memos=memos,
            status=a[0],
            flagged=bool(a[1]),
            flag_comment=a[2],
            submitted=a[3] is not None,
            note_index={n["note_id"]: i for i, n in enumerate(notes)},
        )

    def note_text(self, note_id: str) -> str:
        return self.store.note_text(note_id)

    def search(self, query: str, record_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        return self.store.search_notes(query, record_id=record_id, limit=limit)

    # ------------------------------------------------------------------ coding actions (one transaction each)
    def parse(self, slot: Slot, raw: Any) -> Any:
        try:
            return slot.field.parse(raw)
        except CodeError as exc:
            raise UserError(f"{slot.field.label}: {exc}") from None

    def ticket(self, record_id: str, slot: Slot) -> Ticket:
        """Before a change is queued (UI thread): what it is made against."""
        return self.versions.ticket(record_id, slot)

    def set(
        self, record_id: str, slot: Slot, raw: Any, ticket: Ticket | None = None, reason: str | None = None
    ) -> CodeChange:
        """Set a code; with a ticket, only if the code is still at the version the change was made
        against (else StaleChange, with the current value: nothing written). ``reason`` goes to the
        history (a clearing of a code that stopped applying says why)."""
        expected = None if ticket is None else self.versions.expected(ticket)  # first: a refusal below keeps it
        value = None if raw is None else self.parse(slot, raw)
        try:
            change = self.store.set_code(
                self.coder,
                record_id,
                slot.field.name,
                value,
                note_id=slot.note_id,
                reason=reason,
                expected_version=expected,
            )
        except StaleChange as exc:
            if ticket is not None:
                ticket.refused = exc
            raise
        if ticket is not None:
            ticket.version = change.version
        if change.changed:
            self._undo.append(change)
            self._remember(change)
        return change

    def _remember(self, change: CodeChange) -> None:
        if change.version is not None:
            self._left[(change.record_id, change.note_id, change.field)] = change.version

    def clear(self, record_id: str, slot: Slot) -> CodeChange:
        return self.set(record_id, slot, None)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> CodeChange | None:
        """Put back the value before this session's last change; the undo is itself in history."""
        if not self._undo:
            return None
        last = self._undo[-1]  # taken off once the undo has committed: the writer may send it again
        key = (last.record_id, last.note_id, last.field)
        try:
            change = self.store.set_code(
                self.coder,
                last.record_id,
                last.field,
                last.old,
                note_id=last.note_id,
                action="undo",
                reason=f"undo of history #{last.history_id}",
                # changed elsewhere since this session's own last write: refused, not undone over it
                expected_version=self._left.get(key, last.version),
            )
        except ConnectionLost:
            raise  # still to undo: the writer sends this undo again once the server answers
        except BaseException:
            self._undo.pop()
            raise
        self._undo.pop()
        self._remember(change)
        return change

    def memo(self, record_id: str, slot: Slot, text: str | None, ticket: Ticket | None = None) -> bool:
        """A memo on a code; it changes the code's version (as a value change does) when it changes."""
        expected = None if ticket is None else self.versions.expected(ticket)
        changed = self.store.set_memo(self.coder, record_id, slot.field.name, text, note_id=slot.note_id)
        if ticket is not None and expected is not None:
            ticket.version = expected + (1 if changed else 0)
        if changed and (key := (record_id, slot.note_id, slot.field.name)) in self._left:
            self._left[key] += 1
        return changed

    def flag(self, record_id: str, comment: str | None, flagged: bool = True) -> None:
        self.store.flag(self.coder, record_id, comment, flagged=flagged)

    def done(self, record_id: str) -> None:
        """Mark the record done; refused, naming the missing fields, while a required one is empty."""
        view = self.load(record_id)
        missing = view.missing()
        if missing:
            raise UserError(
                f"cannot mark {record_id} done: {len(missing)} required field(s) empty: {view.describe_missing()}"
            )
        self.store.submit(self.coder, record_id)

    # ------------------------------------------------------------------ where the coder left off
    def save_position(self, record_id: str | None, note_id: str | None, field: str | None) -> None:
        self.store.save_position(self.coder, record_id, note_id, field)

    def position(self) -> tuple[str | None, str | None, str | None] | None:
        return self.store.position(self.coder)
