"""Redrawing a one-line widget's text without a layout pass of the whole screen.

Textual's ``Static.update(content, layout=False)`` (in the Textual releases that have it) refreshes the widget alone;
Textual 3.4, the floor chartcode supports, has no ``layout`` argument and always asks for a layout.
Every widget that may skip the layout calls :func:`update_text`, so that choice lives here once."""

from __future__ import annotations

import inspect

from textual.visual import VisualType
from textual.widgets import Static

TAKES_LAYOUT = "layout" in inspect.signature(Static.update).parameters


def update_text(widget: Static, content: VisualType, *, layout: bool = False) -> None:
    """``widget.update(content)``, without a layout pass where this Textual allows (``layout``: do one)."""
    if TAKES_LAYOUT:
        widget.update(content, layout=layout)
    else:
        widget.update(content)
