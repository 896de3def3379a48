"""One line at the top: audit, coder, records done / assigned, time this session, save state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from chartcode.tui.widgets.redraw import update_text


class ProgressHeader(Static):
    def __init__(self, title: str, coder: str, noun: str = "done", **kwargs):
        super().__init__("", **kwargs)
        self.noun = noun
        self.audit_title = title
        self.coder = coder
        self.done = 0
        self.assigned = 0
        self.elapsed = 0
        self.saved = ""
        self._shown: Text | None = None

    def set_progress(self, done: int, assigned: int) -> None:
        self.done, self.assigned = done, assigned
        self._draw()

    def set_elapsed(self, seconds: int) -> None:
        self.elapsed = seconds
        self._draw()

    def set_saved(self, text: str) -> None:
        self.saved = text
        self._draw()

    def _draw(self) -> None:
        h, rem = divmod(self.elapsed, 3600)
        m, s = divmod(rem, 60)
        t = Text(" chartcode ", style="bold reverse")
        t.append(f" {self.coder} · {self.done}/{self.assigned} {self.noun} · {h:02d}:{m:02d}:{s:02d}", style="bold")
        if self.saved:
            t.append(f" · {self.saved}", style="bold green" if self.saved.startswith("✓") else "bold yellow")
        t.append(f" · {self.audit_title}", style="dim")
        t.no_wrap = True
        t.overflow = "ellipsis"
        # Redrawn only when its text changes: every save sets "✓ saved" again, and a redraw of the
        # top line makes the repaint after a key span the whole screen down to the form's rows.
        if t != self._shown:
            self._shown = t
            update_text(self, t)  # one line (#header), redrawn every second: never a layout pass
