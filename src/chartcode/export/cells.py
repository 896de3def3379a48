"""The spreadsheet formula guard, apart from pandas so the command line can use it cheaply.

A text cell starting with = + - or @ gets a leading apostrophe, so a memo such as
``=HYPERLINK(...)`` is never run as a formula. Other values are returned unchanged.
"""

from __future__ import annotations

from typing import Any

FORMULA_START = ("=", "+", "-", "@")


def safe_cell(value: Any) -> Any:
    """Neutralise a spreadsheet formula in a text cell; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value
