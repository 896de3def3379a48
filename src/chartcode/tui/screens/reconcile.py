"""The reconcile screen: the open disagreements beside the note, settled into consensus by keys.

Same conventions as the coding screen: one key decides (a/b/... takes a coder's value,
a digit takes another choice), a reason is always asked for, the consensus is saved at
once (apart from the coders' codes, with history), and the next disagreement comes up.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from chartcode.codebook.text import paragraphs
from chartcode.consensus import Unit, disagreements
from chartcode.store import Store
from chartcode.tui.bindings import RECONCILE_KEYS, bindings
from chartcode.tui.screens.modals import HelpScreen, TextPrompt
from chartcode.tui.widgets.coding_form import choice_keys, key_for, value_text
from chartcode.tui.widgets.footer import compact_footer
from chartcode.tui.widgets.header import ProgressHeader
from chartcode.tui.widgets.note_view import NoteView
from chartcode.tui.writer import Saved, SaveFailed, StoreWriter, Waiting

LETTERS = "abcdefgh"
HELP_INTRO = (
    "Each line on the left is a unit where coders gave different values. Read the note, then take one "
    "coder's value (a, b, ...) or another value (its key, or v to type one); give the reason. The "
    "consensus is saved at once, apart from the coders' own codes. A line marked 'applies?' is a field the "
    "coders disagree on applying (its show_if): settle the field it depends on (a jumps there) and its "
    "consensus decides it."
)


class ReconcileScreen(Screen):
    KEYS = RECONCILE_KEYS
    BINDINGS = bindings(RECONCILE_KEYS)
    AUTO_FOCUS = ""
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    def __init__(self, store: Store, decider: str, *, frozen_clock: bool = False):
        super().__init__()
        self.store = store
        self.decider = decider
        self.codebook = store.codebook
        self.units: list[Unit] = disagreements(store, open_only=False)
        self.index = next((i for i, u in enumerate(self.units) if not u.settled), 0)
        self.note_idx = 0
        self.notes: list[dict[str, Any]] = []
        self.writer = StoreWriter(self)
        self.frozen_clock = frozen_clock

    def compose(self) -> ComposeResult:
        yield ProgressHeader(self.store.title, self.decider, noun="settled", id="header")
        with Horizontal(id="main"):
            with Vertical(id="queue-pane"):
                yield Static(" disagreements", id="queue-status")
                yield OptionList(id="units")
            yield NoteView(id="note")
            with Vertical(id="form"):
                yield Static("", id="form-title")
                with VerticalScroll(id="unit-panel"):
                    yield Static("", id="unit-text")
        yield compact_footer()

    def on_mount(self) -> None:
        self.writer.start()
        units = self.query_one("#units", OptionList)
        units.can_focus = False
        for i, u in enumerate(self.units):
            units.add_option(Option(self._unit_label(u), id=str(i)))
        self._progress()
        if not self.units:
            self.query_one("#note-meta", Static).update(
                "No disagreements: every unit coded by two or more coders (who have all submitted) agrees."
            )
            return
        self.show_unit(self.index)

    def _unit_label(self, u: Unit) -> Text:
        where = u.record_id + (f" {u.note_id.rsplit('-', 1)[-1]}" if u.note_id else "")
        t = Text("✓ " if u.settled else "· ", style="green" if u.settled else "")
        t.append(f"{where} {u.field}")
        if u.kind == "applicability":  # settled through the controlling fields, not by a value
            t.append(" applies?" if not u.settled else (" n/a" if u.settled_as == "not_applicable" else " applies"))
        elif u.consensus is not None:  # what the settled value means, not only its code
            t.append(" = ")
            t.append_text(value_text(self.codebook.field(u.field), u.consensus, 24))
        return t

    def _progress(self) -> None:
        settled = sum(u.settled for u in self.units)
        header = self.query_one(ProgressHeader)
        header.set_progress(settled, len(self.units))

    @property
    def unit(self) -> Unit | None:
        return self.units[self.index] if self.units else None

    def show_unit(self, index: int) -> None:
        self.index = index
        u = self.units[index]
        self.notes = self.store.notes_for_record(u.record_id)
        ids = [n["note_id"] for n in self.notes]
        self.note_idx = ids.index(u.note_id) if u.note_id in ids else 0
        self._show_note()
        self.query_one("#units", OptionList).highlighted = index
        self._draw_panel()

    def _show_note(self) -> None:
        u = self.unit
        assert u is not None  # called once a unit is shown
        note = self.notes[self.note_idx] if self.notes else None
        stored = self.store.note(note["note_id"]) if note else None
        assert note is None or stored is not None  # the record's own note
        text = stored["text"] if stored else ""
        self.query_one(NoteView).show(u.record_id, note, text, self.note_idx, len(self.notes), self.codebook.cues)

    def _draw_panel(self) -> None:
        u = self.unit
        assert u is not None  # called once a unit is shown
        f = self.codebook.field(u.field)
        settled = sum(x.settled for x in self.units)
        self.query_one("#form-title", Static).update(
            Text(f"{settled}/{len(self.units)} settled · {self.index + 1} of {len(self.units)}", style="bold")
        )
        t = Text(f"{f.label}\n", style="bold")
        t.append(f"{u.record_id}" + (f" · note {u.note_id}" if u.note_id else " · record level") + "\n\n", style="dim")
        if u.kind == "applicability":
            self.query_one("#unit-text", Static).update(self._applicability_text(u, t))
            return
        for letter, (coder, value) in zip(LETTERS, u.values.items(), strict=False):
            shown = f"{value} {f.label_for(value)}".strip()
            t.append(f" [{letter}] ", style="bold cyan")
            t.append(f"{coder}: ", style="bold")
            t.append(f"{shown}\n")
            if u.memos.get(coder):
                t.append(f"      memo: {u.memos[coder]}\n", style="yellow")
        if u.consensus is not None:
            t.append(f"\nConsensus: {u.consensus} {f.label_for(u.consensus)}\n", style="bold green")
            t.append(f"Reason: {u.consensus_reason}\n", style="green")
        if f.has_choices:
            t.append("\nOther values:\n", style="bold")
            for key, code in choice_keys(f).items():
                t.append(f" [{key}] ", style="bold cyan")
                c = f.choice(code)
                assert c is not None  # choice_keys keys the field's own codes
                t.append(f"{c.label}\n")
        t.append("\n" + paragraphs(f.rules), style="dim")
        self.query_one("#unit-text", Static).update(t)

    def _applicability_text(self, u: Unit, t: Text) -> Text:
        """An applicability disagreement: who the field applies for, and the fields that settle it."""
        f = self.codebook.field(u.field)
        t.append(u.describe() + "\n\n", style="bold")
        for coder, applies in u.applies.items():
            value = u.values.get(coder)
            shown = f"{value} {f.label_for(value)}".strip() if applies and value is not None else ""
            t.append(f" {coder}: ", style="bold")
            t.append(("applies" + (f", coded {shown}" if shown else ", not coded")) if applies else "n/a", style="")
            t.append("\n")
        if u.settled:
            verdict = "not applicable" if u.settled_as == "not_applicable" else "applies"
            t.append(f"\nSettled: the final values of {self._through(u)} say it {verdict}.\n", style="bold green")
        else:
            t.append(f"\nSettle {self._through(u)} (a: go there); its consensus decides this one.\n", style="cyan")
        t.append(f"\nshow_if: {f.show_if}\n", style="dim")
        return t

    @staticmethod
    def _through(u: Unit) -> str:
        return ", ".join(f"[{c}]" for c in u.controlling)

    def _go_to_controlling(self, u: Unit) -> None:
        """Show the controlling field's disagreement on the same record (and note), if it is listed."""
        for i, x in enumerate(self.units):
            same_place = x.note_id is None or x.note_id == u.note_id
            if x.kind == "value" and x.record_id == u.record_id and x.field in u.controlling and same_place:
                self.show_unit(i)
                return
        self.notify(f"{self._through(u)} has no disagreement listed on {u.record_id}.", severity="warning")

    def _refresh_applicability(self) -> None:
        """After a consensus: applicability disagreements its controlling field settled are marked."""
        if not any(u.kind == "applicability" for u in self.units):
            return
        now = {(x.record_id, x.note_id, x.field): x for x in disagreements(self.store, open_only=False)}
        units = self.query_one("#units", OptionList)
        for i, u in enumerate(self.units):
            if u.kind != "applicability":
                continue
            fresh = now.get((u.record_id, u.note_id, u.field))
            settled_as = fresh.settled_as if fresh is not None and fresh.kind == "applicability" else u.settled_as
            if settled_as != u.settled_as:
                u.settled_as = settled_as
                units.replace_option_prompt_at_index(i, self._unit_label(u))

    # ------------------------------------------------------------------ deciding
    def action_pick(self, letter: str) -> None:
        u = self.unit
        if u is None:
            return
        if u.kind == "applicability":
            self._go_to_controlling(u)
            return
        i = LETTERS.index(letter)
        if i >= len(u.values):
            self.notify(f"No coder [{letter}] for this unit.", severity="warning")
            return
        coder, value = list(u.values.items())[i]
        self._decide(value, f"{coder}'s value")

    def action_choose(self, key: str) -> None:
        u = self.unit
        if u is None:
            return
        if u.kind == "applicability":
            self.notify(f"Settle {self._through(u)}: its consensus decides whether this applies.")
            return
        f = self.codebook.field(u.field)
        keys = choice_keys(f) if f.has_choices else {}
        if key not in keys:
            self.notify(f"No choice [{key}] for {f.label}.", severity="warning")
            return
        self._decide(keys[key], f"choice [{key_for(f, keys[key])}]")

    def action_other_value(self) -> None:
        u = self.unit
        if u is None:
            return
        if u.kind == "applicability":
            self.notify(f"Settle {self._through(u)}: its consensus decides whether this applies.")
            return
        f = self.codebook.field(u.field)

        def typed(raw: str | None) -> None:
            if raw:
                try:
                    value = f.parse(raw)
                except ValueError as exc:
                    self.notify(str(exc), severity="error")
                    return
                self._decide(value, "a typed value")

        self.app.push_screen(TextPrompt(f"Consensus value for {f.label}", "", "value"), typed)

    def _decide(self, value: Any, what: str) -> None:
        u = self.unit
        assert u is not None  # the actions that decide return early without a unit
        f = self.codebook.field(u.field)
        shown = f"{value} {f.label_for(value)}".strip()

        def reason_given(reason: str | None) -> None:
            if reason is None:
                return
            if not reason.strip():
                self.notify("A consensus needs a reason.", severity="warning")
                return
            index = self.index
            self.writer.submit(
                lambda: self.store.set_consensus(
                    u.record_id, u.field, value, note_id=u.note_id, reason=reason, decided_by=self.decider
                ),
                "consensus",
                (index, value, reason.strip()),
            )

        self.app.push_screen(TextPrompt(f"Consensus {shown} ({what}) - why?", "", "reason (required)"), reason_given)

    @on(Saved)
    def saved(self, event: Saved) -> None:
        if event.job.kind != "consensus":
            return
        index, value, reason = event.job.context
        u = self.units[index]
        u.consensus, u.consensus_reason = value, reason
        units = self.query_one("#units", OptionList)
        units.replace_option_prompt_at_index(index, self._unit_label(u))
        self._refresh_applicability()
        self._progress()
        self.query_one(ProgressHeader).set_saved("✓ saved" if self.frozen_clock else f"✓ saved {_now()}")
        nxt = next(
            (i for i in range(index + 1, len(self.units)) if not self.units[i].settled),
            next((i for i in range(len(self.units)) if not self.units[i].settled), None),
        )
        if nxt is None:
            self.notify("Every disagreement is settled.", title="Done")
            self._draw_panel()
        else:
            self.show_unit(nxt)

    @on(Waiting)
    def waiting(self, event: Waiting) -> None:
        self.query_one(ProgressHeader).set_saved(event.text(self.writer.pending()) if event.waiting else "saving…")

    @on(SaveFailed)
    def failed(self, event: SaveFailed) -> None:
        self.notify(f"Not saved: {event.error}", severity="error", timeout=8)

    # ------------------------------------------------------------------ moving and reading
    def action_next_unit(self) -> None:
        if self.units:
            self.show_unit(min(len(self.units) - 1, self.index + 1))

    def action_prev_unit(self) -> None:
        if self.units:
            self.show_unit(max(0, self.index - 1))

    def action_next_note(self) -> None:
        if self.notes and self.note_idx < len(self.notes) - 1:
            self.note_idx += 1
            self._show_note()

    def action_prev_note(self) -> None:
        if self.notes and self.note_idx > 0:
            self.note_idx -= 1
            self._show_note()

    def action_scroll_note(self, direction: int) -> None:
        self.query_one(NoteView).scroll_page(direction)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS, HELP_INTRO))

    def on_unmount(self) -> None:
        self.writer.stop()

    async def shutdown(self) -> None:
        import asyncio

        await asyncio.to_thread(self.writer.drain)
        self.writer.stop()


def _now() -> str:
    import time

    return time.strftime("%H:%M:%S")
