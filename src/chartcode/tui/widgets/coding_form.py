"""The coding form: the fields of the current record (and its notes), one focused.

The screen owns the cursor and the values; this widget draws them and posts a message
when a typed value is entered. Choice fields are coded by digit keys (bound on the
screen); numeric, date and text fields take typed input in the entry box. A check-all-that-apply
field (input mode TOGGLE) is its own mode: each option's key ticks or unticks that option
(:func:`toggle`), and the panel shows every option ticked or not.

Branching logic: the screen passes the record's Form (chartcode.codebook.model.Form, rebuilt
after every change); a field that does not apply is drawn dimmed as "n/a" (the one look of
tui/widgets/not_applicable.py) and is not required. Calculated fields get read-only rows with
their current value; they are not slots, so the cursor never lands on them.

The rows are the lines of ONE widget (:class:`FieldLines`, Textual's Line API): each row keeps its
drawn line (a Strip) until something it shows changes, so a key redraws the one or two rows it
changed, not a widget per row (19 on the conjoint codebook, each restyled and repainted).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget
from textual.widgets import Input, Static

from chartcode.codebook import Field
from chartcode.codebook.model import Form, checkbox_codes
from chartcode.codebook.text import paragraphs
from chartcode.codebook.types import InputMode, canonical
from chartcode.coding import RecordView, Slot
from chartcode.tui.widgets.not_applicable import NA_CLASS, NA_STYLE, na_panel, na_text
from chartcode.tui.widgets.redraw import update_text


def record_form(view: RecordView) -> Form:
    """The record's Form for the coder's current codes (cheap: build one after every change)."""
    return view.codebook.form(((n["note_id"], n["note_type"]) for n in view.notes), view.values)


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


def toggles(field: Field) -> bool:
    """Whether the field is coded by ticking options (check all that apply)."""
    return field.kind.input_mode is InputMode.TOGGLE


def toggle(field: Field, value: Any, key: str) -> tuple[str, str] | None:
    """The stored value after ``key`` ticks or unticks its option, and the history reason
    ("added 2", "removed 3"); None if the key is no option's. Not coded counts as none ticked."""
    code = choice_keys(field).get(key)
    if code is None:
        return None
    ticked = set(checkbox_codes(value))
    if str(code) in ticked:
        ticked.discard(str(code))
        return canonical(field, ticked), f"removed {code}"
    ticked.add(str(code))
    return canonical(field, ticked), f"added {code}"


class _Line:
    """One line of :class:`FieldLines`: what it shows, the component classes it is drawn with, and
    the line it is (``index``); ``owner`` is the widget drawing it (None until it is placed)."""

    owner: FieldLines | None = None
    index = 0
    _classes: frozenset[str] = frozenset()

    def has_class(self, name: str) -> bool:
        """The look the row has now (``-focused``, ``-missing``, ``-na``, ``calc-row``)."""
        return name in self._classes

    @property
    def region(self) -> Region:
        """Where the row is on the screen: its line of the widget, scrolled (may be out of view)."""
        owner = self.owner
        if owner is None:
            return Region()
        box = owner.scrollable_content_region
        return Region(box.x, box.y + self.index - round(owner.scroll_y), box.width, 1)

    @property
    def width(self) -> int:
        return self.owner.line_width if self.owner is not None else 0

    def state_key(self) -> tuple:
        raise NotImplementedError

    def style_names(self) -> tuple[str, ...]:
        """The component classes of FieldLines this row is drawn with, in the order they apply."""
        return ()

    def text(self, width: int) -> Text:
        raise NotImplementedError

    def render(self) -> Text:
        """The row's text at the width it is drawn."""
        return self.text(self.width or 46)

    def _changed(self) -> None:
        if self.owner is not None:
            self.owner.refresh_row(self)


