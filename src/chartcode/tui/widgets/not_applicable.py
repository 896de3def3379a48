"""How every screen shows a field whose branching logic (``show_if``) is false: dimmed, "n/a".

One look for the coding, rating and reconcile screens: rows add the ``-na`` class (styled in
chartcode.tcss) and draw their value with :func:`na_text`; a key pressed on such a field gets
:func:`na_hint` instead of a code. "Not applicable" is not a value: a code kept on a field that
stopped applying stays stored, and is shown beside the n/a, never as the field's value.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from chartcode.codebook import Field

NA = "n/a"
NA_CLASS = "-na"  # the CSS class a row takes while its field does not apply
NA_STYLE = "dim italic"


def na_text(field: Field, kept: Any = None) -> Text:
    """``n/a``, dimmed; ``n/a (kept 2)`` when a code stays stored on a field that stopped applying."""
    t = Text(NA, style=NA_STYLE)
    if kept is not None:  # the code alone (a row has little room); the panel says what it means
        t.append(f" (kept {kept if field.has_choices else field.kind.display(field, kept)})", style="dim")
    return t


def condition(field: Field) -> str:
    """The field's condition as written in the codebook (REDCap's spelling)."""
    return field.show_if or "its note type"


def na_hint(field: Field) -> str:
    """The one line a key pressed on a field that does not apply gets instead of a code."""
    return f"{field.label}: n/a here (shown only when {condition(field)})"


def na_panel(field: Field, kept: Any = None) -> Text:
    """The focused field that does not apply, in full: why, and what happens to a kept code."""
    t = Text()
    t.append(field.label, style="bold")
    t.append(f"  ({field.name}, {field.type}) · ", style="dim")
    t.append(NA, style="bold")
    t.append("\n\n")
    t.append("Not applicable for this record: ", style="italic")
    t.append(f"shown only when {condition(field)}.\n", style="italic")
    t.append("Nothing to code here; Tab skips it and d does not ask for it.", style="dim")
    if kept is not None:
        t.append(
            f"\n\nA code is kept ({field.kind.display(field, kept)}): it stays stored and counts as n/a. x clears it.",
            style="yellow",
        )
    return t
