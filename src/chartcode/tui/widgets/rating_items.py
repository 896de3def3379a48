"""Widgets of the rating screen: the status header, the item list grouped by section, and the
focused item in full (its rules, every anchor, the rater's evidence).

The screen owns the values, the cursor and the scores; these widgets draw what they are given.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from chartcode.codebook.model import Field, Scale
from chartcode.codebook.text import paragraphs
from chartcode.codebook.types import InputMode
from chartcode.fidelity import SectionScore, UnitScore
from chartcode.fidelity import fmt_score as _fmt
from chartcode.tui.widgets.not_applicable import NA, NA_CLASS, NA_STYLE


def rating_keys(field: Field) -> dict[str, Any]:
    """Key -> code for the item's rating points (never the cannot-rate code). Single-digit codes
    are their own keys; otherwise 1..9, 0 by position."""
    codes = list(field.rating_codes)
    if all(isinstance(c, int) and 0 <= c <= 9 for c in codes):
        return {str(c): c for c in codes}
    keys = "1234567890"
    return {keys[i]: c for i, c in enumerate(codes[:10])}


def fmt_score(x: float | None, scoring: str = "sum") -> str:
    if x is None:
        return "—"
    return _fmt(x) + ("%" if scoring == "completion" else "")


def fmt_value(field: Field, value: Any) -> str:
    """How a rating shows in the item list: [4], [CR] (cannot rate), [–] (unrated)."""
    if value is None:
        return "[–]"
    if value in field.missing_codes:
        return "[CR]"
    if field.kind.input_mode is InputMode.FREE_TEXT:  # a context field: its text is in the detail panel
        return "[…]"
    return f"[{value}]"


# ---------------------------------------------------------------------------- header
class RatingHeader(Static):
    """Two lines: who rates what (and whether it is saved), then the running scores."""

    def __init__(self, title: str, rater: str, unit: str, period: str, **kwargs):
        super().__init__("", **kwargs)
        self.audit_title = title
        self.rater = rater
        self.unit = unit
        self.period = period
        self.score: UnitScore | None = None
        self.n_items = 0
        self.saved = ""
        self.submitted = False

    def set_score(self, score: UnitScore, n_items: int, submitted: bool) -> None:
        self.score, self.n_items, self.submitted = score, n_items, submitted
        self._draw()

    def set_saved(self, text: str) -> None:
        self.saved = text
        self._draw()

    def plain(self) -> str:
        return self._text().plain

    def _text(self) -> Text:
        t = Text(" chartcode ", style="bold reverse")
        t.append(f" {self.unit} · {self.period} · rater {self.rater}", style="bold")
        if self.submitted:
            t.append(" · submitted ✓ (read-only)", style="bold cyan")
        if self.saved:
            t.append(f" · {self.saved}", style="bold green" if self.saved.startswith("✓") else "bold yellow")
        t.append(f" · {self.audit_title}", style="dim")
        t.append("\n")
        s = self.score
        if s is not None:
            t.append(f" rated {s.items_rated}/{self.n_items}")
            t.append(f" · cannot rate {s.items_cannot_rate}")
            if s.scoring == "mean":
                t.append(" · mean ")
                t.append(fmt_score(s.mean), style="bold")
            else:
                t.append(" · total ")
                t.append(fmt_score(s.total, s.scoring), style="bold")
                if s.total is None and s.items_unrated and s.items_rated:
                    t.append(f" (withheld: {s.items_unrated} unscored)", style="dim")
                t.append(" · mean ")
                t.append(fmt_score(s.mean, s.scoring if s.scoring == "completion" else "sum"), style="bold")
            t.append(" · band ")
            t.append(s.band or "—", style="bold green" if s.band else "dim")
        return t

    def _draw(self) -> None:
        t = self._text()
        t.no_wrap = True
        t.overflow = "ellipsis"
        self.update(t)


# ---------------------------------------------------------------------------- item list
class SectionRow(Static):
    def __init__(self, section_id: str, label: str, **kwargs):
        super().__init__("", **kwargs)
        self.section_id = section_id
        self.label = label
        self._state: tuple | None = None

    def set_score(self, s: SectionScore | None, scoring: str) -> None:
        state = (None, None, 0, 0) if s is None else (s.score, s.band, s.rated, s.items)
        if state == self._state:
            return
        self._state = state
        t = Text(f" {self.label}", style="bold", no_wrap=True, overflow="ellipsis")
        if s is not None:
            t.append(f"  {fmt_score(s.score, scoring)}", style="bold")
            if s.band:
                t.append(f" · {s.band}")
            t.append(f"  ({s.rated}/{s.items} rated)", style="dim")
        self.update(t)

    def plain(self) -> str:
        r = self.render()
        return str(getattr(r, "plain", r))


class ItemRow(Widget):
    """One item on one line: pointer, label, comment mark, rating. Redraws only on change."""

    DEFAULT_CSS = "ItemRow { height: 1; }"

    def __init__(self, field: Field, **kwargs):
        super().__init__(**kwargs)
        self.field = field
        self.value: Any = None
        self.memo: str | None = None
        self.focused_item = False
        self.pending = False
        self.applies = True
        self._state: tuple | None = None

    def set_state(self, value: Any, memo: str | None, focused: bool, pending: bool, applies: bool = True) -> bool:
        state = (value, memo, focused, pending, applies)
        if state == self._state:
            return False
        self._state = state
        self.value, self.memo, self.focused_item, self.pending = value, memo, focused, pending
        self.applies = applies
        self.set_class(focused, "-focused")
        self.set_class(value is None and applies, "-unrated")
        self.set_class(not applies, NA_CLASS)  # show_if false: the n/a look of every screen
        self.refresh()
        return True

    def line(self, width: int) -> Text:
        f = self.field
        shown = fmt_value(f, self.value)
        c = f.choice(self.value) if self.value is not None and f.has_choices else None
        meaning = ""  # a rating's label beside it where the label says more than the number (Green, Partly)
        if c is not None and c.label and c.label != str(self.value) and self.value not in f.missing_codes:
            meaning = " " + (c.label if len(c.label) <= 9 else c.label[:8] + "…")
        tail = 1 + 1 + 1 + 4 + len(meaning)  # space, comment mark, pending mark, rating, its label
        room = max(4, width - 2 - tail)
        label = f.label if len(f.label) <= room else f.label[: room - 1] + "…"
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("▶ " if self.focused_item else "  ", style="bold")
        t.append(label.ljust(room), style=NA_STYLE if not self.applies else ("bold" if self.focused_item else ""))
        t.append(" ")
        t.append("✎" if self.memo else " ", style="yellow")
        t.append("…" if self.pending else " ", style="dim")
        if not self.applies:
            t.append(NA.rjust(4), style=NA_STYLE)
            return t
        style = "dim" if self.value is None else ("yellow" if shown == "[CR]" else "bold green")
        t.append(shown.rjust(4), style=style)
        t.append(meaning)
        return t

    def plain(self) -> str:
        return self.line(self.size.width or 40).plain

    def render(self) -> Text:
        return self.line(self.size.width)


class ItemList(VerticalScroll):
    """The scale's items under their section headers."""

    def __init__(self, items: list[Field], scale: Scale, **kwargs):
        super().__init__(**kwargs)
        self.items = items
        self.scale = scale
        self.rows: list[ItemRow] = []
        self.section_rows: dict[str, SectionRow] = {}

    def compose(self) -> ComposeResult:
        self.rows = []
        for s in self.scale.sections:
            members = [f for f in self.items if f.section == s.id]
            if not members:
                continue
            row = SectionRow(s.id, s.label, classes="section-row")
            self.section_rows[s.id] = row
            yield row
            for f in members:
                item = ItemRow(f, classes="item-row")
                self.rows.append(item)
                yield item
        context = [f for f in self.items if not f.section]
        if context:  # unscored fields of the scale (overall comments...)
            row = SectionRow("", "Not scored", classes="section-row")
            row.set_score(None, self.scale.scoring)
            yield row
            for f in context:
                item = ItemRow(f, classes="item-row")
                self.rows.append(item)
                yield item

    def show(
        self,
        values: dict[str, Any],
        memos: dict[str, str],
        cursor: int,
        pending: set[str],
        score: UnitScore,
        na: frozenset[str] = frozenset(),
    ) -> None:
        """Redraw what changed (``na``: the items whose show_if is false); keep the focused row in view."""
        focused = None
        by_name = {f.name: i for i, f in enumerate(self.items)}
        for row in self.rows:
            i = by_name[row.field.name]
            name = row.field.name
            row.set_state(values.get(name), memos.get(name), i == cursor, name in pending, name not in na)
            if i == cursor:
                focused = row
        for s in score.sections:
            if s.section in self.section_rows:
                self.section_rows[s.section].set_score(s, self.scale.scoring)
        if focused is not None:
            self.scroll_to_widget(focused, animate=False)


