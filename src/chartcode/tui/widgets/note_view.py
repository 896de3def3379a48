"""The note viewer: metadata line, full text with cue words and search terms highlighted."""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static


def highlight(
    text: str,
    cues: tuple[str, ...] = (),
    terms: tuple[str, ...] = (),
    cue_style: str = "bold underline",
    term_style: str = "reverse",
) -> Text:
    """``text`` with whole-word, case-insensitive matches of cues and search terms styled."""
    out = Text(text)
    for words, style in ((cues, cue_style), (terms, term_style)):
        words = tuple(w for w in words if w.strip())
        if not words:
            continue
        pattern = re.compile(
            r"(?<!\w)(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\w*", re.IGNORECASE
        )
        for m in pattern.finditer(text):
            out.stylize(style, m.start(), m.end())
    return out


class NoteView(Vertical):
    """Shows one note. The screen sets what to show; this widget only draws it."""

    last_text: Text | None = None  # the highlighted text last shown (for tests and copying)

    def compose(self) -> ComposeResult:
        yield Static("", id="note-meta")
        with VerticalScroll(id="note-body"):
            yield Static("", id="note-text")

    def show_message(self, title: str, message: Text | str) -> None:
        """No note to show: one message in the note's place (e.g. nothing is assigned yet)."""
        self.query_one("#note-meta", Static).update(Text(title, style="bold"))
        self.query_one("#note-text", Static).update(message)

    def show(
        self,
        record_id: str,
        note: dict[str, Any] | None,
        text: str,
        index: int,
        total: int,
        cues: tuple[str, ...] = (),
        terms: tuple[str, ...] = (),
        banner: str | None = None,
    ) -> None:
        meta = self.query_one("#note-meta", Static)
        body = self.query_one("#note-text", Static)
        if note is None:
            meta.update(Text(f"{record_id} · no notes", style="bold"))
            body.update(Text("This record has no notes. Code its fields from other sources.", style="italic"))
            return
        parts = [
            record_id,
            f"note {index + 1} of {total}",
            note.get("note_date") or "no date",
            note.get("note_type") or "",
            note.get("author") or "",
        ]
        line = Text(" · ".join(p for p in parts if p), style="bold")
        if banner:
            line.append(f"   {banner}", style="italic")
        meta.update(line)
        self.last_text = highlight(text, cues, terms)
        body.update(self.last_text)
        self.query_one("#note-body", VerticalScroll).scroll_home(animate=False)

    def scroll_page(self, direction: int) -> None:
        scroller = self.query_one("#note-body", VerticalScroll)
        if direction > 0:
            scroller.scroll_page_down(animate=False)
        else:
            scroller.scroll_page_up(animate=False)
