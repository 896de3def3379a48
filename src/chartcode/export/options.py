"""Check-all-that-apply fields in exports: one 0/1 column per option, ``<field>___<code>``.

REDCap exports a checkbox the same way, and SPSS reads a group of 0/1 variables as a
multiple-dichotomy set (``MRSETS /MDGROUP NAME=$services VARIABLES=services___1 services___2
VALUE=1``): each option column's variable label is "<field label>: <option label>", so the set's
variables say what they are. The stored value (``"1|3"``: chartcode.codebook.types.Checkbox) is
read here, never the other way round.

    1       the option is ticked
    0       the field was coded and the option is not ticked (also when none is ticked: "")
    blank   the field was not coded (no final value): blank in every option column

A field that does not apply to a record (branching logic) is exported as not applicable in every
option column, through the same mapping as any other field (chartcode.export's n/a mapping).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from chartcode.codebook import Codebook, Field
from chartcode.codebook.model import checkbox_codes
from chartcode.codebook.options import option_field, option_fields
from chartcode.codebook.types import option_column

__all__ = ["expand", "option_columns", "option_field", "option_fields", "option_values"]


def option_values(fld: Field, values: pd.Series) -> dict[str, pd.Series]:
    """Column -> 0/1 (Int64; NA where ``values`` has no value) per option of ``fld``, in choice order.

    A value that is not a stored checkbox value (a marker an export writes for "not applicable")
    is given to every option column unchanged, so each column says the same thing.
    """
    cells = values.astype(object).tolist()
    out: dict[str, pd.Series] = {}
    for c in fld.choices:
        code = str(c.code)
        column: list[Any] = []
        for v in cells:
            if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
                column.append(None)
            elif isinstance(v, str):
                column.append(1 if code in checkbox_codes(v) else 0)
            else:
                column.append(v)
        numbers = all(x is None or isinstance(x, int) for x in column)
        series = pd.Series(column, index=values.index, dtype="Float64" if numbers else object)
        out[option_column(fld.name, c.code)] = series.astype("Int64") if numbers else series
    return out


def expand(df: pd.DataFrame, cb: Codebook, *, lower: bool = False) -> pd.DataFrame:
    """``df`` with each checkbox field's column replaced, where it stood, by its option columns
    (its ``__source`` column, if any, stays). ``lower``: option codes lower-cased in the column
    names, as REDCap names them in its data exports and imports (``prereq___abc``)."""
    fields = [f for f in cb.fields if f.kind.multiple and f.name in df.columns]
    if not fields:
        return df
    parts: dict[str, pd.Series] = {}
    by_name = {f.name: f for f in fields}
    for col in df.columns:
        fld = by_name.get(col)
        if fld is None:
            parts[col] = df[col]
            continue
        for name, series in option_values(fld, df[col]).items():
            if lower:
                head, _, code = name.rpartition("___")
                name = f"{head}___{code.lower()}"
            parts[name] = series
    return pd.DataFrame(parts, index=df.index)


def option_columns(fld: Field, *, lower: bool = False) -> list[str]:
    """The export columns of a field: its option columns for a checkbox, else its own name."""
    if not fld.kind.multiple:
        return [fld.name]
    names = list(option_fields(fld))
    if lower:
        names = [f"{n.rpartition('___')[0]}___{n.rpartition('___')[2].lower()}" for n in names]
    return names
