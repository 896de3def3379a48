"""The screens' footer: compact, so the help and quit keys fit at 80 columns."""

from __future__ import annotations

from textual.widgets import Footer


def compact_footer() -> Footer:
    """A compact Footer. Set through the ``compact`` reactive (every supported Textual has it),
    not the constructor argument, which the oldest supported Textual (3.4) does not take."""
    footer = Footer()
    footer.compact = True
    return footer
