"""File formats for exports: csv, xlsx, sav, dta, json and a REDCap data-import CSV.

Spreadsheet safety: in csv every text cell starting with = + - or @ gets a leading
apostrophe, so a memo such as ``=HYPERLINK(...)`` is never run as a formula. Numbers stay
numbers. In xlsx, text is a text cell holding exactly what was entered (never a formula:
chartcode.export.xlsx). The REDCap import CSV is data for REDCap, written as is.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chartcode.codebook import Codebook
from chartcode.dataset import SOURCE_SUFFIX, distinct
from chartcode.errors import UserError
from chartcode.export.cells import FORMULA_START, safe_cell  # the one formula guard, shared with the CLI
from chartcode.files import atomic_path, atomic_write

STAT_NAME_MAX = 32  # Stata's limit on variable names (SPSS allows 64; one rule for both)
STAT_LABEL_MAX = 80  # Stata's limit on variable labels


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with safe_cell applied to every text column (as object columns).

    safe_cell runs once per distinct value, not per cell: a wide export has millions of cells.
    """
    df = df.copy()
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            df[col] = _safe_column(df[col])
    return df


def _safe_column(series: pd.Series) -> pd.Series:
    if series.dtype != object:  # a string dtype: every value present is a str
        values = series.astype(object).to_numpy(copy=True)
        rows = np.flatnonzero(series.str.startswith(FORMULA_START).fillna(False).to_numpy(dtype=bool))
        values[rows] = ["'" + v for v in values[rows]]
        return pd.Series(values, index=series.index, dtype=object)
    codes, reps = distinct(series)
    safe = [safe_cell(v) for v in reps]
    values = series.astype(object).to_numpy(copy=True)
    changed = np.array([s is not v for s, v in zip(safe, reps, strict=True)] + [False], dtype=bool)
    rows = np.flatnonzero(changed[codes])
    if len(rows):
        values[rows] = np.array(safe, dtype=object)[codes[rows]]
    return pd.Series(values, index=series.index, dtype=object)


def _fail(path: Path, exc: OSError) -> UserError:
    return UserError(f"{path}: cannot write the file ({exc.strerror or exc})")


# ---- csv / xlsx / json ------------------------------------------------------------------


def write_csv(df: pd.DataFrame, path: Path, *, safe: bool = True) -> None:
    try:
        with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
            (neutralise(df) if safe else df).to_csv(fh, index=False)
    except OSError as exc:
        raise _fail(path, exc) from None


def write_xlsx(sheets: dict[str, pd.DataFrame], path: Path) -> None:
    """One sheet per table through XlsxWriter's typed cell API (chartcode.export.xlsx): text stays
    text exactly as entered (no formula guard needed: write_string never makes a formula), a
    frozen bold header with an autofilter, fitted column widths."""
    from xlsxwriter.exceptions import FileCreateError

    from chartcode.export.xlsx import write_workbook

    try:
        with atomic_path(path) as tmp:  # write_workbook moves its finished book onto tmp
            write_workbook(sheets, tmp)
    except FileCreateError as exc:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
        raise _fail(path, cause) from None
    except OSError as exc:
        raise _fail(path, exc) from None


