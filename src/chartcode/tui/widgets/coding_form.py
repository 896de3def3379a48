"""The coding form: the fields of the current record (and its notes), one focused.

The screen owns the cursor and the values; this widget draws them and posts a message
when a typed value is entered. Choice fields are coded by digit keys (bound on the
screen); numeric, date and text fields take typed input in the entry box.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from chartcode.codebook import Field
from chartcode.coding import RecordView, Slot


def choice_keys(field: Field) -> dict[str, Any]:
    """Key -> code. Single-digit codes are their own keys; otherwise 1..9, 0 by position."""
    codes = [c.code for c in field.choices]
    if all(isinstance(c, int) and 0 <= c <= 9 for c in codes):
        return {str(c): c for c in codes}
    keys = "1234567890"
    return {keys[i]: c for i, c in enumerate(codes[:10])}


def key_for(field: Field, code: Any) -> str:
    for k, c in choice_keys(field).items():
        if c == code:
            return k
    return "?"


class FieldRow(Static):
    """One slot: required mark, label, value; when focused, its choices with their keys."""

    def __init__(self, slot: Slot, **kwargs):
        super().__init__(**kwargs)
        self.slot = slot
        self.value: Any = None
        self.memo: str | None = None
        self.focused = False
        self.pending = False

    def set_state(self, value: Any, memo: str | None, focused: bool, pending: bool = False) -> None:
        self.value, self.memo, self.focused, self.pending = value, memo, focused, pending
        self.set_class(focused, "-focused")
        self.set_class(value is None and self.slot.field.required, "-missing")
        self.update(self._render_text())

    def _render_text(self) -> Text:
        f = self.slot.field
        t = Text()
        t.append("▶ " if self.focused else "  ")
        t.append("* " if f.required else "  ", style="bold red" if f.required and self.value is None else "dim")
        t.append(f.label, style="bold" if self.focused else "")
        if self.value is None:
            t.append("  —", style="dim")
        else:
            shown = f"{key_for(f, self.value)} {f.label_for(self.value)}" if f.has_choices else str(self.value)
            t.append(f"  = {shown}", style="bold green")
        if self.memo:
            t.append("  ✎", style="yellow")
        if self.pending:
            t.append("  …", style="dim")
        if self.focused:
            if f.has_choices:
                for key, code in choice_keys(f).items():
                    mark = "●" if code == self.value else " "
                    t.append(f"\n     {mark} [{key}] {f.choice(code).label}")
            else:
                hint = {"count": "a whole number", "numeric": "a number", "date": "a date YYYY-MM-DD",
                        "text": "text"}[f.type]
                rng = ""
                if f.min is not None or f.max is not None:
                    rng = f" ({'' if f.min is None else _n(f.min)}–{'' if f.max is None else _n(f.max)})"
                t.append(f"\n       type {hint}{rng}, Enter to save", style="italic")
        return t


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class CodingForm(Vertical):
    class Entered(Message):
        """A typed value was entered for the focused slot."""

        def __init__(self, raw: str) -> None:
            super().__init__()
            self.raw = raw

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rows: list[FieldRow] = []
        self._record: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="form-title")
        yield VerticalScroll(id="form-rows")
        yield Input(id="form-entry", placeholder="value, then Enter")
        yield Static("", id="form-error")
        with VerticalScroll(id="rules"):
            yield Static("", id="rules-text")

    def show(self, view: RecordView, cursor: int, pending: set[tuple[str | None, str]] | None = None) -> None:
        """Draw the record's slots; rebuild the rows only when the record or its slots change."""
        pending = pending or set()
        container = self.query_one("#form-rows", VerticalScroll)
        if self._record != view.record_id or len(self.rows) != len(view.slots):
            container.remove_children()
            self.rows = []
            widgets: list[Static] = []
            last_group: object = object()
            for i, slot in enumerate(view.slots):
                group = slot.note_id
                if group != last_group:
                    widgets.append(Static(self._group_title(view, slot), classes="form-group"))
                    last_group = group
                row = FieldRow(slot, classes="field-row")
                self.rows.append(row)
                widgets.append(row)
            container.mount_all(widgets)
            self._record = view.record_id
        for i, (row, slot) in enumerate(zip(self.rows, view.slots)):
            row.set_state(view.values.get(slot.key), view.memos.get(slot.key), i == cursor, slot.key in pending)
        self.update_title(view)
        self.focus_slot(view, cursor)

    def _group_title(self, view: RecordView, slot: Slot) -> Text:
        if slot.note_id is None:
            return Text(f"Record {view.record_id}", style="bold reverse")
        note = view.notes[view.note_index[slot.note_id]]
        parts = [f"Note {view.note_index[slot.note_id] + 1}", note.get("note_date") or "", note.get("note_type") or ""]
        return Text(" · ".join(p for p in parts if p), style="bold reverse")

    def update_title(self, view: RecordView) -> None:
        missing = len(view.missing())
        status = {"done": "done ✓", "in_progress": "in progress", "not_started": "not started"}[view.status]
        title = Text(f"{view.coded()}/{len(view.slots)} coded", style="bold")
        if missing:
            title.append(f" · {missing} required empty", style="red")
        title.append(f" · {status}")
        if view.flagged:
            title.append(" · ⚑ flagged", style="yellow")
        self.query_one("#form-title", Static).update(title)

    def focus_slot(self, view: RecordView, cursor: int) -> None:
        if not self.rows or not 0 <= cursor < len(self.rows):
            self.query_one("#rules-text", Static).update("")
            self.show_entry(None, None)
            return
        row = self.rows[cursor]
        self.query_one("#form-rows", VerticalScroll).scroll_to_widget(row, animate=False)
        f = row.slot.field
        rules = Text(f"{f.label}", style="bold")
        rules.append(f"  ({f.name}, {f.type}{', required' if f.required else ''})\n", style="dim")
        rules.append(f.rules or "No decision rules written for this field.")
        memo = view.memos.get(row.slot.key)
        if memo:
            rules.append(f"\nYour memo: {memo}", style="yellow")
        self.query_one("#rules-text", Static).update(rules)
        self.show_entry(f, view.values.get(row.slot.key))

    def show_entry(self, field: Field | None, value: Any) -> None:
        entry = self.query_one("#form-entry", Input)
        typed = field is not None and not field.has_choices
        entry.display = typed
        self.show_error("")
        if typed:
            entry.value = "" if value is None else str(value)
            entry.placeholder = f"{field.label}: type, then Enter"

    def show_error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(Text(message, style="bold red") if message else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "form-entry":
            event.stop()
            self.post_message(self.Entered(event.value))
