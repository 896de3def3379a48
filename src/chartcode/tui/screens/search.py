"""Full-text search over the current record's notes or all notes (SQLite FTS5)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chartcode.coding import CodingSession


class SearchScreen(ModalScreen[dict[str, Any] | None]):
    """Type words, Enter searches; ↓ to the results, Enter opens one. Ctrl+T: this record / all notes."""

    BINDINGS = [
        Binding("escape", "cancel", "Close"),
        Binding("ctrl+t", "toggle_scope", "This record / all notes"),
        Binding("down", "to_results", "Results", show=False),
    ]

    def __init__(self, session: CodingSession, record_id: str | None, query: str = ""):
        super().__init__()
        self.session = session
        self.record_id = record_id
        self.all_notes = record_id is None
        self.query_text = query
        self.results: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(self._scope_text(), id="search-scope")
            yield Input(value=self.query_text, placeholder="words to find, Enter", id="search-input")
            yield Static("", id="search-status")
            yield OptionList(id="search-results")

    def _scope_text(self) -> Text:
        scope = "all notes" if self.all_notes else f"notes of {self.record_id}"
        return Text.assemble(("Search ", "bold"), (scope, "bold cyan"), ("   Ctrl+T switches · Esc closes", "dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_toggle_scope(self) -> None:
        if self.record_id is None:
            return
        self.all_notes = not self.all_notes
        self.query_one("#search-scope", Static).update(self._scope_text())
        if self.query_one(Input).value.strip():
            self.run_search(self.query_one(Input).value)

    def action_to_results(self) -> None:
        if self.results:
            results = self.query_one(OptionList)
            results.focus()
            if results.highlighted is None:
                results.highlighted = 0

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#search-input")
    def submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.run_search(event.value)

    @work(thread=True, exclusive=True, group="search")
    def run_search(self, query: str) -> None:
        rid = None if self.all_notes else self.record_id
        results = self.session.search(query, record_id=rid)
        self.app.call_from_thread(self.show_results, query, results)

    def show_results(self, query: str, results: list[dict[str, Any]]) -> None:
        self.results = results
        self.query_text = query
        options = OptionList
        box = self.query_one(options)
        box.clear_options()
        for i, r in enumerate(results):
            label = Text.assemble(
                (f"{r['record_id']} ", "bold"), (f"{r['note_date'] or ''} {r['note_type'] or ''}  ", "dim")
            )
            snippet = r["snippet"].replace("\n", " ")
            pos = 0
            while True:
                a = snippet.find("[", pos)
                b = snippet.find("]", a + 1) if a >= 0 else -1
                if a < 0 or b < 0:
                    label.append(snippet[pos:])
                    break
                label.append(snippet[pos:a])
                label.append(snippet[a + 1 : b], style="reverse")
                pos = b + 1
            box.add_option(Option(label, id=str(i)))
        n = len(results)
        self.query_one("#search-status", Static).update(
            Text(
                f"{n} note{'s' if n != 1 else ''} found"
                + (" (first 100)" if n >= 100 else "")
                + ("  ·  ↓ then Enter opens" if n else ""),
                style="dim",
            )
        )

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        assert event.option.id is not None  # each result's option has the result's index as its id
        result = dict(self.results[int(event.option.id)])
        result["terms"] = tuple(self.query_text.split())
        self.dismiss(result)
