"""The rating screen: one rater scores one unit-period on a fidelity scale, item by item.

Same conventions as the coding screen: one key rates the focused item, every rating is its
own committed transaction (through the StoreWriter, so the screen never waits on the
database), the header says when it is saved, and the next unrated item comes up.

Blind by construction: the values come from the rater's CodingSession, which reads only
the rater's own codes; another rater's ratings never reach this screen.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from chartcode.codebook import CodeError
from chartcode.codebook.types import InputMode
from chartcode.coding import CodingSession, Slot
from chartcode.errors import UserError
from chartcode.fidelity import UnitScore, require_scale, score_unit
from chartcode.store import StaleChange
from chartcode.tui.bindings import RATING_KEYS, bindings
from chartcode.tui.screens.modals import HelpScreen, TextPrompt
from chartcode.tui.widgets.coding_form import changed_elsewhere
from chartcode.tui.widgets.footer import compact_footer
from chartcode.tui.widgets.not_applicable import na_hint, na_panel
from chartcode.tui.widgets.rating_items import ItemDetail, ItemList, RatingHeader, item_detail, rating_keys
from chartcode.tui.writer import Saved, SaveFailed, StoreWriter, Waiting


def help_intro(cannot_rate: int | None) -> str:
    cr = (
        f" x marks an item you cannot rate (stored as the scale's cannot-rate code {cannot_rate}; it is left out "
        "of the scores)."
        if cannot_rate is not None
        else " This scale has no cannot-rate code."
    )
    return (
        "Rate the focused item on the left by the number of the anchor on the right that fits best; the next "
        "unrated item comes up. Every rating is saved at once (watch for ✓ saved at the top) and only you "
        "see your ratings." + cr + " c writes the evidence behind a rating. s submits the unit-period when "
        "every item is rated (or marked cannot rate); after that the ratings are read-only."
    )


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question: y or Enter confirms, n or Esc cancels."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    #confirm-box { width: 80%; max-width: 80; height: auto; border: thick $warning; background: $surface;
                   padding: 1 2; }
    """
    BINDINGS = [Binding("y,enter", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, detail: str = ""):
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(Text(self.question, style="bold"))
            if self.detail:
                yield Static(self.detail)
            yield Static(Text("y or Enter: yes · n or Esc: no", style="dim"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class RatingScreen(Screen):
    KEYS = RATING_KEYS
    BINDINGS = bindings(RATING_KEYS)
    AUTO_FOCUS = ""
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    DEFAULT_CSS = """
    RatingScreen #rating-header { dock: top; height: 2; background: $panel; text-wrap: nowrap;
                                  text-overflow: ellipsis; }
    RatingScreen #rating-main { height: 1fr; }
    RatingScreen #items { width: 46; border-right: tall $primary-darken-2; }
    RatingScreen.-narrow #items { width: 32; }
    RatingScreen .section-row { height: 1; background: $boost; margin-top: 1; }
    RatingScreen .item-row.-focused { background: $accent 40%; }
    RatingScreen #detail { width: 1fr; padding: 0 1; }
    """

    def __init__(self, session: CodingSession, record_id: str, title: str, *, frozen_clock: bool = False):
        super().__init__()
        self.session = session
        self.store = session.store
        self.codebook = session.codebook
        self.scale = require_scale(self.codebook)
        # the scored items, then the scale's unscored context fields (overall comments...), typed with v
        self.items = list(self.codebook.items) + [f for f in self.codebook.record_fields if not f.section]
        self.scored = {f.name for f in self.codebook.items}
        self.record_id = record_id
        self.audit_title = title
        self.frozen_clock = frozen_clock
        row = self.store.unit_period(record_id)
        self.unit = row[0] if row and row[0] is not None else record_id
        self.period = row[1] if row and row[1] else ""
        view = session.load(record_id)  # the rater's own codes only (blind)
        self.values: dict[str, Any] = {
            f.name: view.values[(None, f.name)] for f in self.items if view.values.get((None, f.name)) is not None
        }
        self.memos: dict[str, str] = {
            f.name: view.memos[(None, f.name)] for f in self.items if view.memos.get((None, f.name))
        }
        self.submitted = view.submitted
        self.submitting = False
        self.cursor = 0
        self.pending: dict[int, str] = {}  # job id -> item name (ratings, comments, undo, submit)
        self.writer = StoreWriter(self)
        self.score: UnitScore = self._score()

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield RatingHeader(self.audit_title, self.session.coder, self.unit, self.period, id="rating-header")
        with Horizontal(id="rating-main"):
            yield ItemList(self.items, self.scale, id="items")
            with VerticalScroll(id="detail"):
                yield ItemDetail(id="detail-text")
        yield compact_footer()

    def on_mount(self) -> None:
        for scroller in self.query(VerticalScroll):
            scroller.can_focus = False
        self.writer.start()
        pos = self.session.position()
        names = [f.name for f in self.items]
        if pos and pos[0] == self.record_id and pos[2] in names:
            self.cursor = names.index(pos[2])
        else:
            self.cursor = self._next_unrated(-1) or 0
        self._redraw()
        if not self.items:
            self.notify("This scale has no scored items.", severity="error")

    # ------------------------------------------------------------------ drawing
    def _score(self) -> UnitScore:
        return score_unit(
            self.codebook, dict(self.values), unit=self.unit, period=self.period, record_id=self.record_id
        )

    @property
    def field(self):
        return self.items[self.cursor] if self.items else None

    def not_applicable(self) -> frozenset[str]:
        """The items whose branching logic (show_if) is false for the ratings as they are now."""
        if not self.codebook.has_logic:
            return frozenset()
        form = self.codebook.form([], {(None, k): v for k, v in self.values.items()})
        return frozenset(f.name for f in self.items if not form.applies(None, f))

    def _redraw(self) -> None:
        self.score = self._score()
        pending = set(self.pending.values())
        na = self.not_applicable()
        self.query_one(ItemList).show(self.values, self.memos, self.cursor, pending, self.score, na)
        self.query_one(RatingHeader).set_score(self.score, len(self.scored), self.submitted)
        f = self.field
        if f is not None and f.name in na:
            detail = self.query_one(ItemDetail)
            panel = na_panel(f, self.values.get(f.name))
            if panel.plain != detail.plain:
                detail.show(Group(panel), panel.plain)
                self.query_one("#detail", VerticalScroll).scroll_home(animate=False)
        elif f is not None:
            section = self.scale.section(f.section)
            renderable, plain = item_detail(
                f,
                self.values.get(f.name),
                self.memos.get(f.name),
                position=f"{self.cursor + 1} of {len(self.items)}",
                section=section.label if section else (f.section or "Not scored"),
                cannot_rate=self.scale.cannot_rate if f.name in self.scored else None,
                read_only=self.submitted,
            )
            detail = self.query_one(ItemDetail)
            if plain != detail.plain:
                detail.show(renderable, plain)
                self.query_one("#detail", VerticalScroll).scroll_home(animate=False)

    def _saved_text(self) -> str:
        if self.pending:
            return "saving…"
        return f"✓ saved {'12:00:00' if self.frozen_clock else time.strftime('%H:%M:%S')}"

    # ------------------------------------------------------------------ moving
    def _next_unrated(self, after: int) -> int | None:
        n = len(self.items)
        na = self.not_applicable()  # items that do not apply are never waiting to be rated
        for step in range(1, n + 1):
            i = (after + step) % n
            name = self.items[i].name
            if name in self.scored and name not in na and self.values.get(name) is None:
                return i
        return None

    def _applies_here(self) -> bool:
        """False (with a one-line hint) when the focused item does not apply: nothing to rate."""
        f = self.field
        if f is not None and f.name in self.not_applicable():
            self.notify(na_hint(f), timeout=3)
            return False
        return True

    def move(self, index: int) -> None:
        if not self.items:
            return
        self.cursor = max(0, min(len(self.items) - 1, index))
        self._redraw()

    def _step(self, step: int) -> None:
        """Move to the next item in direction ``step`` that applies (items shown n/a are skipped)."""
        na = self.not_applicable()
        i = self.cursor + step
        while 0 <= i < len(self.items) and self.items[i].name in na:
            i += step
        if 0 <= i < len(self.items):
            self.move(i)

    def action_next_item(self) -> None:
        self._step(1)

    def action_prev_item(self) -> None:
        self._step(-1)

    def action_next_unrated(self) -> None:
        nxt = self._next_unrated(self.cursor)
        if nxt is None:
            self.notify("Every item is rated." + ("" if self.submitted else " s submits."), timeout=3)
        else:
            self.move(nxt)

    def action_scroll_detail(self, direction: int) -> None:
        detail = self.query_one("#detail", VerticalScroll)
        (detail.scroll_page_down if direction > 0 else detail.scroll_page_up)(animate=False)

    # ------------------------------------------------------------------ rating
    def _writable(self) -> bool:
        if self.submitted or self.submitting:
            self.notify(f"{self.record_id} is submitted: your ratings are read-only.", severity="warning")
            return False
        return self.field is not None

    def action_rate(self, key: str) -> None:
        if not self._writable() or not self._applies_here():
            return
        f = self.field
        if f.has_choices:
            keys = rating_keys(f)
            if key not in keys:
                extra = " (x = cannot rate)" if self.scale.cannot_rate is not None else ""
                self.notify(
                    f"{f.label}: {key} is not a rating of this item; rate {_keys_range(keys)}{extra}.",
                    severity="warning",
                )
                return
            value = keys[key]
        elif f.kind.input_mode is InputMode.FREE_TEXT:
            self.notify(f"{f.label}: press v to type it.", timeout=3)
            return
        else:
            try:
                value = f.parse(key)
            except CodeError as exc:
                self.notify(f"{f.label}: {exc}", severity="warning")
                return
        self._save(f, value, advance=True)

    def action_cannot_rate(self) -> None:
        if not self._writable() or not self._applies_here():
            return
        f = self.field
        code = self.scale.cannot_rate
        if code is None or f.choice(code) is None:
            self.notify("This scale has no cannot-rate code for this item.", severity="warning")
            return
        self._save(f, code, advance=True)

    def action_type_value(self) -> None:
        if not self._writable() or not self._applies_here():
            return
        f = self.field
        if f.has_choices:
            self.notify(f"{f.label}: press the number of its anchor.", timeout=3)
            return

        def typed(raw: str | None) -> None:
            if raw is None or not raw.strip():
                return
            try:
                value = f.parse(raw)
            except CodeError as exc:
                self.notify(f"{f.label}: {exc}", severity="error")
                return
            self._save(f, value, advance=True)

        current = self.values.get(f.name)
        self.app.push_screen(TextPrompt(f"{f.label}: value", "" if current is None else str(current), "value"), typed)

    def action_clear(self) -> None:
        if not self._writable():
            return
        f = self.field
        if self.values.get(f.name) is None:
            return
        self._save(f, None, advance=False)

    def _save(self, f, value: Any, *, advance: bool) -> None:
        old = self.values.get(f.name)
        if value == old:
            if advance:
                self._advance()
            return
        if value is None:
            self.values.pop(f.name, None)
        else:
            self.values[f.name] = value
        record_id, slot = self.record_id, Slot(f)
        ticket = self.session.ticket(record_id, slot)  # the version this rating is made against
        job = self.writer.submit(
            lambda: self.session.set(record_id, slot, value, ticket), "code", (f.name, old, ticket)
        )
        self.pending[job.id] = f.name
        self.query_one(RatingHeader).set_saved("saving…")
        if advance:
            self._advance()
        else:
            self._redraw()
        name = self.field.name if self.field else None
        self.writer.submit(lambda: self.session.save_position(record_id, None, name), "position")

    def _advance(self) -> None:
        nxt = self._next_unrated(self.cursor)
        if nxt is None:
            self._redraw()
            if not self.submitted:
                self.notify("Every item is rated. Check them, then s submits.", timeout=4)
            return
        self.move(nxt)

    def action_undo(self) -> None:
        if not self._writable():
            return
        job = self.writer.submit(self.session.undo, "undo")
        self.pending[job.id] = ""
        self.query_one(RatingHeader).set_saved("saving…")

    def action_comment(self) -> None:
        if not self._writable():
            return
        f = self.field
        if self.values.get(f.name) is None:
            self.notify(
                "Rate this item first (or x: cannot rate), then write the evidence behind it.", severity="warning"
            )
            return
        record_id, slot = self.record_id, Slot(f)

        def done(text: str | None) -> None:
            if text is None:
                return
            text = text.strip()
            old = self.memos.get(f.name)
            if text == (old or ""):
                return
            if text:
                self.memos[f.name] = text
            else:
                self.memos.pop(f.name, None)
            ticket = self.session.ticket(record_id, slot)
            job = self.writer.submit(
                lambda: self.session.memo(record_id, slot, text, ticket), "memo", (f.name, old, ticket)
            )
            self.pending[job.id] = f.name
            self.query_one(RatingHeader).set_saved("saving…")
            self._redraw()

        self.app.push_screen(
            TextPrompt(
                f"Evidence / comment on {f.label}",
                self.memos.get(f.name, ""),
                "what the rating rests on (sources, examples)",
                "Empty removes the comment.",
            ),
            done,
        )

    def action_submit(self) -> None:
        if self.submitted:
            self.notify(f"{self.record_id} is already submitted.", timeout=3)
            return
        if self.submitting or not self.items:
            return
        na = self.not_applicable()
        unrated = [
            i
            for i, f in enumerate(self.items)
            if f.name in self.scored and f.name not in na and self.values.get(f.name) is None
        ]
        if unrated:
            names = ", ".join(self.items[i].label for i in unrated[:5]) + (" …" if len(unrated) > 5 else "")
            self.notify(
                f"{len(unrated)} item(s) unrated: {names}. Rate them (or x: cannot rate) first.",
                title=f"{self.record_id} not submitted",
                severity="error",
                timeout=10,
            )
            self.move(unrated[0])
            return
        s = self.score
        summary = (
            f"{s.items_rated} rated, {s.items_cannot_rate} cannot rate; total {_n(s.total)}, "
            f"band {s.band or '—'}. After submitting, your ratings are read-only."
        )

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            self.submitting = True
            job = self.writer.submit(self._submit_now, "submit")
            self.pending[job.id] = ""
            self.query_one(RatingHeader).set_saved("saving…")

        self.app.push_screen(ConfirmScreen(f"Submit {self.record_id} as done?", summary), answered)

    def _submit_now(self) -> None:
        """In the writer thread, after every earlier rating has committed: check, then submit."""
        view = self.session.load(self.record_id)
        form = self.codebook.form([], view.values)
        missing = [
            f.label
            for f in self.items
            if f.name in self.scored and form.applies(None, f) and view.values.get((None, f.name)) is None
        ]
        if missing:
            raise UserError(f"{len(missing)} item(s) unrated: {', '.join(missing)}")
        self.store.submit(self.session.coder, self.record_id)

    # ------------------------------------------------------------------ write results
    @on(Saved)
    def saved(self, event: Saved) -> None:
        job = event.job
        if job.kind == "position":
            return
        self.pending.pop(job.id, None)
        self.query_one(RatingHeader).set_saved(self._saved_text())
        if job.kind in ("code", "memo"):
            self.session.versions.settle(job.context[2])
        if job.kind == "undo":
            change = event.result
            if change is None:
                self.notify("Nothing to undo in this session.", severity="warning")
            else:
                self.session.versions.note(change.record_id, change.note_id, change.field, change.version)
                if change.new is None:
                    self.values.pop(change.field, None)
                else:
                    self.values[change.field] = change.new
                names = [f.name for f in self.items]
                if change.field in names:
                    self.cursor = names.index(change.field)
                f = self.codebook.field(change.field)
                self.notify(f"Undone: {f.label} is {_shown(f, change.new)} again.")
        elif job.kind == "submit":
            self.submitting = False
            self.submitted = True
            self.notify(f"{self.record_id} submitted. Your ratings are now read-only.", title="Submitted")
        self._redraw()

    @on(Waiting)
    def waiting(self, event: Waiting) -> None:
        self.query_one(RatingHeader).set_saved(event.text(len(self.pending)) if event.waiting else "saving…")

    @on(SaveFailed)
    def save_failed(self, event: SaveFailed) -> None:
        job = event.job
        if job.kind == "position":
            return
        self.pending.pop(job.id, None)
        error = event.error
        message = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
        if job.kind in ("code", "memo"):
            self.session.versions.settle(job.context[2])
        if job.kind == "code":
            name, old, _ticket = job.context
            if isinstance(error, StaleChange):  # changed in another window: show what it holds now
                self._changed_elsewhere(name, error)
                return
            if old is None:
                self.values.pop(name, None)
            else:
                self.values[name] = old
        elif job.kind == "memo":
            name, old, _ticket = job.context
            if old:
                self.memos[name] = old
            else:
                self.memos.pop(name, None)
            if isinstance(error, StaleChange):
                self._changed_elsewhere(name, error)
                return
        elif job.kind == "submit":
            self.submitting = False
            self.notify(message, title="Not submitted", severity="error", timeout=10)
            self.query_one(RatingHeader).set_saved(self._saved_text())
            self._redraw()
            return
        self.query_one(RatingHeader).set_saved("⚠ not saved")
        self.notify(f"Not saved: {message}", severity="error", timeout=8)
        self._redraw()

    def _changed_elsewhere(self, name: str, stale: StaleChange) -> None:
        """A rating refused because it changed in another window since: the value it holds now is
        shown (and its version counted on from here); nothing is written over it."""
        if stale.current is None:
            self.values.pop(name, None)
        else:
            self.values[name] = stale.current
        self.query_one(RatingHeader).set_saved("⚠ changed elsewhere")
        self.notify(changed_elsewhere(self.codebook.field(name), stale.current), severity="warning", timeout=10)
        self._redraw()

    # ------------------------------------------------------------------ app
    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS, help_intro(self.scale.cannot_rate)))

    def on_unmount(self) -> None:
        self.writer.stop()

    async def shutdown(self) -> None:
        """Save where the rater is and wait for every pending write to commit."""
        import asyncio

        record_id, name = self.record_id, (self.field.name if self.field else None)
        self.writer.submit(lambda: self.session.save_position(record_id, None, name), "position")
        await asyncio.to_thread(self.writer.drain)
        self.writer.stop()


def _keys_range(keys: dict[str, Any]) -> str:
    ks = list(keys)
    if (
        len(ks) > 2
        and all(k.isdigit() for k in ks)
        and [int(k) for k in ks] == list(range(int(ks[0]), int(ks[-1]) + 1))
    ):
        return f"{ks[0]}-{ks[-1]}"
    return ", ".join(ks)


def _n(x: float | None) -> str:
    if x is None:
        return "—"
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _shown(f, value: Any) -> str:
    if value is None:
        return "unrated"
    if value in f.missing_codes:
        return "cannot rate"
    return str(value)
