"""File formats for exports: csv, xlsx, sav, dta, json and a REDCap data-import CSV.

Spreadsheet safety: in csv every text cell starting with = + - or @ gets a leading
apostrophe, so a memo such as ``=HYPERLINK(...)`` is never run as a formula. Numbers stay
numbers. In xlsx, text is a text cell holding exactly what was entered (never a formula:
chartcode.export.xlsx). The REDCap import CSV is data for REDCap, written as is.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from chartcode.codebook import Codebook, Field
from chartcode.codebook.types import YEAR_FORMATS, field_type
from chartcode.dataset import SOURCE_SUFFIX, distinct
from chartcode.errors import UserError
from chartcode.export.cells import FORMULA_START, safe_cell  # the one formula guard, shared with the CLI
from chartcode.files import atomic_path, atomic_write

if TYPE_CHECKING:
    from chartcode.export.xlsx import Table

STAT_NAME_MAX = 32  # Stata's limit on variable names (SPSS allows 64; one rule for both)
STAT_LABEL_MAX = 80  # Stata's limit on variable labels
SPSS_NAME_MAX = 64


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
    if series.dtype != object:  # a string dtype: every value present is a str, tested once per distinct one
        values = series.astype(object).to_numpy(copy=True)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        starts = np.array([u.startswith(FORMULA_START) for u in uniques] + [False], dtype=bool)
        rows = np.flatnonzero(starts[codes])
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


CSV_BLOCK_ROWS = 20_000  # rows guarded and written at a time: no second copy of the whole table


def write_csv(df: pd.DataFrame, path: Path, *, safe: bool = True) -> None:
    """``df`` as CSV, block by block of rows (each formatted by its column's dtype, as one call would)."""
    try:
        with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
            csv_rows(df, fh, header=True, safe=safe)
    except OSError as exc:
        raise _fail(path, exc) from None


def csv_rows(df: pd.DataFrame, fh: Any, *, header: bool, safe: bool = True) -> None:
    """``df``'s rows (after the header line, when ``header``) onto the open text file ``fh``, block by
    block: the rows of several frames of the same columns and dtypes, written one after another,
    are the file one call on their concatenation writes."""
    for start in range(0, max(len(df), 1), CSV_BLOCK_ROWS):
        block = df.iloc[start : start + CSV_BLOCK_ROWS]
        (neutralise(block) if safe else block).to_csv(fh, index=False, header=header and start == 0)


def write_xlsx(sheets: Mapping[str, Table], path: Path) -> None:
    """One sheet per table through XlsxWriter's typed cell API (chartcode.export.xlsx): text stays
    text exactly as entered (no formula guard needed: write_string never makes a formula), a
    frozen bold header with an autofilter, fitted column widths. A table may be a function that
    makes it, called when its sheet's turn comes (chartcode.export.xlsx.write_workbook)."""
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
STATA_MISSING = "abcdefghijklmnopqrstuvwxyz"  # Stata's extended missing values .a .. .z
SPSS_MISSING_MAX = 3  # SPSS: at most three discrete user-missing values (or a range and one value)

# "Not applicable": a field whose show_if is false on the final values (chartcode.applicability) is a
# missing value of its own, never 0 and never the code a coder left there. The one mapping, per format:
#   csv / xlsx / json   empty cell (null), and the field's ``__source`` column says "not_applicable"
#   SPSS (.sav)         the first of SPSS_NOT_APPLICABLE that is neither a choice code nor a value of the
#                       column, declared user-missing and labelled "not applicable" (numeric columns;
#                       text and date columns: blank, with <field>_src = not_applicable)
#   Stata (.dta)        extended missing value .n labelled "not applicable" (numeric columns; as SPSS)
#   REDCap              blank (chartcode.export.redcap)
NOT_APPLICABLE_LABEL = "not applicable"
SPSS_NOT_APPLICABLE = (-8, -88, -888, -8888, -88888, -888888)
STATA_NOT_APPLICABLE = "n"


@dataclass
class StatFrame:
    """A table ready for pyreadstat's write_sav / write_dta, every variable described by its field
    type (chartcode.codebook.types: measure, format, date or not)."""

    data: pd.DataFrame
    labels: StatLabels
    value_labels: StatValueLabels
    formats: dict[str, str] = dc_field(default_factory=dict)
    measures: dict[str, str] = dc_field(default_factory=dict)  # SPSS only
    missing_ranges: dict[str, list[Any]] = dc_field(default_factory=dict)  # SPSS user-missing codes
    missing_user_values: dict[str, list[str]] = dc_field(default_factory=dict)  # Stata .a, .b ...


def _as_dates(series: pd.Series) -> pd.Series | None:
    """ISO dates (or date-times) as date (datetime) objects for a date variable; None when a present
    value does not read as one, or carries a UTC offset (SPSS and Stata dates have no time zone), or
    no value is present: the column then stays text, as written in the database."""
    values = [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v for v in series]
    parsed: list[dt.date | None] = []
    timed = False
    for v in values:
        if v is None:
            parsed.append(None)
            continue
        if isinstance(v, dt.date):
            when: dt.date = v
        else:
            text = str(v).strip()
            try:
                when = dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            except ValueError:
                return None
        if isinstance(when, dt.datetime):
            if when.tzinfo is not None:
                return None
            timed = True
        parsed.append(when)
    if all(d is None for d in parsed):  # nothing to read as a date: pyreadstat cannot type the column
        return None
    if timed:  # a date-time anywhere: every value a date-time (a plain date at midnight), as datetime64,
        # which every pyreadstat release writes as a date-time (DATETIME, %tc)
        return pd.Series(pd.to_datetime(pd.Series(parsed, dtype=object)).to_numpy(), index=series.index)
    return pd.Series(parsed, index=series.index, dtype=object)


def _spss_missing(codes: list[int], valid: list[int]) -> list[Any] | None:
    """missing_ranges for one variable: the codes themselves (up to three), else one range holding
    them and no valid code; None when SPSS cannot say it."""
    if len(codes) <= SPSS_MISSING_MAX:
        return [float(c) for c in codes]
    lo, hi = min(codes), max(codes)
    if any(lo <= v <= hi for v in valid):
        return None
    return [{"lo": float(lo), "hi": float(hi)}]


def stat_frame(
    df: pd.DataFrame,
    cb: Codebook,
    *,
    hashed_ids: bool,
    dates: str | None = None,
    fmt: str = "sav",
    columns: dict[str, Field] | None = None,
) -> StatFrame:
    """Data, labels, formats, measures and missing values for pyreadstat (``fmt``: sav or dta).

    Each column is described by its field: the codebook's, or ``columns`` for the columns an export
    adds (derived variables, fidelity scores), whose type declares the measure and format. Codes a
    field declares missing (a scale's "cannot rate", ``missing: [9]``) are user-missing values in
    SPSS and extended missing values (.a, .b ...) with their labels in Stata, so both programs leave
    them out of statistics. ``dates``: how a de-identified export changed its dates (the date
    columns' labels say so; "year" exports years as whole numbers); a de-identified age is
    top-coded as 90 with the value label "90 or older".
    """
    from chartcode.export.tables import AGE_TOP, AGE_TOP_CODE, AGE_TOP_LABEL, DATE_LABELS, is_age

    columns = columns or {}
    names = stat_names(list(df.columns))
    out = StatFrame(pd.DataFrame(index=df.index), {}, {})
    longest = STAT_NAME_MAX if fmt == "dta" else SPSS_NAME_MAX
    for col in df.columns:
        name = names[col]
        if len(name) > longest:  # a derived variable's name (codebook fields have at most 32 characters)
            raise UserError(
                f"column {name!r} has {len(name)} characters; {'Stata' if fmt == 'dta' else 'SPSS'} takes at most"
                f" {longest} (rename the derived variable in the audit file)"
            )
        series = df[col]
        fld = columns.get(col) or cb.get(col) or _option_field(cb, col)
        kind = field_type("date") if col == "note_date" else fld.kind if fld is not None else None
        top_coded = hashed_ids and fld is not None and is_age(fld)
        if top_coded:
            series = pd.to_numeric(series.astype(object).replace(AGE_TOP, AGE_TOP_CODE), errors="coerce")
        dated = kind is not None and kind.stat_date
        as_dates = _as_dates(series) if dated and dates != "year" else None
        numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
        if as_dates is not None:
            out.data[name] = as_dates
        elif numeric or len(series) == 0:  # no rows (a scale's notes): pyreadstat 1.2 cannot type an empty text column
            out.data[name] = series.astype("float64")
        else:
            out.data[name] = series.astype(object).where(series.notna(), None)
        # the measurement level and format the field's type declares
        spec: str | None = None
        if kind is None:
            out.measures[name] = "scale" if numeric else "nominal"
        elif dated:
            out.measures[name] = kind.spss_measure if as_dates is not None or numeric else "nominal"
            if numeric:  # --dates year: whole years
                spec = YEAR_FORMATS[fmt]
            elif as_dates is not None and as_dates.dtype == object:  # dates (date-times are datetime64)
                spec = kind.spss_format(fld) if fmt == "sav" else kind.stata_format(fld)  # type: ignore[arg-type]
            # date-times keep pyreadstat's DATETIME / %tc
        else:
            out.measures[name] = kind.spss_measure if numeric else "nominal"
            if numeric and fld is not None:
                spec = kind.spss_format(fld) if fmt == "sav" else kind.stata_format(fld)
        if spec:
            out.formats[name] = spec
        if fmt == "dta" and out.data[name].dtype == object and as_dates is None:
            # text shown as wide as its longest value (pyreadstat stores it so; SPSS's A<width> is that already)
            widest = max((len(str(v).encode("utf-8")) for v in out.data[name] if v is not None), default=1)
            out.formats[name] = f"%-{min(widest, 2045)}s"
        # labels
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
            if dates and dated:
                suffix = DATE_LABELS[dates]
            if (
                fld is not None
                and fld.choices
                and all(isinstance(c.code, int) for c in fld.choices)
                and pd.api.types.is_numeric_dtype(out.data[name].dtype)
            ):
                out.value_labels[name] = {int(c.code): c.label for c in fld.choices}
                _missing_codes(out, name, fld, fmt)
            if top_coded:
                out.value_labels[name] = {AGE_TOP_CODE: AGE_TOP_LABEL}
            source = _source_column(cb, col)  # a checkbox option's n/a is its field's
            if numeric and fld is not None and fld.show_if and source in df.columns:
                _not_applicable(out, name, fld, df[source], fmt)
        out.labels[name] = label[: STAT_LABEL_MAX - len(suffix)] + suffix
    return out


def spss_not_applicable_code(fld: Field, values: pd.Series) -> int:
    """The SPSS code of "not applicable" for one field: the first of SPSS_NOT_APPLICABLE that is not
    one of its choice codes and not a value in the column."""
    taken = {c.code for c in fld.choices} | {v for v in values.dropna().tolist()}
    for code in SPSS_NOT_APPLICABLE:
        if code not in taken and float(code) not in taken:
            return code
    raise UserError(f"field {fld.name!r}: every code chartcode uses for 'not applicable' is taken by a value")


def _not_applicable(out: StatFrame, name: str, fld: Field, sources: pd.Series, fmt: str) -> None:
    """A conditional field's n/a cells (its source column says ``not_applicable``) as the format's
    declared missing value (see SPSS_NOT_APPLICABLE / STATA_NOT_APPLICABLE above)."""
    from chartcode.applicability import NOT_APPLICABLE

    column = out.data[name]  # numbers (Stata: with letters for the declared missing codes)
    mask = (sources.astype(object) == NOT_APPLICABLE).to_numpy(dtype=bool)
    labels: dict[Any, str] = dict(out.value_labels.get(name, {}))
    if fmt == "sav":
        code = spss_not_applicable_code(fld, column)
        out.data[name] = column.mask(mask, float(code))
        labels[code] = NOT_APPLICABLE_LABEL
        out.value_labels[name] = labels
        out.missing_ranges[name] = _with_spss_code(out.missing_ranges.get(name, []), float(code), fld)
        return
    out.data[name] = column.astype(object).mask(mask, STATA_NOT_APPLICABLE)
    labels[STATA_NOT_APPLICABLE] = NOT_APPLICABLE_LABEL
    out.value_labels[name] = labels
    out.missing_user_values[name] = [*out.missing_user_values.get(name, []), STATA_NOT_APPLICABLE]


def _with_spss_code(spec: list[Any], code: float, fld: Field) -> list[Any]:
    """SPSS missing values ``spec`` plus the discrete ``code`` (three discrete values, or a range and one)."""
    ranges = [r for r in spec if isinstance(r, dict)]
    discrete = [v for v in spec if not isinstance(v, dict)]
    if len(discrete) < SPSS_MISSING_MAX and not ranges:
        return [*discrete, code]
    if ranges and not discrete:
        return [*ranges, code]
    valid = [int(c) for c in fld.rating_codes if isinstance(c, int)]
    lo, hi = min(discrete, default=code), max(discrete, default=code)
    if ranges or any(lo <= v <= hi for v in valid):
        raise UserError(
            f"field {fld.name!r}: its missing codes and 'not applicable' are more user-missing values than SPSS"
            " takes (three, or a range and one); export dta, or declare fewer missing codes"
        )
    return [{"lo": lo, "hi": hi}, code]


def _source_column(cb: Codebook, col: str) -> str:
    """The ``__source`` column that says where ``col``'s value came from (a checkbox option's 0/1
    column: its field's)."""
    opt = _option_field(cb, col)
    return (col.rpartition("___")[0] if opt is not None else col) + SOURCE_SUFFIX


def _option_field(cb: Codebook, col: str) -> Field | None:
    """A checkbox option's 0/1 column (``<field>___<code>``) described as a binary field."""
    from chartcode.export.options import option_field

    return option_field(cb, col)


def _missing_codes(out: StatFrame, name: str, fld: Field, fmt: str) -> None:
    """Declare the field's missing codes: SPSS user-missing values, or Stata extended missing values
    (each code becomes .a, .b ... in the data, its label moving with it)."""
    codes = [int(c) for c in fld.missing_codes if isinstance(c, int)]
    if not codes:
        return
    if fmt == "sav":
        spec = _spss_missing(codes, [int(c) for c in fld.rating_codes if isinstance(c, int)])
        if spec is None:
            raise UserError(
                f"field {fld.name!r} declares {len(codes)} missing codes; SPSS takes at most {SPSS_MISSING_MAX},"
                " or one range of them holding no valid code (export dta, or declare fewer)"
            )
        out.missing_ranges[name] = spec
        return
    if len(codes) > len(STATA_MISSING):
        raise UserError(f"field {fld.name!r}: Stata has {len(STATA_MISSING)} extended missing values, not {len(codes)}")
    letters = dict(
        zip(codes, STATA_MISSING.replace(STATA_NOT_APPLICABLE, "") if fld.show_if else STATA_MISSING, strict=False)
    )
    column = out.data[name].astype(object)
    for code, letter in letters.items():
        column = column.mask(column == float(code), letter)
    out.data[name] = column
    labels: dict[Any, str] = dict(out.value_labels[name])
    for code, letter in letters.items():
        labels[letter] = labels.pop(code, fld.label_for(code))
    out.value_labels[name] = labels
    out.missing_user_values[name] = list(letters.values())


def _pyreadstat_error() -> type[Exception]:
    """pyreadstat's own error class (``PyreadstatError`` from 1.2.x on; older releases raise only
    ``ReadstatError``, so its name stands in for both)."""
    import pyreadstat

    return getattr(pyreadstat, "PyreadstatError", pyreadstat.ReadstatError)


def write_stat(
    df: pd.DataFrame,
    cb: Codebook,
    path: Path,
    fmt: str,
    *,
    hashed_ids: bool,
    file_label: str,
    dates: str | None = None,
    columns: dict[str, Field] | None = None,
) -> None:
    """``df`` as an SPSS (.sav) or Stata (.dta) file through pyreadstat; see :func:`stat_frame`."""
    import pyreadstat

    _PyreadstatError = _pyreadstat_error()
    try:
        frame = stat_frame(df, cb, hashed_ids=hashed_ids, dates=dates, fmt=fmt, columns=columns)
    except UserError as exc:  # missing codes the format cannot declare: nothing written
        raise UserError(f"{path}: {exc.message}") from None
    extra: dict[str, Any] = {"variable_format": frame.formats or None}
    writer: Callable[..., None]
    if fmt == "sav":
        writer = pyreadstat.write_sav
        extra |= {
            "missing_ranges": frame.missing_ranges or None,
            "variable_measure": frame.measures or None,
        }
    else:
        writer = pyreadstat.write_dta
        extra["missing_user_values"] = frame.missing_user_values or None
    try:
        with atomic_path(path) as tmp:
            writer(
                frame.data,
                str(tmp),
                file_label=file_label[:STAT_LABEL_MAX],
                column_labels=frame.labels,
                variable_value_labels=frame.value_labels or None,
                **extra,
            )
    except OSError as exc:
        raise _fail(path, exc) from None
    except (_PyreadstatError, pyreadstat.ReadstatError) as exc:
        if not path.parent.is_dir():
            raise UserError(f"{path}: cannot write the file (no such folder)") from None
        raise UserError(f"{path}: cannot write the {fmt} file ({exc})") from None
