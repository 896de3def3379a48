"""The report's presentation model: what a section says, independent of HTML or Markdown.

Section modules (sections.py, fidelity.py, reviews.py) build these plain dataclasses from the
store; render.py turns them into a page with the Jinja2 templates under ``templates/``, one
template per format, so every section is written once and shown in both. Nothing here
formats markup: text is text, and escaping belongs to the templates.

Blocks and how each format shows them:

- Paragraph: a paragraph of text runs (``Code`` runs are inline code). ``style`` is ``note``
  (small print), ``reading`` (a plain-language reading, italic in Markdown) or ``warning``
  (a note on the page, a quote in Markdown). ``markdown=False``: the page only (the Markdown
  report is the terse form and leaves out the page's explanatory lead-ins).
- Heading: a sub-heading (h3 / ###).
- Table: headers, rows, the numeric column indexes (right-aligned on the page), an optional
  caption paragraph shown before it. Cells are text, numbers, ``Light`` (a colour in words),
  ``FieldName`` (a field's label, its name in small type) or ``NoValue`` ("(no final value)",
  set apart from real categories: italic and grey on the page, italic in Markdown).
- Chart: an inline SVG (matplotlib's, from charts.py) for the page; ``text`` is the same
  information in words for Markdown (no text: the chart is the page's only).
- ChartGrid: charts side by side on the page, one line each in Markdown.
- BulletList, ActionList (items below threshold with the raters' evidence), LightTable (a
  titled table of traffic lights).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

Progress = Callable[[str], None]


def fmt_number(x: Any, digits: int = 3) -> str:
    """A statistic for a table cell: floats to ``digits`` places, None as a dash."""
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


@dataclass(frozen=True)
class Code:
    """Inline code inside a paragraph (a command, a formula)."""

    text: str


Inline = str | Code


@dataclass
class Paragraph:
    text: str | Sequence[Inline]
    style: str = ""  # "", "note", "reading", "warning"
    markdown: bool = True
    kind: ClassVar[str] = "paragraph"

    @property
    def runs(self) -> list[Inline]:
        return [self.text] if isinstance(self.text, str) else list(self.text)


@dataclass
class Heading:
    text: str
    kind: ClassVar[str] = "heading"
    markdown: ClassVar[bool] = True


@dataclass(frozen=True)
class Light:
    """A table cell shown as a coloured light with its label (the label alone where there is no colour)."""

    label: str
    colour: str = ""  # red | amber | green | grey | ""

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class FieldName:
    """A table cell naming a codebook field: its label for people, its name (what exports and
    commands use) in small type and on hover."""

    label: str
    name: str

    def __str__(self) -> str:
        return self.label if self.label == self.name else f"{self.label} ({self.name})"


@dataclass(frozen=True)
class NoValue:
    """A table cell or row label for what has no final value, shown apart from real categories."""

    text: str = "(no final value)"

    def __str__(self) -> str:
        return self.text


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    numeric: set[int] = field(default_factory=set)
    caption: Paragraph | None = None
    kind: ClassVar[str] = "table"
    markdown: ClassVar[bool] = True


@dataclass
class Chart:
    svg: str | None  # None: not drawn (the Markdown report draws no charts)
    title: str = ""
    text: str | None = None
    kind: ClassVar[str] = "chart"

    @property
    def markdown(self) -> bool:
        return self.text is not None

    PHONE_PX: ClassVar[int] = 480  # up to this width a chart shrinks onto a 390 px phone with text >= 9 px

    @property
    def wide(self) -> bool:
        """Too wide to shrink onto a phone with readable text: there it scrolls in its own box."""
        m = re.search(r'<svg[^>]*\swidth="([0-9.]+)pt"', self.svg or "")
        return m is not None and float(m.group(1)) * 4 / 3 > self.PHONE_PX


@dataclass
class ChartGrid:
    charts: list[Chart]
    kind: ClassVar[str] = "chart_grid"
    markdown: ClassVar[bool] = True


@dataclass
class BulletList:
    items: list[str]
    kind: ClassVar[str] = "bullets"
    markdown: ClassVar[bool] = True


@dataclass
class ActionItem:
    what: str
    detail: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class ActionList:
    items: list[ActionItem]
    kind: ClassVar[str] = "actions"
    markdown: ClassVar[bool] = True


@dataclass
class LightTable:
    title: str
    table: Table
    kind: ClassVar[str] = "light_table"
    markdown: ClassVar[bool] = True


Block = Paragraph | Heading | Table | Chart | ChartGrid | BulletList | ActionList | LightTable


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    kind: str = ""  # "fidelity": the page adds the traffic-light and action-list styles

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Report:
    title: str
    generated: str
    sections: list[Section]
    history: str = ""  # "History: N entries, chain head 1a2b..." (check with `chartcode verify --head`)
