"""Test data helpers: complete a coder's record so it can be submitted.

Only a whole record can be submitted (Codebook.missing_required). Tests about one field still
need the coder's other required codes in place; these helpers fill them with a valid value
(the first choice, or a fixed number, date or text) and never overwrite a code already given.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from chartcode.codebook import Field
from chartcode.store import Store

FILLER_DATE = "2024-01-01"


def filler(field: Field) -> Any:
    """A value ``field`` accepts, for required codes a test is not about."""
    if field.choices:
        return field.choices[0].code
    low = str(int(field.min)) if field.min is not None else "1"
    for raw in (low, FILLER_DATE, "filler"):
        try:
            return field.parse(raw)
        except Exception:  # noqa: BLE001 - try the next kind of value
            continue
    raise AssertionError(f"no filler value for field {field.name}")


def fill_required(store: Store, coder: str, record_id: str) -> int:
    """Code every required field ``coder`` still lacks on ``record_id``; returns how many."""
    missing = store.missing_required(coder, record_id)
    for note_id, f in missing:
        store.set_code(coder, record_id, f.name, filler(f), note_id=note_id)
    return len(missing)


def submit_whole(store: Store, coder: str, record_id: str) -> None:
    """Fill the coder's missing required codes on the record, then submit it."""
    fill_required(store, coder, record_id)
    store.submit(coder, record_id)


def completed_csv(store: Store, text: str) -> str:
    """A codes CSV (``text``: header record_id,note_id,field,value[,memo], then rows) with rows
    added after it that complete each record it codes: every required code it lacks, by the
    codebook's rule, with a filler value. Empty values count as not coded; a
    record with none but empty values is left alone."""
    rows = list(csv.DictReader(io.StringIO(text)))
    values: dict[str, dict[tuple[str | None, str], str]] = {}
    for row in rows:
        if (row.get("value") or "").strip():  # a record with only empty values is not coded at all
            values.setdefault(row["record_id"], {})[(row["note_id"] or None, row["field"])] = row["value"]
    width = len(next(csv.reader(io.StringIO(text))))
    added = []
    for rid, have in values.items():
        notes = [(n["note_id"], n["note_type"]) for n in store.notes_for_record(rid)]
        for nid, f in store.codebook.missing_required(notes, have):
            added.append(",".join([rid, nid or "", f.name, str(filler(f))] + [""] * (width - 4)) + "\n")
    return text + ("" if text.endswith("\n") else "\n") + "".join(added)