# ---------------------------------------------------------------------------- the focused item
def _first_words(text: str, width: int) -> str:
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0]
    return cut + "…"


def item_detail(
    field: Field, value: Any, memo: str | None, *, position: str, section: str, cannot_rate: int | None, read_only: bool
) -> tuple[Group, str]:
    """The item in full: label, where it sits, rules, every anchor (current one marked), the
    evidence. Returns the renderable and its plain text (for tests and screen readers)."""
    parts: list[Any] = []
    plain: list[str] = []

    head = Text(field.label, style="bold")
    parts.append(head)
    plain.append(head.plain)
    where = Text(f"{section} · item {position}", style="dim")
    if value is not None and field.kind.input_mode is InputMode.FREE_TEXT:
        where.append(" · written below", style="dim")
    elif value is not None:
        c = field.choice(value)
        # what the rating means: its label, or (for bare 1-5 labels) the start of its anchor
        shown = (c.label if c.label != str(value) else _first_words(c.description, 60)) if c is not None else ""
        where.append(" · your rating: ", style="dim")
        where.append(
            f"{value} {shown}".strip() if value not in field.missing_codes else "cannot rate", style="bold green"
        )
    else:
        where.append(" · not rated yet", style="dim")
    parts.append(where)
    plain.append(where.plain)

    # The anchors come first: they are what a digit chooses, so they must be on screen at 80x24;
    # the rules follow (PgDn scrolls to them).
    rules = Text("\nHow to rate\n", style="bold underline")
    rules.append(
        paragraphs(field.rules) if field.rules else "No rating rules written for this item.",
        style="" if field.rules else "dim italic",
    )

    if field.kind.input_mode is InputMode.FREE_TEXT:  # a context field, not scored: its text instead of anchors
        t = Text("\nText (not scored)\n", style="bold underline")
        t.append(str(value) if value is not None else "empty: v types it", style="" if value is not None else "dim")
        parts.extend((t, rules))
        plain.extend((t.plain, rules.plain))
        return Group(*parts), "\n".join(plain)
    anchors_title = Text("\nAnchors", style="bold underline")
    parts.append(anchors_title)
    plain.append(anchors_title.plain)
    if field.has_choices:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1)
        for key, code in rating_keys(field).items():
            c = field.choice(code)
            assert c is not None  # rating_keys keys the field's own codes
            chosen = code == value
            mark = Text(f"{'●' if chosen else ' '} [{key}]", style="bold green" if chosen else "bold cyan")
            body = Text()
            if c.label and c.label != str(code):
                body.append(f"{c.label}", style="bold")
                body.append("  " if c.description else "")
            body.append(
                c.description or ("" if c.label != str(code) else "(no anchor written)"),
                style="reverse" if chosen else "",
            )
            grid.add_row(mark, body)
            plain.append(f"{mark.plain} {body.plain}")
        if cannot_rate is not None and field.choice(cannot_rate) is not None:
            chosen = value == cannot_rate
            mark = Text(f"{'●' if chosen else ' '} [x]", style="bold yellow" if chosen else "bold cyan")
            body = Text(
                f"Cannot rate (stored as code {cannot_rate}; left out of the scores)",
                style="reverse" if chosen else "dim",
            )
            grid.add_row(mark, body)
            plain.append(f"{mark.plain} {body.plain}")
        parts.append(grid)
    else:
        target = f" (target {fmt_score(field.target)})" if field.target is not None else ""
        t = Text(f"  {field.kind.entry_hint}{target}: a digit, or v to type it")
        parts.append(t)
        plain.append(t.plain)

    parts.append(rules)
    plain.append(rules.plain)

    ev = Text("\nEvidence / comment\n", style="bold underline")
    if memo:
        ev.append(memo, style="yellow")
    elif read_only:
        ev.append("none", style="dim")
    else:
        ev.append("none yet: c writes what the rating rests on (sources, examples)", style="dim")
    parts.append(ev)
    plain.append(ev.plain)
    return Group(*parts), "\n".join(plain)


class ItemDetail(Static):
    """The focused item in full; ``plain`` holds the same text without styles."""

    def __init__(self, **kwargs):
        super().__init__("", **kwargs)
        self.plain = ""

    def show(self, renderable: Group, plain: str) -> None:
        if plain != self.plain:
            self.plain = plain
            self.update(renderable)
