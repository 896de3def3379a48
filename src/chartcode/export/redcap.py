"""The REDCap data-import CSV: one row per record, and note-level fields as a repeating instrument.

A REDCap project has one row per record for its ordinary instruments; a note-level field has one
value per chart note, which REDCap holds in a *repeating instrument*: one row per note with
``redcap_repeat_instrument`` (the instrument's name) and ``redcap_repeat_instance`` (1, 2, ...
per record, in the order of the notes: by date, then note id). The dictionary that
chartcode.codebook.redcap.codebook_to_redcap writes puts note-level fields on their own
instrument, so the two files fit; REDCap's project setup must mark that instrument as
repeating (a data dictionary cannot say so; the README tells how).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from chartcode.codebook import Codebook, Field
from chartcode.codebook.redcap import note_forms, record_id_name

REPEAT_INSTRUMENT = "redcap_repeat_instrument"
REPEAT_INSTANCE = "redcap_repeat_instance"


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    """Every column as Python values with blanks for missing (no 1.0 for a code 1)."""
    out = df.astype(object)
    return out.where(df.notna(), "")


def _columns(f: Field) -> list[str]:
    """A field's data-import columns: a checkbox's ``<field>___<code>`` per option (codes lower-cased,
    as REDCap names them), any other field's own name."""
    from chartcode.export.options import option_columns

    return option_columns(f, lower=True)


def redcap_frame(records: pd.DataFrame, notes: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """The import table: ``records`` (record_id + record-level fields) and, when the codebook has
    note-level fields, one row per coded note and instrument (``notes``: note_id, record_id,
    note_date, note_type + note-level fields)."""
    rid = record_id_name(codebook)
    forms = {  # only the columns the notes table has: --deidentify leaves identifiers and free text out
        form: names
        for form, fields in note_forms(codebook).items()
        if (names := [c for f in fields for c in _columns(f) if c in notes.columns])
    }
    base = _cells(records).rename(columns={"record_id": rid})
    if not forms:
        return base
    note_cols = [n for names in forms.values() for n in names]
    columns = [rid, REPEAT_INSTRUMENT, REPEAT_INSTANCE, *base.columns[1:], *note_cols]
    rows: list[dict[str, Any]] = [
        dict(r, **{REPEAT_INSTRUMENT: "", REPEAT_INSTANCE: ""}) for r in base.to_dict("records")
    ]
    ordered = _cells(notes.sort_values(["record_id", "note_date", "note_id"], kind="stable", na_position="last"))
    for form, names in forms.items():
        instance: dict[Any, int] = {}
        for note in ordered.to_dict("records"):
            values = {n: note[n] for n in names}
            if all(v == "" for v in values.values()):  # not coded, or no field of this instrument applies
                continue
            instance[note["record_id"]] = instance.get(note["record_id"], 0) + 1
            rows.append(
                {
                    rid: note["record_id"],
                    REPEAT_INSTRUMENT: form,
                    REPEAT_INSTANCE: instance[note["record_id"]],
                    **values,
                }
            )
    return pd.DataFrame(rows, columns=columns, dtype=object).fillna("")