def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: missing values (NaN, NA, None) become null, numpy scalars plain."""
    out = []
    for rec in df.astype(object).to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in rec.items():
            if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                clean[k] = None
            elif hasattr(v, "item"):
                clean[k] = v.item()
            else:
                clean[k] = v
        out.append(clean)
    return out


def write_json(doc: dict[str, Any], path: Path) -> None:
    try:
        with atomic_write(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
    except OSError as exc:
        raise _fail(path, exc) from None


# ---- SPSS / Stata -----------------------------------------------------------------------


def stat_names(columns: list[str]) -> dict[str, str]:
    """Column -> SPSS/Stata name: ``<field>__source`` becomes ``<field>_src``.

    When that is longer than 32 characters or taken, the stable short form is the first 23
    characters of the field name, ``_``, 4 hex characters of sha1(field name), ``_src``.
    """
    taken = {c for c in columns if not c.endswith(SOURCE_SUFFIX)}
    out: dict[str, str] = {}
    for col in columns:
        if not col.endswith(SOURCE_SUFFIX):
            out[col] = col
            continue
        field = col[: -len(SOURCE_SUFFIX)]
        name = field + "_src"
        if len(name) > STAT_NAME_MAX or name in taken:
            name = f"{field[:23]}_{hashlib.sha1(field.encode('utf-8')).hexdigest()[:4]}_src"
        if name in taken:
            raise UserError(f"cannot name the source column of field {field!r} for SPSS/Stata ({name!r} is taken)")
        taken.add(name)
        out[col] = name
    return out


_ID_LABELS = {"record_id": "Record ID", "note_id": "Note ID", "note_date": "Note date", "note_type": "Note type"}


# The label types are those of pyreadstat's write_sav/write_dta signatures (dict is invariant).
StatLabels = dict[str, str | None]
StatValueLabels = dict[str, dict[int | float, str]]


def stat_frame(
    df: pd.DataFrame, cb: Codebook, *, hashed_ids: bool, dates: str | None = None
) -> tuple[pd.DataFrame, StatLabels, StatValueLabels]:
    """(data, variable labels, value labels) ready for pyreadstat. ``dates``: how a de-identified
    export changed its dates (the date columns' labels say so); a de-identified age is top-coded
    as 90 with the value label "90 or older"."""
    from chartcode.export.tables import AGE_TOP, AGE_TOP_CODE, AGE_TOP_LABEL, DATE_LABELS, is_age, is_date

    names = stat_names(list(df.columns))
    data = pd.DataFrame(index=df.index)
    labels: StatLabels = {}
    value_labels: StatValueLabels = {}
    for col in df.columns:
        name = names[col]
        series = df[col]
        fld = cb.get(col)
        top_coded = hashed_ids and fld is not None and is_age(fld)
        if top_coded:
            series = pd.to_numeric(series.astype(object).replace(AGE_TOP, AGE_TOP_CODE), errors="coerce")
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            data[name] = series.astype("float64")
        else:
            data[name] = series.astype(object).where(series.notna(), None)
        suffix = ""
        if col in _ID_LABELS:
            label = _ID_LABELS[col] + (" (salted hash)" if hashed_ids and col in ("record_id", "note_id") else "")
            if dates and col == "note_date":
                suffix = DATE_LABELS[dates]
        elif col.endswith(SOURCE_SUFFIX):
            src = cb.get(col[: -len(SOURCE_SUFFIX)])
            label = f"Source of final value: {src.name if src else col}"
        else:
            label = fld.label if fld else col
            if dates and fld is not None and is_date(fld):
                suffix = DATE_LABELS[dates]
            if (
                fld is not None
                and fld.choices
                and all(isinstance(c.code, int) for c in fld.choices)
                and pd.api.types.is_numeric_dtype(data[name].dtype)
            ):
                value_labels[name] = {int(c.code): c.label for c in fld.choices}
            if top_coded:
                value_labels[name] = {AGE_TOP_CODE: AGE_TOP_LABEL}
        labels[name] = label[: STAT_LABEL_MAX - len(suffix)] + suffix
    return data, labels, value_labels


def write_stat(
    df: pd.DataFrame, cb: Codebook, path: Path, fmt: str, *, hashed_ids: bool, file_label: str, dates: str | None = None
) -> None:
    import pyreadstat

    data, labels, value_labels = stat_frame(df, cb, hashed_ids=hashed_ids, dates=dates)
    writer = pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta
    extra: dict[str, Any] = {}
    if fmt == "sav":  # a scale's "cannot rate" code is a user-missing value in SPSS, as analysts declare it
        names = stat_names(list(df.columns))
        missing = {
            names[f.name]: [int(c) for c in f.missing_codes]
            for f in cb.fields
            if f.missing_codes and f.name in names and names[f.name] in value_labels
        }
        if missing:
            extra["missing_ranges"] = missing
    try:
        with atomic_path(path) as tmp:
            writer(
                data,
                str(tmp),
                file_label=file_label[:STAT_LABEL_MAX],
                column_labels=labels,
                variable_value_labels=value_labels or None,
                **extra,
            )
    except OSError as exc:
        raise _fail(path, exc) from None
    except (pyreadstat.PyreadstatError, pyreadstat.ReadstatError) as exc:
        if not path.parent.is_dir():
            raise UserError(f"{path}: cannot write the file (no such folder)") from None
        raise UserError(f"{path}: cannot write the {fmt} file ({exc})") from None
