"""Codebook text on screen: the author's paragraphs, wrapped to the pane.

Rules are often written as a literal block (``rules: |``), so they keep the line ends the
author typed to fit an editor; a pane narrower than that editor would break each line again
mid-sentence. :func:`paragraphs` joins the lines of each paragraph so the screen wraps them,
and keeps what the line ends mean: a blank line between paragraphs, and a line that starts a
list item (``-``, ``*``, ``•``, ``1.``, ``a)``); an indented line continues the item above.
"""

from __future__ import annotations

import re

_ITEM = re.compile(r"^\s*([-*•]\s|\(?[0-9]{1,2}[.)]\s|\(?[a-z][.)]\s)")


def paragraphs(text: str) -> str:
    """``text`` with the line ends inside each paragraph turned into spaces."""
    out: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text.strip()):
        lines: list[str] = []
        for line in block.split("\n"):
            if lines and not _ITEM.match(line):
                lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
            else:
                lines.append(line.rstrip())
        out.append("\n".join(lines))
    return "\n\n".join(out)
