"""The spreadsheet formula guard, apart from pandas so the command line can use it cheaply.

A text cell starting with = + - @, a tab or a carriage return (the characters a spreadsheet
reads as the start of a formula: OWASP "CSV Injection") gets a leading apostrophe, so a memo
such as ``=HYPERLINK(...)`` is never run as a formula. Other values (numbers included) are
returned unchanged. Every CSV chartcode writes for people goes through this one guard:
``export --format csv`` and the CSV of ``codes`` and ``final``. Raw values, exactly as entered,
are in the JSON outputs and the SPSS/Stata exports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralise a spreadsheet formula in a text cell; other values unchanged."""
    if starts_formula(value):
        return "'" + value
    return value


def starts_formula(value: Any) -> bool:
    """Whether ``value`` is text a spreadsheet would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def safe_row(values: Iterable[Any]) -> list[Any]:
    """One CSV row through the guard: text cells neutralised, None empty, numbers unchanged."""
    return ["" if v is None else safe_cell(v) for v in values]
