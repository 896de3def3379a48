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

import math

import numpy as np
import pandas as pd

from chartcode.codebook import Codebook
from chartcode.consensus import final_rows
from chartcode.store.store import Store

SOURCE_SUFFIX = "__source"


def finals(store: Store) -> pd.DataFrame:
    """Every unit's final value (columns record_id, note_key, field, value, source), computed once per
    state of the database and vectorised: the rule of chartcode.consensus, applied by pandas."""

    def compute() -> pd.DataFrame:
        rows = final_rows(store)
        df = pd.DataFrame(rows, columns=["record_id", "note_key", "field", "n", "lo", "hi", "consensus"],
                          dtype=object)
        has_consensus = df["consensus"].notna().to_numpy(dtype=bool)
        same = (df["lo"] == df["hi"]).to_numpy(dtype=bool)
        single = (df["n"] == 1).to_numpy(dtype=bool)
        df["value"] = np.where(has_consensus, df["consensus"], np.where(same, df["lo"], None))
        df["source"] = np.select([has_consensus, same & single, same], ["consensus", "single", "agreed"],
                                 "unresolved")
        return df[["record_id", "note_key", "field", "value", "source"]]

    return store.cached("finals", compute)


def _pivot(df: pd.DataFrame, index: list[str], column: str) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=[*index])
    return df.pivot(index=index, columns="field", values=column)


def _cells(table: pd.DataFrame, name: str, n: int) -> list[Any]:
    if name not in table.columns:
        return [None] * n
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in table[name].tolist()]


def _column(values: list[Any], field_type: str) -> pd.Series:
    if field_type in ("nominal", "ordinal", "binary", "count"):
        return pd.Series(values, dtype="Float64").astype("Int64") if all(
            v is None or isinstance(v, (int, float)) for v in values) else pd.Series(values, dtype="object")
    if field_type == "numeric":
        return pd.Series(values, dtype="Float64")
    return pd.Series(values, dtype="object")


def records_frame(store: Store, *, sources: bool = False, values: pd.DataFrame | None = None) -> pd.DataFrame:
    cb: Codebook = store.codebook
    values = finals(store) if values is None else values
    ids = store.record_ids()
    rec = values[values["note_key"] == ""]
    val = _pivot(rec, ["record_id"], "value").reindex(ids)
    src = _pivot(rec, ["record_id"], "source").reindex(ids) if sources else None
    data: dict[str, Any] = {"record_id": ids}
    for f in cb.record_fields:
        data[f.name] = _column(_cells(val, f.name, len(ids)), f.type)
        if src is not None:
            data[f.name + SOURCE_SUFFIX] = _cells(src, f.name, len(ids))
    return pd.DataFrame(data)


def notes_frame(store: Store, *, sources: bool = False, values: pd.DataFrame | None = None) -> pd.DataFrame:
    cb: Codebook = store.codebook
    values = finals(store) if values is None else values
    rows = list(store.db.query(
        "SELECT note_id, record_id, note_date, note_type FROM notes ORDER BY record_id, note_date, id"))
    keys = pd.MultiIndex.from_tuples([(r["record_id"], r["note_id"]) for r in rows], names=["record_id", "note_key"])
    nts = values[values["note_key"] != ""]
    val = _pivot(nts, ["record_id", "note_key"], "value").reindex(keys) if rows else pd.DataFrame()
    src = _pivot(nts, ["record_id", "note_key"], "source").reindex(keys) if rows and sources else None
    data: dict[str, Any] = {k: [r[k] for r in rows] for k in ("note_id", "record_id", "note_date", "note_type")}
    for f in cb.note_fields:
        applies = [f.applies_to(r["note_type"]) for r in rows]
        cells = _cells(val, f.name, len(rows))
        data[f.name] = _column([c if ok else None for c, ok in zip(cells, applies)], f.type)
        if sources:
            scells = _cells(src, f.name, len(rows)) if src is not None else [None] * len(rows)
            data[f.name + SOURCE_SUFFIX] = [c if ok else None for c, ok in zip(scells, applies)]
    return pd.DataFrame(data)
