"""One coder's view of an audit: the queue, a record's notes and slots, and coding actions.

This is what the coding screen talks to. It is blind by construction: every query is
filtered to ``self.coder``, so no other coder's codes, memos or flags can reach the screen.
It knows nothing of Textual; the TUI calls it from worker threads for writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from chartcode.codebook import Codebook, CodeError, Field
from chartcode.errors import UserError
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


class CodingSession:
    """A coder's blinded working session over a Store."""

    def __init__(self, store: Store, coder: str):
        self.store = store
        self.coder = coder
        self.role = store.require_coder(coder)
        self.codebook = store.codebook
        self._undo: list[CodeChange] = []

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

    def set(self, record_id: str, slot: Slot, raw: Any, reason: str | None = None) -> CodeChange:
        value = None if raw is None else self.parse(slot, raw)
        change = self.store.set_code(self.coder, record_id, slot.field.name, value, note_id=slot.note_id, reason=reason)
        if change.changed:
            self._undo.append(change)
        return change

    def clear(self, record_id: str, slot: Slot) -> CodeChange:
        return self.set(record_id, slot, None)

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> CodeChange | None:
        """Put back the value before this session's last change; the undo is itself in history."""
        if not self._undo:
            return None
        last = self._undo.pop()
        return self.store.set_code(
            self.coder,
            last.record_id,
            last.field,
            last.old,
            note_id=last.note_id,
            action="undo",
            reason=f"undo of history #{last.history_id}",
        )

    def memo(self, record_id: str, slot: Slot, text: str | None) -> bool:
        return self.store.set_memo(self.coder, record_id, slot.field.name, text, note_id=slot.note_id)

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
