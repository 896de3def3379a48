"""The coding screen: queue | note | form. Every change is saved the moment it is made.

Attributes down, messages up: the screen owns the session, the current record view and
the cursor; widgets draw what they are given and post messages. Writes go through the
StoreWriter (one ordered worker thread); reads are small indexed queries.

Branching logic: the record's Form (Codebook.form) is rebuilt from the coder's codes whenever
they change. Fields that do not apply are shown "n/a" and are skipped by Tab, Shift+Tab and the
move on after a code; a key pressed on one only says so. When a change makes coded fields stop
applying the screen asks once whether to clear them (ClearInapplicable).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Input, Static

from chartcode.codebook.model import Form
from chartcode.coding import STATUS_FILTERS, CodingSession, RecordView, Slot
from chartcode.errors import UserError
from chartcode.store import StaleChange
from chartcode.tui import keytrace
from chartcode.tui.bindings import CODING_KEYS, bindings
from chartcode.tui.screens.modals import ClearInapplicable, HelpScreen, SecondWindow, TextPrompt
from chartcode.tui.screens.search import SearchScreen
from chartcode.tui.widgets.coding_form import CodingForm, changed_elsewhere, choice_keys, record_form, toggle, toggles
from chartcode.tui.widgets.footer import compact_footer
from chartcode.tui.widgets.header import ProgressHeader
from chartcode.tui.widgets.not_applicable import na_hint
from chartcode.tui.widgets.note_view import NoteView
from chartcode.tui.widgets.queue import RecordQueue
from chartcode.tui.writer import Saved, SaveFailed, StoreWriter, Waiting

HELP_INTRO = (
    "Read the note on the left, code the focused field on the right. Every change is saved at once "
    "(watch for ✓ saved at the top). Choice fields: press the key shown beside the choice (check all that "
    "apply: each key ticks or unticks, Enter keeps the set). Number, date "
    "and text fields: type, then Enter. Tab moves on; d marks the record done."
)


# Current Textual sets a screen's breakpoint classes in one batch that restyles nothing when they are
# already right (Screen._on_resize -> DOMNode.update_classes). Older releases (3.4, our floor:
# Screen._set_breakpoints) remove them all and add the chosen one back, restyling twice whatever was
# set before, and there a screen reopened with them set in compose left its focused row out of view
# (tests/tui/test_focus_where_the_work_is.py): with those, Textual alone sets them.
BREAKPOINTS_UNCHANGED_KEEP_STYLES = not hasattr(Screen, "_set_breakpoints")


def first_work(view: RecordView, form: Form | None = None) -> int:
    """Where a record opens: its first empty required field, else its first empty field, else the
    first field that applies; fields that do not apply (n/a) are never the work to do."""
    form = form if form is not None else record_form(view)
    applying = [i for i, s in enumerate(view.slots) if form.applies(s.note_id, s.field)]
    empty = [i for i in applying if view.values.get(view.slots[i].key) is None]
    return next((i for i in empty if view.slots[i].field.required), empty[0] if empty else (applying or [0])[0])


class CodingScreen(Screen):
    KEYS = CODING_KEYS
    BINDINGS = [*bindings(CODING_KEYS), Binding("escape", "escape", show=False)]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide"), (160, "-widest")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    AUTO_FOCUS = ""  # no auto-focus: keys go to the screen (coding) until the coder moves focus on purpose

    def __init__(self, session: CodingSession, title: str, *, frozen_clock: bool = False):
        super().__init__()
        self.session = session
        self.audit_title = title
        self.frozen_clock = frozen_clock
        self.view: RecordView | None = None
        self.cursor = 0
        self.note_idx = 0
        self.terms: tuple[str, ...] = ()
        self.pending: dict[int, tuple[str | None, str]] = {}
        self.queue_text = ""
        self.queue_status = "all"
        self.started = time.monotonic()
        self.commit_seconds: list[float] = []
        self.writer = StoreWriter(self)
        self.read_only = False  # another window has this coder's screen (store/leases.py)
        self.window_id = uuid.uuid4().hex
        self._form: Form | None = None  # the current record's Form, for the codes in _form_key
        self._form_key: tuple[Any, ...] | None = None
        self._trace: keytrace.KeyTrace | None = None  # the app's (CHARTCODE_KEY_TRACE), from on_mount
        self._resumed = False  # see _on_screen_resume

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        if BREAKPOINTS_UNCHANGED_KEEP_STYLES:
            self._breakpoints_for(self.app.size.width, self.app.size.height)
        yield ProgressHeader(self.audit_title, self.session.coder, id="header")
        with Horizontal(id="main"):
            with Vertical(id="queue-pane"):
                yield Input(placeholder="filter record ids", id="queue-filter")
                yield Static("", id="queue-status")
                yield RecordQueue(self._queue_count, self._queue_page, id="queue")
            yield NoteView(id="note")
            yield CodingForm(id="form")
        yield compact_footer()

    def _on_screen_resume(self, event: Any) -> None:
        """The first resume only: Textual restyles every widget of a screen it resumes, in case its
        styles changed while it was covered; the first time its widgets were styled as they
        mounted, moments before, so that second pass (~10% of the work after the imports) is
        skipped. Runs before Textual's own Screen._on_screen_resume (Textual calls each class's
        handler, subclass first); Textual releases whose ScreenResume has no refresh_styles always
        restyle."""
        if not self._resumed:
            self._resumed = True
            if hasattr(event, "refresh_styles"):
                event.refresh_styles = False

    def _breakpoints_for(self, width: int, height: int) -> None:
        """The breakpoint classes (-narrow, -tall, ...) of the terminal's size, set before the widgets
        are first styled. Textual sets them on the first resize, which restyled every widget of the
        screen a second time and laid it out again (~0.02 s of CPU, 3-5% of start-up); finding them
        in place, it has nothing to change."""
        for size, points in ((width, self.HORIZONTAL_BREAKPOINTS or []), (height, self.VERTICAL_BREAKPOINTS or [])):
            chosen = next((name for at, name in sorted(points, reverse=True) if size >= at), None)
            for _, name in points:
                self.set_class(name == chosen, name, update=False)

    def _queue_count(self) -> int:
        return self.session.queue_count(self.queue_text, self.queue_status)

    def _queue_page(self, offset: int, limit: int):
        return self.session.queue_page(offset, limit, self.queue_text, self.queue_status)

    def on_mount(self) -> None:
        self._trace = keytrace.of(self.app)
        if self._trace is not None:  # CHARTCODE_KEY_TRACE: time each layout and each paint of the screen
            self._trace.wrap(self, "_compositor_refresh", "paint")
            self._trace.wrap(self, "_refresh_layout", "layout")
        for scroller in self.query(VerticalScroll):
            scroller.can_focus = False
        self.writer.start()
        self.query_one(RecordQueue).reload()
        self._update_queue_status()
        self._update_progress()
        if not self.frozen_clock:
            self.set_interval(1, self._tick)
        self._tick()
        self._take_lease()
        self._open_start()

    # ------------------------------------------------------------------ one window per coder
    def _leases(self) -> bool:
        # the team server keeps no leases yet: its version check refuses stale writes instead
        return getattr(type(self.session.store), "acquire_lease", None) is not None

    def _take_lease(self, take_over: bool = False) -> None:
        if not self._leases():
            return
        from chartcode.store import HEARTBEAT_SECONDS

        store, coder = self.session.store, self.session.coder
        other = store.acquire_lease(coder, self.window_id, take_over=take_over)
        if other is None:
            self._set_read_only(False)
            if not getattr(self, "_beating", False):
                self._beating = True
                self.set_interval(HEARTBEAT_SECONDS, self._heartbeat)
            return
        self._set_read_only(True)
        where = f"Open since {other.started_at[11:19]} UTC on {other.host} (process {other.pid})"

        def chosen(choice: str | None) -> None:
            if choice == "take_over":
                self._take_lease(take_over=True)
                self.notify("You took over: the other window is now read-only.")
            elif choice == "quit":
                self.app.exit()
            else:
                self.notify("Read-only: another window has this coder's coding screen.", timeout=6)

        self.app.push_screen(SecondWindow(coder, where), chosen)

    def _heartbeat(self) -> None:
        if self.read_only or not self._leases():
            return
        if not self.session.store.renew_lease(self.session.coder, self.window_id):
            self._set_read_only(True)
            self.notify(
                "Another window took over this coder's coding screen: this one is read-only now.",
                severity="warning",
                timeout=10,
            )

    def _set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        self.set_class(read_only, "-read-only")
        self.query_one(ProgressHeader).set_saved("read-only" if read_only else "")

    def _writable(self) -> bool:
        if self.read_only:
            self.notify(
                "Read-only: another window has this coder's coding screen; nothing was saved here.",
                severity="warning",
            )
        return not self.read_only

    def _open_start(self) -> None:
        pos = self.session.position()
        if pos and pos[0] and self.session.is_assigned(pos[0]):
            # back to the record left off, at the work still to do there (its first empty required field)
            self.open_record(pos[0])
            return
        first = self.session.first_unfinished() or self.session.first_record()
        if first is None:
            self._show_no_assignments()
            return
        self.open_record(first)

    def _show_no_assignments(self) -> None:
        """Nothing assigned: one message with the exact command that assigns records, and no box
        to type into (the coder can only quit; keys that code do nothing without a record)."""
        import shlex

        path = getattr(self.session.store, "path", None)  # a team server's URL may hold a password: not shown
        db = shlex.quote(str(path)) if path is not None else "DB"
        coder = shlex.quote(self.session.coder)
        command = f"chartcode assign {db} --coder {coder} --all"
        message = Text()
        message.append("A lead assigns records from the command line, for example every record:\n\n")
        message.append(f"  {command}\n\n", style="bold cyan")
        message.append("(or --n 6 --seed 1 for a sample). Then open this screen again. Ctrl+Q quits.")
        self.query_one(NoteView).show_message(f"No records are assigned to {self.session.coder}.", message)
        self.query_one(CodingForm).show_nothing("")
        self.set_focus(None)

    def _tick(self) -> None:
        elapsed = 0 if self.frozen_clock else int(time.monotonic() - self.started)
        self.query_one(ProgressHeader).set_elapsed(elapsed)

    def _update_progress(self) -> None:
        done, assigned = self.session.progress()
        self.query_one(ProgressHeader).set_progress(done, assigned)

    def _update_queue_status(self) -> None:
        names = {
            "all": "all records",
            "todo": "to do",
            "not_started": "not started",
            "in_progress": "in progress",
            "done": "done",
            "flagged": "flagged",
        }
        n = self.query_one(RecordQueue).row_count  # counted by its reload(), which always comes first
        self.query_one("#queue-status", Static).update(f" {names[self.queue_status]} ({n}) · s cycles")

    # ------------------------------------------------------------------ opening records and moving
    def open_record(self, record_id: str, *, note_id: str | None = None, field: str | None = None) -> None:
        self.view = self.session.load(record_id)
        view = self.view
        self.terms = self.terms if note_id else ()
        cursor = None
        if field is not None:
            for i, s in enumerate(view.slots):
                if s.field.name == field and s.note_id == note_id:
                    cursor = i
        if cursor is None:
            cursor = first_work(view, self._record_form(view))
        self.cursor = cursor
        self.note_idx = 0
        if note_id and note_id in view.note_index:
            self.note_idx = view.note_index[note_id]
        elif view.slots and (slot_note := view.slots[cursor].note_id):
            self.note_idx = view.note_index[slot_note]
        queue = self.query_one(RecordQueue)
        queue.show_current(record_id, self.session.queue_index(record_id, self.queue_text, self.queue_status))
        self._show_note()
        self._show_form()
        self._focus_for_slot()
        slot = self.current_slot
        if self.read_only:  # where this coder left off belongs to the window that has the lease
            return
        self.writer.submit(
            lambda: self.session.save_position(
                record_id, slot.note_id if slot else None, slot.field.name if slot else None
            ),
            "position",
        )

    def _record_form(self, view: RecordView) -> Form:
        """``view`` read through the branching logic, for its codes as they are now. Kept until a
        code changes: one key asks it several questions, and a Form costs about a millisecond on
        the demo's largest record."""
        key = (view.record_id, id(view), frozenset(view.values.items()))
        if self._form_key != key or self._form is None:
            self._form_key, self._form = key, record_form(view)
        return self._form

    def form(self) -> Form | None:
        """The current record read through the branching logic, for the codes as they are now."""
        return None if self.view is None else self._record_form(self.view)

    def applies(self, index: int, form: Form | None = None) -> bool:
        view = self.view
        if view is None or not 0 <= index < len(view.slots):
            return False
        form = form or self._record_form(view)
        slot = view.slots[index]
        return form.applies(slot.note_id, slot.field)

    def _show_form(self) -> None:
        if self.view is not None:
            self.query_one(CodingForm).show(
                self.view, self.cursor, set(self.pending.values()), self._record_form(self.view)
            )

    def _step_index(self, step: int) -> int:
        """The next slot that applies from the cursor in direction ``step`` (the cursor, if none)."""
        view = self.view
        if view is None:
            return self.cursor
        form = self._record_form(view)
        i = self.cursor + step
        while 0 <= i < len(view.slots):
            if self.applies(i, form):
                return i
            i += step
        return self.cursor

    def step_cursor(self, step: int) -> None:
        self.move_cursor(self._step_index(step))

    @property
    def current_slot(self) -> Slot | None:
        if self.view is None or not self.view.slots:
            return None
        return self.view.slots[self.cursor]

    def _show_note(self, banner: str | None = None) -> None:
        view = self.view
        if view is None:
            return
        notes = view.notes
        note = notes[self.note_idx] if notes else None
        text = self.session.note_text(note["note_id"]) if note else ""
        self.query_one(NoteView).show(
            view.record_id, note, text, self.note_idx, len(notes), self.session.codebook.cues, self.terms, banner
        )

    def _focus_for_slot(self) -> None:
        slot = self.current_slot
        if slot is not None and not slot.field.has_choices and self.applies(self.cursor):
            self.query_one("#form-entry", Input).focus()
        else:
            self.set_focus(None)

    def move_cursor(self, index: int) -> None:
        if self.view is None or not self.view.slots:
            return
        index = max(0, min(len(self.view.slots) - 1, index))
        self.cursor = index
        slot = self.view.slots[index]
        if slot.note_id is not None and self.view.note_index.get(slot.note_id) != self.note_idx:
            self.note_idx = self.view.note_index[slot.note_id]
            self._show_note()
        self._show_form()
        self._focus_for_slot()

    # ------------------------------------------------------------------ saving
    def _save(
        self, slot: Slot, value: Any, *, advance: bool, reason: str | None = None, ask_to_clear: bool = True
    ) -> None:
        """Queue one code change; when it makes coded fields stop applying, ask once whether to
        clear them (not for the clearings that answer asks)."""
        view = self.view
        assert view is not None
        if not self._writable():
            return
        old = view.values.get(slot.key)
        logic = view.codebook.has_logic  # without show_if nothing can stop applying
        before = {(nid, f.name) for nid, f in self._record_form(view).inapplicable_coded()} if logic else set()
        if value is None:
            view.values.pop(slot.key, None)
        else:
            view.values[slot.key] = value
        record_id = view.record_id
        ticket = self.session.ticket(record_id, slot)  # the version this change is made against
        job = self.writer.submit(
            lambda: self.session.set(record_id, slot, value, ticket, reason=reason),
            "code",
            (record_id, slot, old, ticket),
        )
        self.pending[job.id] = slot.key
        # The key's commit before its redraw: moving the cursor and drawing the form (and the layout
        # and paint after them) would otherwise hold the interpreter lock the transaction needs
        # (traced: the commit finished behind the redraw, 20-60 ms on a busy machine).
        self.writer.commit_first(job)
        if advance and self._step_index(1) != self.cursor:
            self.step_cursor(1)
        else:
            self._show_form()
        if logic and ask_to_clear:  # a clearing asked for below is not itself a reason to ask again
            stopped = [
                (nid, f) for nid, f in self._record_form(view).inapplicable_coded() if (nid, f.name) not in before
            ]
            if stopped:
                self._ask_to_clear(slot, stopped)

    def _ask_to_clear(self, changed: Slot, stopped: list[tuple[str | None, Any]]) -> None:
        """Codes that stopped applying because ``changed`` changed: ask once; y clears each (its own
        set_code with the reason, through the writer), n keeps them stored as n/a."""
        view = self.view
        assert view is not None
        record_id = view.record_id
        labels = [f.label if nid is None else f"{view.note_label(nid).capitalize()}: {f.label}" for nid, f in stopped]

        def answered(clear: bool | None) -> None:
            if self.view is None or self.view.record_id != record_id:
                return
            if not clear:
                self.notify(f"Kept {len(stopped)} code(s): stored, and n/a while they do not apply.", timeout=4)
                return
            still = {(nid, f.name) for nid, f in self._record_form(self.view).inapplicable_coded()}
            reason = f"not applicable: [{changed.field.name}] changed"
            cleared = 0
            for nid, f in stopped:
                if (nid, f.name) in still:  # a later change (or a failed save) may have settled it
                    self._save(Slot(f, nid), None, advance=False, reason=reason, ask_to_clear=False)
                    cleared += 1
            self.notify(f"Cleared {cleared} code(s) that no longer apply.", timeout=4)

        self.app.push_screen(ClearInapplicable(changed.field.label, labels), answered)

    @on(Saved)
    def saved(self, event: Saved) -> None:
        trace = self._trace
        if trace is None:
            self._saved(event)
        else:
            trace.mark("saved", event.job.id, event.job.kind)
            self._saved(event)
            trace.mark("saved_end", event.job.id, event.job.kind)

    def _saved(self, event: Saved) -> None:
        job = event.job
        self.pending.pop(job.id, None)
        if job.kind == "position":
            return
        stamp = time.strftime("%H:%M:%S") if not self.frozen_clock else "12:00:00"
        self.query_one(ProgressHeader).set_saved(f"✓ saved {stamp}" if not self.pending else "saving…")
        view = self.view
        if job.kind == "code":
            self.commit_seconds.append(event.seconds)
            self.session.versions.settle(job.context[3])
            record_id = job.context[0]
            if view is not None and view.record_id == record_id and view.status == "not_started":
                view.status = "in_progress"
                self.query_one(RecordQueue).reload()
        elif job.kind == "undo":
            change = event.result
            if change is None:
                self.notify("Nothing to undo in this session.", severity="warning")
            elif view is not None and change.record_id == view.record_id:
                self.session.versions.note(change.record_id, change.note_id, change.field, change.version)
                key = (change.note_id, change.field)
                if change.new is None:
                    view.values.pop(key, None)
                else:
                    view.values[key] = change.new
                for i, s in enumerate(view.slots):
                    if s.key == key:
                        self.move_cursor(i)
                        break
                self.notify(f"Undone: {change.field} is {'empty' if change.new is None else change.new} again.")
            else:
                self.session.versions.note(change.record_id, change.note_id, change.field, change.version)
                self.notify(f"Undone on record {change.record_id}: {change.field}.")
        elif job.kind == "done":
            record_id = job.context
            self._update_progress()
            self.query_one(RecordQueue).reload()
            self._update_queue_status()
            nxt = self.session.first_unfinished(after=record_id)
            if nxt is None:
                self.notify(f"{record_id} done. Every record in your queue is done.", title="All done")
                self.open_record(record_id)
            else:
                self.notify(f"{record_id} done. Next unfinished: {nxt}.")
                self.open_record(nxt)
            return
        elif job.kind in ("flag", "memo"):
            if job.kind == "memo":
                self.session.versions.settle(job.context[0])
            self.query_one(RecordQueue).reload()
        if view is not None:
            self._show_form()

    def _changed_elsewhere(self, record_id: str, slot: Slot, stale: StaleChange) -> None:
        """A change refused because the code changed in another window: show the value it holds now
        (and count on its version from here), never write over it."""
        view = self.view
        if view is not None and view.record_id == record_id:
            if stale.current is None:
                view.values.pop(slot.key, None)
            else:
                view.values[slot.key] = stale.current
            self._show_form()
        self.query_one(ProgressHeader).set_saved("⚠ changed elsewhere")
        self.notify(changed_elsewhere(slot.field, stale.current), severity="warning", timeout=10)

    @on(Waiting)
    def waiting(self, event: Waiting) -> None:
        self.query_one(ProgressHeader).set_saved(event.text(len(self.pending)) if event.waiting else "saving…")

    @on(SaveFailed)
    def save_failed(self, event: SaveFailed) -> None:
        job = event.job
        self.pending.pop(job.id, None)
        error = event.error
        message = str(error) if isinstance(error, UserError) else f"{type(error).__name__}: {error}"
        if job.kind == "code":
            record_id, slot, old, ticket = job.context
            self.session.versions.settle(ticket)
            if isinstance(error, StaleChange):
                self._changed_elsewhere(record_id, slot, error)
                return
            if self.view is not None and self.view.record_id == record_id:
                if old is None:
                    self.view.values.pop(slot.key, None)
                else:
                    self.view.values[slot.key] = old
                self._show_form()
            self.query_one(ProgressHeader).set_saved("⚠ not saved")
            self.notify(f"Not saved: {message}", severity="error", timeout=8)
        elif job.kind == "done":
            self.notify(message, title="Not done", severity="error", timeout=8)
        elif job.kind == "memo":
            ticket, record_id, slot, old_memo = job.context
            self.session.versions.settle(ticket)
            if self.view is not None and self.view.record_id == record_id:
                if old_memo:
                    self.view.memos[slot.key] = old_memo
                else:
                    self.view.memos.pop(slot.key, None)
                self._show_form()
            if isinstance(error, StaleChange):
                self._changed_elsewhere(record_id, slot, error)
            else:
                self.notify(f"Not saved: {message}", severity="error", timeout=8)
        elif job.kind != "position":
            self.notify(f"Not saved: {message}", severity="error", timeout=8)

    # ------------------------------------------------------------------ coding actions
    def action_choose(self, key: str) -> None:
        slot = self.current_slot
        if slot is None:
            return
        if not self.applies(self.cursor):  # nothing to code on a field that does not apply
            self.notify(na_hint(slot.field), timeout=3)
            return
        if not slot.field.has_choices:
            self.query_one("#form-entry", Input).focus()
            return
        keys = choice_keys(slot.field)
        if key not in keys:
            self.notify(f"{slot.field.label}: no choice [{key}] (keys {', '.join(keys)})", severity="warning")
            return
        if toggles(slot.field):
            self._toggle(slot, key)
            return
        self._save(slot, keys[key], advance=True)

    # check all that apply: its own input mode
    def _toggle(self, slot: Slot, key: str) -> None:
        """Tick or untick one option: a committed change of its own ("added 2" / "removed 3")."""
        if self.view is None:
            return
        changed = toggle(slot.field, self.view.values.get(slot.key), key)
        if changed is not None:
            value, reason = changed
            self._save(slot, value, advance=False, reason=reason)

    def action_keep_set(self) -> None:
        """Enter on a check-all-that-apply field: keep the ticked set and move on (an untouched
        field is coded as none ticked: that is an answer, and Tab leaves it uncoded)."""
        slot = self.current_slot
        if slot is None or self.view is None or not toggles(slot.field) or not self.applies(self.cursor):
            return
        if self.view.values.get(slot.key) is None:
            self._save(slot, "", advance=True, reason="none ticked")
        else:
            self.move_cursor(self.cursor + 1)

    @on(CodingForm.Entered)
    def entered(self, event: CodingForm.Entered) -> None:
        self._commit_entry(event.raw, advance=True)

    @on(Input.Changed, "#form-entry")
    def entry_changed(self, event: Input.Changed) -> None:
        """A value the field's type calls complete saves itself without waiting for Enter (a count
        once no further digit could fit: ``61`` when the maximum is 110, or ``0``)."""
        slot = self.current_slot
        if slot is None or not self.query_one("#form-entry", Input).has_focus or not self.applies(self.cursor):
            return
        text = event.value.strip()
        if slot.field.kind.saves_itself(slot.field, text):  # the field type's auto-save rule
            self._commit_entry(text, advance=True)

    def _commit_entry(self, raw: str, *, advance: bool) -> bool:
        slot = self.current_slot
        if slot is None or slot.field.has_choices or self.view is None or not self.applies(self.cursor):
            return True
        current = self.view.values.get(slot.key)
        if not raw.strip():
            if advance:
                self.step_cursor(1)
            return True
        try:
            value = self.session.parse(slot, raw)
        except UserError as exc:
            self.query_one(CodingForm).show_error(str(exc))
            return False
        if value == current:
            if advance:
                self.step_cursor(1)
            return True
        self._save(slot, value, advance=advance)
        return True

    def _leave_entry(self) -> bool:
        """Before moving off a typed field, save what was typed (or stay, if it is invalid)."""
        entry = self.query_one("#form-entry", Input)
        slot = self.current_slot
        if slot is None or slot.field.has_choices or self.view is None or not self.applies(self.cursor):
            return True
        current = self.view.values.get(slot.key)
        if entry.value.strip() and entry.value.strip() != ("" if current is None else str(current)):
            return self._commit_entry(entry.value, advance=False)
        return True

    def action_next_field(self) -> None:
        if self._leave_entry():
            self.step_cursor(1)

    def action_prev_field(self) -> None:
        if self._leave_entry():
            self.step_cursor(-1)

    def action_clear(self) -> None:
        slot = self.current_slot
        if slot is not None and self.view is not None and self.view.values.get(slot.key) is not None:
            self._save(slot, None, advance=False)

    def action_undo(self) -> None:
        if not self._writable():
            return
        self.writer.submit(self.session.undo, "undo")

    def action_memo(self) -> None:
        slot, view = self.current_slot, self.view
        if slot is None or view is None or not self._writable():
            return
        if view.values.get(slot.key) is None:
            self.notify("Code this field first, then add a memo on the code.", severity="warning")
            return
        record_id = view.record_id

        def done(text: str | None) -> None:
            if text is None:
                return
            text = text.strip()
            old_memo = view.memos.get(slot.key)
            if text:
                view.memos[slot.key] = text
            else:
                view.memos.pop(slot.key, None)
            ticket = self.session.ticket(record_id, slot)
            self.writer.submit(
                lambda: self.session.memo(record_id, slot, text, ticket), "memo", (ticket, record_id, slot, old_memo)
            )
            self._show_form()

        self.app.push_screen(
            TextPrompt(
                f"Memo on {slot.field.label}", view.memos.get(slot.key, ""), "why this code?", "Empty removes the memo."
            ),
            done,
        )

    def action_flag(self) -> None:
        view = self.view
        if view is None or not self._writable():
            return
        record_id = view.record_id

        def done(text: str | None) -> None:
            if text is None:
                return
            text = text.strip()
            if not text and not view.flagged:
                self.notify("A flag needs a comment for the supervisor.", severity="warning")
                return
            view.flagged, view.flag_comment = bool(text), text or None
            self.writer.submit(lambda: self.session.flag(record_id, text, flagged=bool(text)), "flag")
            self.notify(f"{record_id} flagged for the supervisor." if text else f"Flag removed from {record_id}.")
            self.query_one(CodingForm).update_title(view)

        title = f"Flag {record_id} for the supervisor: what should they look at?"
        note = "Empty removes the flag." if view.flagged else ""
        self.app.push_screen(TextPrompt(title, view.flag_comment or "", "comment", note), done)

    def action_done(self) -> None:
        view = self.view
        if view is None or not self._writable() or not self._leave_entry():
            return
        missing = view.missing()
        if missing:
            self.notify(
                f"{len(missing)} required field(s) empty: {view.describe_missing()}",
                title=f"{view.record_id} not done",
                severity="error",
                timeout=10,
            )
            self.move_cursor(view.slots.index(missing[0]))
            return
        record_id = view.record_id
        self.writer.submit(lambda: self.session.done(record_id), "done", record_id)

    # ------------------------------------------------------------------ reading
    def action_next_note(self) -> None:
        self._step_note(1)

    def action_prev_note(self) -> None:
        self._step_note(-1)

    def _step_note(self, step: int) -> None:
        view = self.view
        if view is None or not view.notes:
            return
        idx = self.note_idx + step
        if not 0 <= idx < len(view.notes):
            self.notify("No more notes in this record." if step > 0 else "This is the first note.", timeout=2)
            return
        self.note_idx = idx
        self._show_note()
        note_id = view.notes[idx]["note_id"]
        form = self._record_form(view)
        on_note = [i for i, s in enumerate(view.slots) if s.note_id == note_id]
        first = next((i for i in on_note if self.applies(i, form)), on_note[0] if on_note else None)
        if first is not None:
            self.move_cursor(first)

    def action_scroll_note(self, direction: int) -> None:
        self.query_one(NoteView).scroll_page(direction)

    def action_search(self) -> None:
        record_id = self.view.record_id if self.view else None

        def done(result: dict[str, Any] | None) -> None:
            if not result:
                return
            self.terms = result.get("terms", ())
            rid, nid = result["record_id"], result["note_id"]
            if self.view is not None and rid == self.view.record_id:
                self.note_idx = self.view.note_index[nid]
                self._show_note()
            elif self.session.is_assigned(rid):
                self.open_record(rid, note_id=nid)
            else:
                note = self.session.store.note(nid) or {}
                self.query_one(NoteView).show(
                    rid,
                    note,
                    note.get("text", ""),
                    0,
                    1,
                    self.session.codebook.cues,
                    self.terms,
                    banner="(not in your queue: read only; ] or [ to go back)",
                )

        self.app.push_screen(SearchScreen(self.session, record_id), done)

    # ------------------------------------------------------------------ records
    def _go(self, record_id: str | None, message: str) -> None:
        if not self._leave_entry():
            return
        if record_id is None:
            self.notify(message, timeout=3)
        else:
            self.open_record(record_id)

    def action_next_record(self) -> None:
        if self.view:
            self._go(self.session.neighbour(self.view.record_id, 1), "This is the last record.")

    def action_prev_record(self) -> None:
        if self.view:
            self._go(self.session.neighbour(self.view.record_id, -1), "This is the first record.")

    def action_next_unfinished(self) -> None:
        after = self.view.record_id if self.view else None
        nxt = self.session.first_unfinished(after=after)
        if nxt is not None and self.view is not None and nxt == self.view.record_id:
            self.notify("This is the only unfinished record.", timeout=3)
            return
        self._go(nxt, "Every record in your queue is done.")

    def action_focus_queue(self) -> None:
        self.add_class("-show-queue")
        self.query_one(RecordQueue).focus()

    def action_filter_queue(self) -> None:
        self.add_class("-show-queue")
        self.query_one("#queue-filter", Input).focus()

    def action_cycle_status(self) -> None:
        i = STATUS_FILTERS.index(self.queue_status)
        self.queue_status = STATUS_FILTERS[(i + 1) % len(STATUS_FILTERS)]
        self.add_class("-show-queue")
        self._reload_queue()

    def _reload_queue(self) -> None:
        queue = self.query_one(RecordQueue)
        queue.reload()
        if self.view is not None:
            queue.show_current(
                self.view.record_id, self.session.queue_index(self.view.record_id, self.queue_text, self.queue_status)
            )
        self._update_queue_status()

    @on(Input.Changed, "#queue-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.queue_text = event.value.strip()
        self.query_one(RecordQueue).cursor = 0
        self._reload_queue()

    @on(Input.Submitted, "#queue-filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(RecordQueue).focus()

    @on(RecordQueue.Selected)
    def queue_selected(self, event: RecordQueue.Selected) -> None:
        self.remove_class("-show-queue")
        self.open_record(event.record_id)

    def action_escape(self) -> None:
        self.remove_class("-show-queue")
        self._focus_for_slot() if isinstance(self.focused, RecordQueue) or self.focused is None else self.set_focus(
            None
        )

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.KEYS, HELP_INTRO))

    def on_unmount(self) -> None:
        self.writer.stop()

    async def shutdown(self) -> None:
        """Save the position and wait for every pending write to commit."""
        import asyncio

        slot = self.current_slot
        if self.view is not None and not self.read_only:
            record_id = self.view.record_id
            self.writer.submit(
                lambda: self.session.save_position(
                    record_id, slot.note_id if slot else None, slot.field.name if slot else None
                ),
                "position",
            )
        await asyncio.to_thread(self.writer.drain)
        self.writer.stop()
        if self._leases() and not self.read_only:
            self.session.store.release_lease(self.session.coder, self.window_id)
