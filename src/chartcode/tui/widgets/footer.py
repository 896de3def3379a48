"""The screens' footer: compact, so the help and quit keys fit at 80 columns, rebuilt only when the
keys it shows change, and then only once the coder has paused.

Textual's Footer rebuilds itself (removes and mounts a widget per key, then a layout pass of the
whole screen and a full repaint) every time the screen's bindings are refreshed, which Textual does
on every focus change. On the coding screen every key that codes moves the cursor and sets the
focus (the screen for a choice field, the entry box for a typed one), so most keys rebuilt a
footer that showed the same keys as before (headless, 100k-note audit: about one rebuild per key).

Where the keys do change (a choice field, then a typed one, then a choice field: twice a record)
the rebuild is the costliest redraw a key causes (traced in tmux on a busy machine: 40-90 ms of
layout, during which the next key waited). The footer is help text, not the field being coded: it is
rebuilt once the keys have paused REBUILD_AFTER_PAUSE_S, not in the middle of typing. Its first
build (a screen opening) is never put off.
"""

from __future__ import annotations

import inspect
from typing import Any

from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

REBUILD_AFTER_PAUSE_S = 0.5


def typing(app: Any) -> bool:
    """A key came in less than REBUILD_AFTER_PAUSE_S ago (the app's key router, tui/key_order.py,
    says when; an app without one is never typing)."""
    since = getattr(getattr(app, "keys", None), "since_last_key", lambda: None)()
    return since is not None and since < REBUILD_AFTER_PAUSE_S


class KeysFooter(Footer):
    """A Footer that rebuilds only when the keys it would show differ from the ones it shows, and
    only once the keys have paused."""

    _shown: tuple[Any, ...] | None = None
    _later: Timer | None = None

    def bindings_changed(self, screen: Screen) -> Any:
        shown = shown_keys(screen)
        if shown == self._shown:  # the same keys, descriptions and states: nothing to redraw
            self._cancel_later()
            return None
        if self._shown is not None and typing(self.app):
            self._rebuild_later()
            return None
        return self._rebuild(screen, shown)

    def _rebuild(self, screen: Screen, shown: tuple[Any, ...]) -> Any:
        self._cancel_later()
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = shown  # the rebuild Footer does below draws these
        # Textual 3.4's is a coroutine (it awaits the rebuild), later ones schedule it: either way
        # the signal that calls this awaits what it returns
        return super().bindings_changed(screen)

    def _rebuild_later(self) -> None:
        if self._later is None:
            self._later = self.set_timer(REBUILD_AFTER_PAUSE_S, self._when_paused, name="footer-rebuild")
        else:
            self._later.reset()

    def _cancel_later(self) -> None:
        if self._later is not None:
            self._later.stop()
            self._later = None

    async def _when_paused(self) -> None:
        self._later = None
        if not self.is_attached:
            return
        if typing(self.app):  # keys came since: wait for the pause
            self._rebuild_later()
            return
        screen = self.screen
        shown = shown_keys(screen)
        if shown != self._shown:
            result = self._rebuild(screen, shown)
            if inspect.isawaitable(result):
                await result


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
