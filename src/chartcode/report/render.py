"""The report's model (chartcode.report.model) as a page: Jinja2 templates shipped in ``templates/``.

    render(report, fmt) -> the whole page;  render_section(section, fmt) -> one section

HTML is autoescaped (data never becomes markup; charts' SVG is the one raw insert). Markdown
is not HTML: its table cells go through ``md_cell``, which keeps a cell on its row (pipes
become "/", newlines spaces) and stops a cell's text from reading as an HTML tag.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from chartcode.report.model import Code, FieldName, Light, NoValue, Report, Section

FORMATS = ("html", "md")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # where raw HTML or an autolink would begin; "<= 6" stays as is
_NEWLINES = re.compile(r"\r\n|\r|\n")


def md_cell(value: Any) -> str:
    """A Markdown table cell: one line, no pipe, no HTML tag."""
    if isinstance(value, FieldName) and value.label != value.name:
        return f"{md_cell(value.label)} (`{md_cell(value.name)}`)"
    text = "" if value is None else str(value)
    if isinstance(value, NoValue):
        text = f"*{text}*"
    return _TAG_START.sub(r"\\<", _NEWLINES.sub(" ", text).replace("|", "/"))


@cache
def environment(fmt: str) -> Environment:
    if fmt not in FORMATS:
        raise ValueError(f"report format {fmt!r}: expected one of {', '.join(FORMATS)}")
    env = Environment(
        loader=PackageLoader("chartcode.report", "templates"),
        autoescape=fmt == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.tests["code"] = lambda v: isinstance(v, Code)
    env.tests["light"] = lambda v: isinstance(v, Light)
    env.tests["field_name"] = lambda v: isinstance(v, FieldName)
    env.tests["no_value"] = lambda v: isinstance(v, NoValue)
    env.filters["md_cell"] = md_cell
    return env


def render(report: Report, fmt: str = "html") -> str:
    return environment(fmt).get_template(f"report.{fmt}.j2").render(report=report)


def render_section(section: Section, fmt: str = "html") -> str:
    module = environment(fmt).get_template(f"{fmt}/section.{fmt}.j2").module
    # a template's macros are attributes jinja2 sets on its module at runtime
    return str(module.section(section))  # type: ignore[attr-defined]
