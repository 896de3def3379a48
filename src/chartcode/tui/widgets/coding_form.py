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
from chartcode.codebook.text import paragraphs
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
    """One slot on one line: pointer, required mark, value, label. Fixed height, so redrawing
    a row never relayouts the form."""

    def __init__(self, slot: Slot, **kwargs):
        super().__init__(**kwargs)
        self.slot = slot
        self.value: Any = None
        self.memo: str | None = None
        self.focused = False
        self.pending = False
        self._state: tuple | None = None

    def set_state(self, value: Any, memo: str | None, focused: bool, pending: bool = False) -> bool:
        """Redraw only when something shown changed; True if it did."""
        state = (value, memo, focused, pending)
        if state == self._state:
            return False
        self._state = state
        self.value, self.memo, self.focused, self.pending = value, memo, focused, pending
        self.set_class(focused, "-focused")
        self.set_class(value is None and self.slot.field.required, "-missing")
        self.update(self._render_text())
        return True

    def on_resize(self) -> None:
        if self._state is not None:  # the row's columns follow its width
            self.update(self._render_text())

    def _render_text(self, width: int | None = None) -> Text:
        """``▶* ✎ Field label       3 Assessment plus interv…``: the field's label on the left half,
        the value with what it means (the chosen choice's label) on the right, each cut to fit."""
        f = self.slot.field
        width = width or self.size.width or 46
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("▶" if self.focused else " ")
        t.append("*" if f.required else " ", style="bold red" if f.required and self.value is None else "dim")
        t.append("✎" if self.memo else " ", style="yellow")
        t.append("…" if self.pending else " ", style="dim")
        label_width = max(8, (width - 5) // 2)
        t.append(fit(f.label, label_width).ljust(label_width), style="bold" if self.focused else "")
        t.append(" ")
        t.append_text(value_text(f, self.value, max(4, width - 5 - label_width)))
        return t


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, with an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(0, width - 1)].rstrip() + "…"


def value_text(field: Field, value: Any, width: int) -> Text:
    """A value as a coder reads it: ``3 Assessment plus intervention`` for a choice (the code, then
    the label it stands for), the value itself for numbers, dates and text; cut to ``width``."""
    if value is None:
        return Text("—", style="dim")
    choice = field.choice(value) if field.has_choices else None
    if choice is None:
        return Text(fit(field.kind.display(field, value), width), style="bold green")
    code = str(value)
    t = Text(fit(code, width), style="bold green")
    if choice.label and choice.label != code and len(code) + 2 <= width:
        t.append(" " + fit(choice.label, width - len(code) - 1))
    return t


def changed_elsewhere(field: Field, current: Any) -> str:
    """What a refused stale change says: the value the database holds now (a code, never note text)."""
    shown = "empty" if current is None else value_text(field, current, 60).plain
    return f"{field.label}: changed elsewhere: now {shown}. Not saved over it; code it again to change it."


def field_panel(field: Field, value: Any, memo: str | None) -> Text:
    """The focused field in full: its choices with their keys, the decision rules, the memo."""
    t = Text()
    f = field
    t.append(f.label, style="bold")
    t.append(f"  ({f.name}, {f.type}{', required' if f.required else ''})\n", style="dim")
    if f.has_choices:
        for key, code in choice_keys(f).items():
            chosen = code == value
            t.append(f" {'●' if chosen else ' '} [{key}] ", style="bold green" if chosen else "bold cyan")
            c = f.choice(code)
            assert c is not None  # choice_keys keys the field's own codes
            t.append(f"{c.label}\n", style="bold" if chosen else "")
    else:
        hint = f.kind.entry_hint or "a value"
        rng = ""
        if f.min is not None or f.max is not None:
            rng = f" ({'' if f.min is None else _n(f.min)}–{'' if f.max is None else _n(f.max)})"
        t.append(f" type {hint}{rng}, then Enter\n", style="italic")
    t.append("\n")
    t.append(paragraphs(f.rules) if f.rules else "No decision rules written for this field.")
    if memo:
        t.append(f"\nYour memo: {memo}", style="yellow")
    return t


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class FieldRows(VerticalScroll):
    """The field rows; when the box changes height (a terminal resized, the short layout applied
    after the first draw) the focused row is scrolled back into view."""

    def on_resize(self) -> None:
        focused = [row for row in self.query(FieldRow) if row.focused]
        if focused:
            self.call_after_refresh(self.scroll_to_widget, focused[0], animate=False)


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
        self._focused_row: int | None = None
        self._title: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="form-title")
        yield FieldRows(id="form-rows")
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
            for slot in view.slots:
                group = slot.note_id
                if group != last_group:
                    widgets.append(Static(self._group_title(view, slot), classes="form-group"))
                    last_group = group
                row = FieldRow(slot, classes="field-row")
                self.rows.append(row)
                widgets.append(row)
            container.scroll_home(animate=False)  # a new record starts at its own top, not the last one's
            container.mount_all(widgets)
            self._record = view.record_id
            self._focused_row = None
        focused_changed = False
        for i, (row, slot) in enumerate(zip(self.rows, view.slots, strict=True)):
            changed = row.set_state(
                view.values.get(slot.key), view.memos.get(slot.key), i == cursor, slot.key in pending
            )
            focused_changed |= changed and i == cursor
        self.update_title(view)
        if cursor != self._focused_row:
            self._focused_row = cursor
            self.focus_slot(view, cursor)
        elif focused_changed:
            self._draw_panel(view, cursor)

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
        if title != self._title:
            self._title = title
            self.query_one("#form-title", Static).update(title)

    def focus_slot(self, view: RecordView, cursor: int) -> None:
        if not self.rows or not 0 <= cursor < len(self.rows):
            self.query_one("#rules-text", Static).update("")
            self.show_entry(None, None)
            return
        row = self.rows[cursor]
        rows = self.query_one("#form-rows", VerticalScroll)
        rows.scroll_to_widget(row, animate=False)
        # rows just mounted have no place yet: scroll again once they are laid out
        self.call_after_refresh(lambda: rows.scroll_to_widget(row, animate=False) if row.is_mounted else None)
        self._draw_panel(view, cursor)
        self.show_entry(row.slot.field, view.values.get(row.slot.key))

    def _draw_panel(self, view: RecordView, cursor: int) -> None:
        slot = self.rows[cursor].slot
        self.query_one("#rules-text", Static).update(
            field_panel(slot.field, view.values.get(slot.key), view.memos.get(slot.key))
        )
        self.query_one("#rules", VerticalScroll).scroll_home(animate=False)

    def show_nothing(self, message: str) -> None:
        """No record to code: no rows, nothing to type into, only ``message``."""
        self.query_one("#form-rows", VerticalScroll).remove_children()
        self.rows, self._record, self._focused_row = [], None, None
        self.query_one("#form-title", Static).update(Text("Nothing to code", style="bold"))
        self.query_one("#form-entry", Input).display = False
        self.show_error("")
        self.query_one("#rules-text", Static).update(Text(message))

    def show_entry(self, field: Field | None, value: Any) -> None:
        entry = self.query_one("#form-entry", Input)
        typed = field is not None and not field.has_choices
        entry.display = typed
        self.show_error("")
        if typed and field is not None:
            with entry.prevent(Input.Changed):  # a programmatic fill is not the coder typing
                entry.value = "" if value is None else str(value)
            entry.placeholder = f"{field.label}: type, then Enter"

    def show_error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(Text(message, style="bold red") if message else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "form-entry":
            event.stop()
            self.post_message(self.Entered(event.value))
