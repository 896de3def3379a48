"""Every key of the coding screen, declared once.

The footer, the ``?`` help overlay and the command palette are all generated from these
declarations, so what the help says is what the keys do.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Key:
    id: str
    keys: str  # Textual key names, comma-separated
    action: str
    description: str
    group: str
    show: bool = False  # in the footer
    display: str | None = None  # how help and footer write the key
    priority: bool = False
    palette: bool = True  # offered in the command palette
    short: str = ""  # footer label (default: the description up to its first bracket)

    @property
    def shown_key(self) -> str:
        return self.display or self.keys.split(",")[0]


# Help and quit, the same on every screen (and first in each footer).
APP_KEYS: tuple[Key, ...] = (
    Key("help", "question_mark", "help", "Show all keys", "App", show=True, display="?", short="Help"),
    Key(
        "quit",
        "ctrl+q",
        "app.quit",
        "Quit (everything is already saved)",
        "App",
        show=True,
        display="Ctrl+Q",
        priority=True,
        short="Quit",
    ),
)


CODING_KEYS: tuple[Key, ...] = (
    # coding
    Key(
        "choose",
        "0,1,2,3,4,5,6,7,8,9",
        "choose",
        "Choose the choice with that key for the focused field (or tick / untick it)",
        "Coding",
        show=True,
        display="0-9",
        palette=False,
    ),
    Key(
        "keep_set",
        "enter",
        "keep_set",
        "Keep the ticked options and move on (check all that apply)",
        "Coding",
        display="Enter",
        palette=False,
    ),
    Key("next_field", "tab", "next_field", "Next field", "Coding", display="Tab", priority=True),
    Key("prev_field", "shift+tab", "prev_field", "Previous field", "Coding", display="Shift+Tab", priority=True),
    Key(
        "next_field_arrow",
        "down,j",
        "next_field",
        "Next field (in the record list: next record)",
        "Coding",
        display="↓/j",
        palette=False,
    ),
    Key(
        "prev_field_arrow",
        "up,k",
        "prev_field",
        "Previous field (in the record list: previous record)",
        "Coding",
        display="↑/k",
        palette=False,
    ),
    Key("clear", "x,delete", "clear", "Clear the focused field's code", "Coding"),
    Key("undo", "u", "undo", "Undo your last change (recorded in the history)", "Coding", show=True, short="Undo"),
    Key("memo", "m", "memo", "Write a memo (your rationale) on the focused code", "Coding", show=True, short="Memo"),
    Key("flag", "f", "flag", "Flag this record for the supervisor, with a comment", "Coding", show=True, short="Flag"),
    Key(
        "done",
        "d",
        "done",
        "Mark this record done (refused while a required field is empty)",
        "Coding",
        show=True,
        short="Done",
    ),
    # reading
    Key("next_note", "n", "next_note", "Next note of this record", "Reading", show=True, short="Next note"),
    Key("prev_note", "N", "prev_note", "Previous note of this record", "Reading", display="N (shift+n)"),
    Key("scroll_down", "pagedown,space", "scroll_note(1)", "Scroll the note down", "Reading", display="PgDn/Space"),
    Key("scroll_up", "pageup", "scroll_note(-1)", "Scroll the note up", "Reading", display="PgUp"),
    Key(
        "search",
        "slash",
        "search",
        "Search notes (this record or all notes)",
        "Reading",
        show=True,
        display="/",
        short="Search",
    ),
    # moving between records
    Key("next_record", "right_square_bracket", "next_record", "Next record", "Records", display="]"),
    Key("prev_record", "left_square_bracket", "prev_record", "Previous record", "Records", display="["),
    Key(
        "next_unfinished",
        "g",
        "next_unfinished",
        "Go to the next unfinished record",
        "Records",
        show=True,
        short="Next to do",
    ),
    Key("queue", "l", "focus_queue", "Show and focus the record list (↑/↓, Enter opens)", "Records"),
    Key("filter", "ctrl+f", "filter_queue", "Filter the record list by record id", "Records", display="Ctrl+F"),
    Key(
        "status_filter", "s", "cycle_status", "Show all / to do / not started / in progress / done / flagged", "Records"
    ),
    # app
    *APP_KEYS,
)


RECONCILE_KEYS: tuple[Key, ...] = (
    Key(
        "pick",
        "a,b,c,d,e,f,g,h",
        "pick",
        "Take that coder's value (a = first coder, b = second ...)",
        "Deciding",
        show=True,
        display="a-h",
        palette=False,
        short="Take coder's value",
    ),
    Key(
        "choose",
        "0,1,2,3,4,5,6,7,8,9",
        "choose",
        "Choose another value: the choice with that key",
        "Deciding",
        show=True,
        display="0-9",
        palette=False,
    ),
    Key("other", "v", "other_value", "Type another value (numbers, dates, text)", "Deciding"),
    Key("next_unit", "tab,down,j", "next_unit", "Next disagreement", "Moving", display="Tab/↓/j", short="Next"),
    Key("prev_unit", "shift+tab,up,k", "prev_unit", "Previous disagreement", "Moving", display="Shift+Tab/↑/k"),
    Key("next_note", "n", "next_note", "Next note of this record", "Reading", show=True, short="Next note"),
    Key("prev_note", "N", "prev_note", "Previous note of this record", "Reading", display="N (shift+n)"),
    Key("scroll_down", "pagedown,space", "scroll_note(1)", "Scroll the note down", "Reading", display="PgDn/Space"),
    Key("scroll_up", "pageup", "scroll_note(-1)", "Scroll the note up", "Reading", display="PgUp"),
    *APP_KEYS,
)


RATING_KEYS: tuple[Key, ...] = (
    # rating
    Key(
        "rate",
        "1,2,3,4,5,6,7,8,9,0",
        "rate",
        "Rate the focused item: the rating point with that number (its anchors are on the right)",
        "Rating",
        show=True,
        display="0-9",
        palette=False,
        short="Rate",
    ),
    Key(
        "cannot_rate",
        "x",
        "cannot_rate",
        "Cannot rate the focused item (stores the scale's cannot-rate code)",
        "Rating",
        show=True,
        short="Cannot rate",
    ),
    Key("clear", "backspace,delete", "clear", "Clear the focused item's rating", "Rating", display="Bksp/Del"),
    Key(
        "comment",
        "c,m",
        "comment",
        "Write the evidence / comment behind the focused item's rating",
        "Rating",
        show=True,
        display="c/m",
        short="Comment",
    ),
    Key("type_value", "v", "type_value", "Type a value (items that are counts, e.g. sessions delivered)", "Rating"),
    Key(
        "undo", "u", "undo", "Undo your last rating change (recorded in the history)", "Rating", show=True, short="Undo"
    ),
    Key(
        "submit",
        "s",
        "submit",
        "Submit this unit-period as done (asks first; refused while an item is"
        " unrated; the ratings are then read-only)",
        "Rating",
        show=True,
        short="Submit",
    ),
    # moving
    Key("next_item", "tab,down,j", "next_item", "Next item", "Moving", display="Tab/↓/j", priority=True),
    Key("prev_item", "shift+tab,up,k", "prev_item", "Previous item", "Moving", display="Shift+Tab/↑/k", priority=True),
    Key("next_unrated", "g", "next_unrated", "Go to the next unrated item", "Moving"),
    Key(
        "scroll_down",
        "pagedown,space",
        "scroll_detail(1)",
        "Scroll the anchors and rules down",
        "Moving",
        display="PgDn/Space",
    ),
    Key("scroll_up", "pageup", "scroll_detail(-1)", "Scroll the anchors and rules up", "Moving", display="PgUp"),
    # app
    *APP_KEYS,
)


def bindings(keys: tuple[Key, ...]) -> list[BindingType]:
    """Textual bindings for ``keys`` (list[BindingType]: the type of a Screen's BINDINGS)."""
    out: list[BindingType] = []
    # The footer shows bindings in this order and drops what does not fit on the right, so help
    # and quit come first: at 80 columns they are the keys a coder must always be able to find.
    first = [k for k in keys if k.group == "App"]
    for k in [*first, *(k for k in keys if k.group != "App")]:
        if k.id in ("choose", "pick", "rate"):  # one binding per key, passing the key to the action
            for i, key in enumerate(k.keys.split(",")):
                out.append(
                    Binding(
                        key,
                        f"{k.action}('{key}')",
                        k.short or "Choose",
                        show=k.show and i == 1,
                        key_display=k.display,
                        id=f"{k.id}-{key}",
                    )
                )
            continue
        out.append(
            Binding(
                k.keys,
                k.action,
                k.short or k.description.split(" (")[0],
                show=k.show,
                key_display=k.display,
                priority=k.priority,
                id=k.id,
            )
        )
    return out


def by_group(keys: tuple[Key, ...]) -> dict[str, list[Key]]:
    groups: dict[str, list[Key]] = {}
    for k in keys:
        groups.setdefault(k.group, []).append(k)
    return groups
