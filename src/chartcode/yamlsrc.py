"""Read YAML keeping the line of every key and item, so errors can name `file:line`.

ruamel.yaml's composer gives the node tree with positions and, unlike its constructor,
does not stop at the first duplicate key: duplicates are kept for the validator to report
in the words of the domain ("choice code 3 appears twice"). Scalars are resolved by YAML
1.2 rules (``no`` stays the string "no").

Text is built by ruamel's own constructor, not from the composed node's raw value: in
round-trip mode the scanner marks every fold of a folded scalar (``rules: >``) with U+0007
so it can write the fold back, and only the constructor removes the marks. Text that still
holds a control character is refused with its line: it is not valid in XML (.qdc) and shows
as garbage in spreadsheets and REDCap (the reader refuses them raw; an escape such as
``"\\a"`` in a quoted string is how one gets in).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from chartcode.errors import UserError, read_bytes

# Codebooks and audit files are a few kilobytes; parsing YAML is slow, so refuse what is not one.
MAX_BYTES = 4 << 20
# Deeper than any codebook goes; the composer and converter recurse, so stop well before Python's limit.
MAX_DEPTH = 64
# Characters text may not hold: C0 controls but tab and line feed, DEL, C1 controls, lone
# surrogates and the non-characters U+FFFE/U+FFFF (none is allowed in XML 1.0).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class LMap(dict[Any, Any]):
    """A mapping with ``line`` (its first line), ``key_lines`` and ``duplicates``."""

    line: int
    key_lines: dict[Any, int]
    duplicates: list[tuple[Any, int, int]]  # (key, line, line of first occurrence)

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LList(list[Any]):
    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def plain(v: Any) -> Any:
    """LMap/LList trees as plain dicts and lists (positions dropped)."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def _scalar(node: ScalarNode, constructor: RoundTripConstructor) -> Any:
    tag, value = node.tag, node.value
    assert tag is not None  # the composer resolves every scalar's tag
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return value.lower() == "true"
    line = node.start_mark.line + 1
    if tag.endswith(":int"):
        if len(value) > 100:
            raise UserError(f"line {line}:{node.start_mark.column + 1}: a number with more than 100 digits")
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            return int(value.replace("_", ""))
    if tag.endswith(":float"):
        v = value.lower().replace("_", "")
        number = float(v) if v[-3:] not in ("inf", "nan") else math.inf
        if not math.isfinite(number):
            raise UserError(
                f"line {line}:{node.start_mark.column + 1}: infinity and NaN are not allowed here (write a number)"
            )
        return number
    text = str(constructor.construct_scalar(node))  # a plain str, not ruamel's FoldedScalarString
    bad = _CONTROL.search(text)
    if bad is not None:
        raise UserError(
            f"line {node.start_mark.line + 1}: a control character (U+{ord(bad.group()):04X})"
            " is not allowed in text; remove it"
        )
    return text


def _convert(node: Any, constructor: RoundTripConstructor) -> Any:
    if isinstance(node, ScalarNode):
        return _scalar(node, constructor)
    if isinstance(node, SequenceNode):
        items = LList(_convert(n, constructor) for n in node.value)
        items.line = node.start_mark.line + 1
        items.item_lines = [n.start_mark.line + 1 for n in node.value]
        return items
    if isinstance(node, MappingNode):
        out = LMap()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        out.duplicates = []
        for key_node, value_node in node.value:
            key = _convert(key_node, constructor)
            if isinstance(key, (list, dict)):
                raise UserError(f"line {key_node.start_mark.line + 1}: a key must be a plain value")
            key_line = key_node.start_mark.line + 1
            if key in out:
                out.duplicates.append((key, key_line, out.key_lines[key]))
                continue
            out[key] = _convert(value_node, constructor)
            out.key_lines[key] = key_line
        return out
    raise UserError(f"line {node.start_mark.line + 1}: unsupported YAML node")


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _check_brackets(path: str | Path, text: str) -> None:
    """A quick bound on flow nesting (``[[[[...``) before ruamel scans it: its scanner looks ahead
    for a possible key at every bracket, which takes seconds on thousands of them. Generous (a
    bracket in a plain scalar counts too); _check_events gives the exact limit."""
    if text.count("[") + text.count("{") <= 100:
        return
    depth = 0
    for i, c in enumerate(text):
        if c in "[{":
            depth += 1
            if depth > 100:
                line, column = _position(text, i)
                raise UserError(f"{path}:{line}:{column}: nested more than {MAX_DEPTH} levels deep")
        elif c in "]}" and depth:
            depth -= 1


def _check_events(path: str | Path, events: Iterable[Any]) -> None:
    """Refuse anchors and aliases (codebooks need none, and aliases nest into "billion laughs"
    bombs) and nesting deeper than MAX_DEPTH, before anything is built from the events."""
    depth = 0
    for event in events:
        mark = event.start_mark
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor is not None):
            raise UserError(
                f"{path}:{mark.line + 1}:{mark.column + 1}: YAML anchors and aliases (& and *) are"
                " not allowed; write the value out"
            )
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise UserError(f"{path}:{mark.line + 1}:{mark.column + 1}: nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def load_located(path: str | Path, text: str | None = None) -> Any:
    """Parse YAML from ``path`` (or ``text`` shown as ``path``) into LMap/LList/scalars."""
    if text is None:
        raw = read_bytes(path)
        if len(raw) > MAX_BYTES:
            raise UserError(
                f"{path}: {len(raw) >> 20} MB is too large for a codebook or audit file"
                f" (at most {MAX_BYTES >> 20} MB); is it the right file?"
            )
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise UserError(f"{path}:{line}: not valid UTF-8 text") from None
    if len(text) > MAX_BYTES:
        raise UserError(f"{path}: too large for a codebook or audit file (at most {MAX_BYTES >> 20} MB)")
    _check_brackets(path, text)
    yaml = YAML(typ="rt")
    try:
        _check_events(path, yaml.parse(text))
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else "1"
        problem = " ".join((exc.problem or exc.context or "syntax error").split())
        raise UserError(f"{path}:{at}: YAML syntax error: {problem}") from None
    except ReaderError as exc:
        line, column = _position(text, exc.position)
        what = f"character #x{exc.character:04x}" if isinstance(exc.character, int) else "character"
        raise UserError(
            f"{path}:{line}:{column}: a control {what} is not allowed in YAML (the file is binary or corrupted)"
        ) from None
    except YAMLError as exc:
        raise UserError(f"{path}:1: YAML syntax error ({type(exc).__name__})") from None
    if node is None:
        raise UserError(f"{path}:1: the file is empty")
    try:
        return _convert(node, yaml.constructor)
    except UserError as exc:
        raise UserError(f"{path}:{exc.message.removeprefix('line ')}") from None
