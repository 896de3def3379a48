"""Small modal screens: the generated key help and a one-line text prompt (memo, flag)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from chartcode.tui.bindings import Key, by_group


class HelpScreen(ModalScreen[None]):
    """Every key of the screen, generated from its declarations."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close help")]

    def __init__(self, keys: tuple[Key, ...], intro: str = ""):
        super().__init__()
        self.keys = keys
        self.intro = intro

    def help_text(self) -> Text:
        width = max(len(k.shown_key) for k in self.keys) + 2
        text = Text()
        for group, keys in by_group(self.keys).items():
            text.append(f"{group}\n", style="bold underline")
            for k in keys:
                text.append(k.shown_key.ljust(width), style="bold cyan")
                text.append(f"{k.description}\n")
            text.append("\n")
        return text

    def compose(self) -> ComposeResult:
        table = self.help_text()
        with Vertical(id="help-box"):
            yield Static(Text("Keys  (Esc or ? closes)", style="bold"), id="help-title")
            if self.intro:
                yield Static(self.intro, id="help-intro")
            with VerticalScroll():
                yield Static(table)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text. Enter returns it (possibly empty); Esc returns None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "", note: str = ""):
        super().__init__()
        self.prompt_title = title
        self.value = value
        self.placeholder = placeholder
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(Text(self.prompt_title, style="bold"))
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static(Text((self.note + "  " if self.note else "") + "Enter saves · Esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class SecondWindow(ModalScreen[str]):
    """The coder already has the coding screen open in another window: read-only, take over, or quit.

    Returns "read_only", "take_over" or "quit"."""

    BINDINGS = [
        Binding("r,escape", "choose('read_only')", "Read-only"),
        Binding("t", "choose('take_over')", "Take over"),
        Binding("q", "choose('quit')", "Quit"),
    ]

    def __init__(self, coder: str, where: str):
        super().__init__()
        self.coder = coder
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-box"):
            yield Static(Text(f"{self.coder} already has the coding screen open", style="bold"), id="second-title")
            yield Static(
                f"{self.where}. Two windows coding for one coder could overwrite each other, so this one"
                " opens read-only unless you take over (the other window then turns read-only)."
            )
            yield Static(Text("r or Esc: read-only · t: take over · q: quit", style="bold cyan"))

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class ClearInapplicable(ModalScreen[bool]):
    """A change made coded fields stop applying: clear them (y) or keep them (n, Esc).

    Asked once per change, listing the fields. Keeping loses nothing: a kept code stays stored and
    reads as n/a everywhere while its condition is false. Returns True to clear."""

    BINDINGS = [Binding("y", "answer(True)", "Clear them"), Binding("n,escape", "answer(False)", "Keep them")]

    def __init__(self, changed: str, labels: list[str]):
        super().__init__()
        self.changed = changed
        self.labels = labels

    def compose(self) -> ComposeResult:
        n = len(self.labels)
        with Vertical(id="prompt-box"):
            yield Static(
                Text(f"{self.changed} changed: {n} coded field{'s' if n != 1 else ''} no longer apply", style="bold"),
                id="clear-title",
            )
            yield Static("\n".join(f"  · {label}" for label in self.labels), id="clear-fields")
            yield Static(
                "Clear their codes (each clearing is saved in the history with the reason), or keep them "
                "(kept codes stay stored and count as n/a while they do not apply)."
            )
            yield Static(Text("y: clear them · n or Esc: keep them", style="bold cyan"))

    def action_answer(self, clear: bool) -> None:
        self.dismiss(clear)