class GroupTitle(_Line):
    """A note's (or the record's) heading: ``Note 1 · 2023-01-01 · conjoint``."""

    def __init__(self, title: Text):
        self.title = title

    def state_key(self) -> tuple:
        return (self.title.plain,)

    def text(self, width: int) -> Text:
        return self.title


class FieldRow(_Line):
    """One slot on one line: pointer, required mark, value, label."""

    def __init__(self, slot: Slot):
        self.slot = slot
        self.value: Any = None
        self.memo: str | None = None
        self.focused = False
        self.pending = False
        self.applies = True
        self._state: tuple | None = None

    def set_state(
        self, value: Any, memo: str | None, focused: bool, pending: bool = False, applies: bool = True
    ) -> bool:
        """Redraw only when something shown changed; True if it did."""
        state = (value, memo, focused, pending, applies)
        if state == self._state:
            return False
        self._state = state
        self.value, self.memo, self.focused, self.pending, self.applies = value, memo, focused, pending, applies
        classes = {"-focused"} if focused else set()
        if applies and value is None and self.slot.field.required:
            classes.add("-missing")
        if not applies:
            classes.add(NA_CLASS)
        self._classes = frozenset(classes)
        self._changed()
        return True

    def state_key(self) -> tuple:
        return (self._state,)

    def style_names(self) -> tuple[str, ...]:
        if not self.applies:  # as .-na and .field-row.-na.-focused did
            return ("field-lines--na", "field-lines--na-focused") if self.focused else ("field-lines--na",)
        return ("field-lines--focused",) if self.focused else ()

    def text(self, width: int) -> Text:
        return self._render_text(width)

    def _render_text(self, width: int | None = None) -> Text:
        """``▶* ✎ Field label       3 Assessment plus interv…``: the field's label on the left half,
        the value with what it means (the chosen choice's label) on the right, each cut to fit."""
        f = self.slot.field
        width = width or self.width or 46
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("▶" if self.focused else " ")
        required = f.required and self.applies  # a field that does not apply is not required
        t.append("*" if required else " ", style="bold red" if required and self.value is None else "dim")
        t.append("✎" if self.memo else " ", style="yellow")
        t.append("…" if self.pending else " ", style="dim")
        label_width = max(8, (width - 5) // 2)
        label_style = NA_STYLE if not self.applies else ("bold" if self.focused else "")
        t.append(fit(f.label, label_width).ljust(label_width), style=label_style)
        t.append(" ")
        if self.applies:
            t.append_text(value_text(f, self.value, max(4, width - 5 - label_width)))
        else:
            t.append_text(na_text(f, self.value))
        return t


class CalcRow(_Line):
    """A calculated field on one line, read-only: ``= Label      12``, recomputed from the codes.
    Never focusable and never a slot: there is nothing to enter."""

    can_focus = False
    _classes = frozenset({"calc-row"})

    def __init__(self, field: Field, note_id: str | None):
        self.field = field
        self.note_id = note_id
        self.value: Any = None
        self.applies = True
        self._state: tuple | None = None

    def set_state(self, value: Any, applies: bool) -> bool:
        state = (value, applies)
        if state == self._state:
            return False
        self._state = state
        self.value, self.applies = value, applies
        self._classes = frozenset({"calc-row"} if applies else {"calc-row", NA_CLASS})
        self._changed()
        return True

    def state_key(self) -> tuple:
        return (self._state,)

    def style_names(self) -> tuple[str, ...]:
        # .calc-row's colour was declared after .-na's: it wins on a calculation that does not apply
        return ("field-lines--calc",)

    def text(self, width: int) -> Text:
        return self._render_text(width)

    def _render_text(self, width: int | None = None) -> Text:
        f = self.field
        width = width or self.width or 46
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("  = ", style="dim")
        label_width = max(8, (width - 5) // 2)
        t.append(fit(f.label, label_width).ljust(label_width), style=NA_STYLE if not self.applies else "italic")
        t.append(" ")
        if not self.applies:
            t.append_text(na_text(f))
        elif self.value is None:
            t.append("—", style="dim")
        else:
            t.append(fit(f.kind.display(f, self.value), max(4, width - 5 - label_width)), style="bold cyan")
        return t


class FieldLines(ScrollView, can_focus=False):
    """The form's rows as the lines of one widget. Each line's Strip is kept until what the row
    shows (or the width, or the styles) changes; a changed row repaints its own line alone, and a
    paint that covers the form (the screen repaints the bounding box of everything that changed)
    copies the kept lines instead of rendering a widget per row. Never focused (a click on it
    leaves the coding keys with the screen), as the screen makes its scrolling boxes."""

    COMPONENT_CLASSES = {
        "field-lines--focused",
        "field-lines--na",
        "field-lines--na-focused",
        "field-lines--calc",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lines: list[_Line] = []
        self._strips: dict[int, tuple[tuple, Strip]] = {}
        self.strips_rendered = 0  # lines drawn anew (not copied from the kept Strip): what a key costs

    @property
    def line_width(self) -> int:
        return self.scrollable_content_region.width

    def set_lines(self, lines: list[_Line]) -> None:
        """Show ``lines`` (a new record's), from the top."""
        for line in self.lines:
            line.owner = None
        for i, line in enumerate(lines):
            line.owner, line.index = self, i
        self.lines = lines
        self._strips.clear()
        self.virtual_size = Size(0, len(lines))
        self.scroll_to(y=0, animate=False)
        self.refresh()

    def refresh_row(self, line: _Line) -> None:
        self.refresh_line(line.index)

    def scroll_to_row(self, line: _Line) -> None:
        """Scroll the least that brings ``line`` into view."""
        box = self.scrollable_content_region
        if not box.height:
            return
        top = round(self.scroll_y)
        if line.index < top:
            self.scroll_to(y=line.index, animate=False)
        elif line.index >= top + box.height:
            self.scroll_to(y=line.index - box.height + 1, animate=False)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # a theme or class change: every kept line is redrawn

    def on_resize(self) -> None:
        """The focused row stays in view (the rows' columns follow the width: it is in each kept
        line's key)."""
        focused = [line for line in self.lines if isinstance(line, FieldRow) and line.focused]
        if focused:
            self.scroll_to_row(focused[0])

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_y) + y
        width = self.line_width
        if not 0 <= index < len(self.lines):
            return Strip.blank(width, self.visual_style.rich_style)
        line = self.lines[index]
        names = line.style_names()
        key = (line.state_key(), width, names, id(line))
        kept = self._strips.get(index)
        if kept is not None and kept[0] == key:
            return kept[1]
        style = self.get_visual_style(*names)
        (strip,) = Visual.to_strips(self, visualize(self, line.text(width)), width, 1, style, pad=True)
        self._strips[index] = (key, strip)
        self.strips_rendered += 1
        return strip


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, with an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(0, width - 1)].rstrip() + "…"


def value_text(field: Field, value: Any, width: int) -> Text:
    """A value as a coder reads it: ``3 Assessment plus intervention`` for a choice (the code, then
    the label it stands for), the value itself for numbers, dates and text; cut to ``width``."""
    if value is None:
        return Text("—", style="dim")
    if toggles(field):  # the ticked codes, then what they stand for: ``1,3 Therapy, Peer support``
        ticked = checkbox_codes(value)
        codes = ",".join(str(c.code) for c in field.choices if str(c.code) in ticked) or "none ticked"
        t = Text(fit(codes, width), style="bold green")
        if ticked and len(codes) + 2 <= width:
            t.append(" " + fit(field.label_for(value), width - len(codes) - 1))
        return t
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
    if toggles(f):
        ticked = checkbox_codes(value)
        for key, code in choice_keys(f).items():
            on = str(code) in ticked
            t.append(f" {'☑' if on else '☐'} [{key}] ", style="bold green" if on else "bold cyan")
            c = f.choice(code)
            assert c is not None  # choice_keys keys the field's own codes
            t.append(f"{c.label}\n", style="bold" if on else "")
        t.append(
            " keys tick or untick; Enter keeps the set"
            + (" (none ticked)" if value is None else "")
            + " and moves on\n",
            style="italic",
        )
    elif f.has_choices:
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


def _panel_height(panel: Static, size: Size) -> int:
    """The height the panel takes for its new text at ``size``'s width: the text's, or its box's if taller."""
    box = panel.parent.content_region.height if isinstance(panel.parent, Widget) else 0
    return max(panel.get_content_height(size, size, size.width), box)


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
        self.calc_rows: list[CalcRow] = []
        self._form: Form | None = None
        self._record: str | None = None
        self._focused_row: int | None = None
        self._title: Text | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="form-title")
        yield FieldLines(id="form-rows")
        yield Input(id="form-entry", placeholder="value, then Enter")
        yield Static("", id="form-error")
        with VerticalScroll(id="rules"):
            yield Static("", id="rules-text")

    def show(
        self,
        view: RecordView,
        cursor: int,
        pending: set[tuple[str | None, str]] | None = None,
        form: Form | None = None,
    ) -> None:
        """Draw the record's slots (and its calculated fields) through ``form``, the record's
        branching logic for these codes; rebuild the rows only when the record or its slots change."""
        pending = pending or set()
        form = form if form is not None else record_form(view)
        self._form = form
        container = self.query_one("#form-rows", FieldLines)
        if self._record != view.record_id or len(self.rows) != len(view.slots):
            self.rows = []
            self.calc_rows = []
            lines: list[_Line] = []
            last_group: object = object()
            for group, item in self._layout(view):
                if group != last_group:
                    lines.append(GroupTitle(self._group_title(view, group)))
                    last_group = group
                if isinstance(item, Slot):
                    field_row = FieldRow(item)
                    self.rows.append(field_row)
                    lines.append(field_row)
                else:
                    calc_row = CalcRow(item, group)
                    self.calc_rows.append(calc_row)
                    lines.append(calc_row)
            container.set_lines(lines)  # a new record starts at its own top, not the last one's
            self._record = view.record_id
            self._focused_row = None
        focused_changed = turned = False
        for i, (row, slot) in enumerate(zip(self.rows, view.slots, strict=True)):
            was = row.applies
            changed = row.set_state(
                view.values.get(slot.key),
                view.memos.get(slot.key),
                i == cursor,
                slot.key in pending,
                form.applies(slot.note_id, slot.field),
            )
            focused_changed |= changed and i == cursor
            turned |= i == cursor and was != row.applies
        for calc in self.calc_rows:
            calc.set_state(form.calculated(calc.note_id, calc.field), form.applies(calc.note_id, calc.field))
        self.update_title(view)
        if cursor != self._focused_row:
            self._focused_row = cursor
            self.focus_slot(view, cursor)
        elif focused_changed:
            self._draw_panel(view, cursor)
            if turned:  # the focused field started or stopped applying: its entry box follows
                self._show_entry_for(view, cursor)

    @staticmethod
    def _layout(view: RecordView) -> list[tuple[str | None, Slot | Field]]:
        """(group, slot or calculated field) in codebook order: each note's slots with the note-level
        calculations of its type among them, then the record's."""
        calcs = view.codebook.calc_fields
        if not calcs:
            return [(s.note_id, s) for s in view.slots]
        order = {f.name: i for i, f in enumerate(view.codebook.fields)}
        types = {n["note_id"]: n["note_type"] for n in view.notes}
        groups: dict[str | None, list[Slot | Field]] = {}
        for slot in view.slots:
            groups.setdefault(slot.note_id, []).append(slot)
        for f in calcs:
            if f.level == "note":
                for nid in types:
                    if f.applies_to(types[nid]):
                        groups.setdefault(nid, []).append(f)
            else:
                groups.setdefault(None, []).append(f)
        out: list[tuple[str | None, Slot | Field]] = []
        for group, items in groups.items():
            items.sort(key=lambda it: order[it.field.name if isinstance(it, Slot) else it.name])
            out.extend((group, it) for it in items)
        return out

    def _group_title(self, view: RecordView, note_id: str | None) -> Text:
        if note_id is None:
            return Text(f"Record {view.record_id}", style="bold reverse")
        note = view.notes[view.note_index[note_id]]
        parts = [f"Note {view.note_index[note_id] + 1}", note.get("note_date") or "", note.get("note_type") or ""]
        return Text(" · ".join(p for p in parts if p), style="bold reverse")

    def update_title(self, view: RecordView) -> None:
        missing = len(view.missing())
        status = {"done": "done ✓", "in_progress": "in progress", "not_started": "not started"}[view.status]
        form = self._form if self._form is not None else record_form(view)
        applying = [s for s in view.slots if form.applies(s.note_id, s.field)]
        coded = sum(1 for s in applying if view.values.get(s.key) is not None)
        title = Text(f"{coded}/{len(applying)} coded", style="bold")
        if len(applying) < len(view.slots):
            title.append(f" · {len(view.slots) - len(applying)} n/a", style="dim")
        if missing:
            title.append(f" · {missing} required empty", style="red")
        title.append(f" · {status}")
        if view.flagged:
            title.append(" · ⚑ flagged", style="yellow")
        if title != self._title:
            self._title = title
            update_text(self.query_one("#form-title", Static), title)  # one line: no layout pass

    def focus_slot(self, view: RecordView, cursor: int) -> None:
        if not self.rows or not 0 <= cursor < len(self.rows):
            self.query_one("#rules-text", Static).update("")
            self.show_entry(None, None)
            return
        row = self.rows[cursor]
        rows = self.query_one("#form-rows", FieldLines)
        rows.scroll_to_row(row)  # the rows widget not laid out yet scrolls on its first resize
        self._draw_panel(view, cursor)
        self._show_entry_for(view, cursor)

    def _show_entry_for(self, view: RecordView, cursor: int) -> None:
        row = self.rows[cursor]
        if row.applies:
            self.show_entry(row.slot.field, view.values.get(row.slot.key))
        else:  # nothing to type into a field that does not apply
            self.show_entry(None, None)

    def _draw_panel(self, view: RecordView, cursor: int) -> None:
        row = self.rows[cursor]
        slot = row.slot
        value = view.values.get(slot.key)
        panel = field_panel(slot.field, value, view.memos.get(slot.key)) if row.applies else na_panel(slot.field, value)
        rules_text = self.query_one("#rules-text", Static)
        size = rules_text.size
        update_text(rules_text, panel)
        # A layout pass (and the repaint of the screen after it) only when the panel's height
        # changes: on most moves between fields it does not, and every key moves the cursor. It is
        # at least as tall as its box (min-height in chartcode.tcss), so a panel that fits keeps
        # the box's height.
        if not size.width or _panel_height(rules_text, size) != size.height:
            rules_text.refresh(layout=True)
        self.query_one("#rules", VerticalScroll).scroll_home(animate=False)

    def show_nothing(self, message: str) -> None:
        """No record to code: no rows, nothing to type into, only ``message``."""
        self.query_one("#form-rows", FieldLines).set_lines([])
        self.rows, self.calc_rows, self._record, self._focused_row = [], [], None, None
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

    _error = ""

    def show_error(self, message: str) -> None:
        if message != self._error:  # every move clears it: no redraw (and no layout pass) when already clear
            self._error = message
            self.query_one("#form-error", Static).update(Text(message, style="bold red") if message else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "form-entry":
            event.stop()
            self.post_message(self.Entered(event.value))
