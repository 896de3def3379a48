"""The coder's record queue: a virtual list that draws only the rows on screen.

It never holds every row: it knows the row count and asks for pages of rows as they
scroll into view, so a queue of 100,000 records costs what a queue of 20 does.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from chartcode.coding import QueueRow

PAGE = 100
ICONS = {"not_started": "·", "in_progress": "◐", "done": "✓"}


class RecordQueue(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"queue--cursor", "queue--current", "queue--done", "queue--flag"}
    BINDINGS = [
        Binding("down,j", "move(1)", "Next record in list", show=False),
        Binding("up,k", "move(-1)", "Previous record in list", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("pageup", "move(-10)", show=False),
        Binding("enter", "open", "Open record", show=False),
    ]

    cursor = reactive(0)

    class Selected(Message):
        def __init__(self, record_id: str) -> None:
            super().__init__()
            self.record_id = record_id

    def __init__(self, count: Callable[[], int], page: Callable[[int, int], list[QueueRow]], **kwargs):
        super().__init__(**kwargs)
        self._count_fn = count
        self._page_fn = page
        self._count = 0
        self._pages: dict[int, list[QueueRow]] = {}
        self.current: str | None = None
        self._sizes: tuple[Size, ...] | None = None

    @property
    def row_count(self) -> int:
        return self._count

    def reload(self) -> None:
        """Re-read the count and forget cached pages (after a change or a new filter)."""
        self._count = self._count_fn()
        self._pages.clear()
        self.virtual_size = Size(self.size.width, self._count)
        if self.cursor >= self._count:
            self.cursor = max(0, self._count - 1)
        self.refresh()

    def row(self, index: int) -> QueueRow | None:
        if not 0 <= index < self._count:
            return None
        page = index // PAGE
        if page not in self._pages:
            if len(self._pages) > 20:
                self._pages.clear()
            self._pages[page] = self._page_fn(page * PAGE, PAGE)
        rows = self._pages[page]
        offset = index - page * PAGE
        return rows[offset] if offset < len(rows) else None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        index = self.scroll_offset.y + y
        row = self.row(index)
        if row is None:
            return Strip.blank(width, self.rich_style)
        style = self.rich_style
        if row.status == "done":
            style += self.get_component_rich_style("queue--done")
        if row.record_id == self.current:
            style += self.get_component_rich_style("queue--current")
        if index == self.cursor and self.has_focus:
            style += self.get_component_rich_style("queue--cursor")
        flag = "⚑" if row.flagged else " "
        text = f" {ICONS.get(row.status, '?')}{flag}{row.record_id}"
        notes = f"{row.n_notes}n "
        pad = max(1, width - len(text) - len(notes))
        line = (text + " " * pad + notes)[:width]
        segments = [Segment(line, style)]
        if row.flagged and width > 3:
            segments = [
                Segment(line[:2], style),
                Segment(line[2], style + self.get_component_rich_style("queue--flag")),
                Segment(line[3:], style),
            ]
        return Strip(segments, width).extend_cell_length(width, style)

    def watch_cursor(self, old: int, new: int) -> None:
        self.scroll_to_region_line(new)
        self.refresh()

    def scroll_to_region_line(self, index: int) -> None:
        top = self.scroll_offset.y
        height = self.size.height or 1
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        """Textual's ScrollView compares the container size it is given (its parent's) with its own
        (its size less the scrollbars), which never match: every layout pass of the screen, one per
        key or more, redrew both scrollbars (33 lines of the tall one, ~1.3 ms each time, headless)
        and sent the queue a Resize. Here that happens only when a size has changed."""
        sizes = (size, virtual_size, container_size, self.virtual_size)
        if sizes == self._sizes:
            return False
        self._sizes = sizes
        return super()._size_updated(size, virtual_size, container_size, layout)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, self._count)

    def action_move(self, step: int) -> None:
        if self._count:
            self.cursor = max(0, min(self._count - 1, self.cursor + step))

    def action_open(self) -> None:
        row = self.row(self.cursor)
        if row is not None:
            self.post_message(self.Selected(row.record_id))

    def show_current(self, record_id: str, index: int | None) -> None:
        self.current = record_id
        if index is not None:
            self.cursor = index
        self.refresh()
