"""The analysis dataset: final values as tables (pandas), the input of analyses and exports.

    records_frame(store)  one row per record: record_id, then every record-level field
    notes_frame(store)    one row per note: note_id, record_id, note_date, note_type, then
                          every note-level field that applies to the note

Values are the final values (chartcode.consensus: consensus, else the coders' shared
submitted value); a unit without one is missing (NaN / None). With ``sources=True`` each
field gets a companion column ``<field>__source`` (consensus, single, agreed, unresolved)
saying where the value came from.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from chartcode.codebook import Codebook
from chartcode.consensus import final_values
from chartcode.store.store import Store

SOURCE_SUFFIX = "__source"


Finals = dict[tuple[str, str | None, str], dict[str, Any]]


def finals(store: Store) -> Finals:
    """All final values keyed by (record_id, note_id, field), computed once per state of the database."""
    return store.cached("finals", lambda: {(f["record_id"], f["note_id"], f["field"]): f
                                           for f in final_values(store)})


def _column(values: list[Any], field_type: str) -> pd.Series:
    if field_type in ("nominal", "ordinal", "binary", "count"):
        return pd.Series(values, dtype="Float64").astype("Int64") if all(
            v is None or isinstance(v, (int, float)) for v in values) else pd.Series(values, dtype="object")
    if field_type == "numeric":
        return pd.Series(values, dtype="Float64")
    return pd.Series(values, dtype="object")


def records_frame(store: Store, *, sources: bool = False, values: Finals | None = None) -> pd.DataFrame:
    cb: Codebook = store.codebook
    values = finals(store) if values is None else values
    ids = store.record_ids()
    data: dict[str, Any] = {"record_id": ids}
    for f in cb.record_fields:
        cells = [values.get((rid, None, f.name)) for rid in ids]
        data[f.name] = _column([c["value"] if c else None for c in cells], f.type)
        if sources:
            data[f.name + SOURCE_SUFFIX] = [c["source"] if c else None for c in cells]
    return pd.DataFrame(data)


def notes_frame(store: Store, *, sources: bool = False, values: Finals | None = None) -> pd.DataFrame:
    cb: Codebook = store.codebook
    values = finals(store) if values is None else values
    rows = list(store.db.query(
        "SELECT note_id, record_id, note_date, note_type FROM notes ORDER BY record_id, note_date, id"))
    data: dict[str, Any] = {k: [r[k] for r in rows] for k in ("note_id", "record_id", "note_date", "note_type")}
    for f in cb.note_fields:
        cells = [values.get((r["record_id"], r["note_id"], f.name)) if f.applies_to(r["note_type"]) else None
                 for r in rows]
        data[f.name] = _column([c["value"] if c else None for c in cells], f.type)
        if sources:
            data[f.name + SOURCE_SUFFIX] = [c["source"] if c else None for c in cells]
    return pd.DataFrame(data)
