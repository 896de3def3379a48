"""The screens' footer: compact, so the help and quit keys fit at 80 columns, and rebuilt only when
the keys it shows change.

Textual's Footer rebuilds itself (removes and mounts a widget per key, then a layout pass of the
whole screen and a full repaint) every time the screen's bindings are refreshed, which Textual does
on every focus change. On the coding screen every key that codes moves the cursor and sets the
focus (the screen for a choice field, the entry box for a typed one), so most keys rebuilt a
footer that showed the same keys as before (headless, 100k-note audit: about one rebuild per key).
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """A Footer that rebuilds only when the keys it would show differ from the ones it shows."""

    _shown: tuple[Any, ...] | None = None

    def bindings_changed(self, screen: Screen) -> Any:
        shown = shown_keys(screen)
        if shown == self._shown:  # the same keys, descriptions and states: nothing to redraw
            return None
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # the rebuild Footer does below draws these
        # Textual 3.4's is a coroutine (it awaits the rebuild), later ones schedule it: either way
        # the signal that calls this awaits what it returns
        return super().bindings_changed(screen)


def shown_keys(screen: Screen) -> tuple[Any, ...]:
    """What a Footer on ``screen`` draws: each shown binding's key, action, description, group
    (Textual 3.4's bindings have none), whether it is enabled, and its tooltip."""
    return tuple(
        (binding.key, binding.action, binding.description, getattr(binding, "group", None), enabled, tooltip)
        for (_node, binding, enabled, tooltip) in screen.active_bindings.values()
        if binding.show
    )


def compact_footer() -> Footer:
    """A compact KeysFooter. Set through the ``compact`` reactive (every supported Textual has it),
    not the constructor argument, which the oldest supported Textual (3.4) does not take."""
    footer = KeysFooter()
    footer.compact = True
    return footer
