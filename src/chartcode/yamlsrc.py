"""Read YAML keeping the line of every key and item, so errors can name `file:line`.

ruamel.yaml's composer gives the node tree with positions and, unlike its constructor,
does not stop at the first duplicate key: duplicates are kept for the validator to report
in the words of the domain ("choice code 3 appears twice"). Scalars are resolved by YAML
1.2 rules (``no`` stays the string "no").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from chartcode.errors import UserError, read_bytes


class LMap(dict):
    """A mapping with ``line`` (its first line), ``key_lines`` and ``duplicates``."""

    line: int
    key_lines: dict[Any, int]
    duplicates: list[tuple[Any, int, int]]  # (key, line, line of first occurrence)

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LList(list):
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


def _scalar(node: ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return value.lower() == "true"
    if tag.endswith(":int"):
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            return int(value.replace("_", ""))
    if tag.endswith(":float"):
        v = value.lower().replace("_", "")
        if v in (".inf", "+.inf"):
            return float("inf")
        if v == "-.inf":
            return float("-inf")
        if v == ".nan":
            return float("nan")
        return float(v)
    return value


def _convert(node: Any) -> Any:
    if isinstance(node, ScalarNode):
        return _scalar(node)
    if isinstance(node, SequenceNode):
        out = LList(_convert(n) for n in node.value)
        out.line = node.start_mark.line + 1
        out.item_lines = [n.start_mark.line + 1 for n in node.value]
        return out
    if isinstance(node, MappingNode):
        out = LMap()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        out.duplicates = []
        for key_node, value_node in node.value:
            key = _convert(key_node)
            if isinstance(key, (list, dict)):
                raise UserError(f"line {key_node.start_mark.line + 1}: a key must be a plain value")
            key_line = key_node.start_mark.line + 1
            if key in out:
                out.duplicates.append((key, key_line, out.key_lines[key]))
                continue
            out[key] = _convert(value_node)
            out.key_lines[key] = key_line
        return out
    raise UserError(f"line {node.start_mark.line + 1}: unsupported YAML node")


def load_located(path: str | Path, text: str | None = None) -> Any:
    """Parse YAML from ``path`` (or ``text`` shown as ``path``) into LMap/LList/scalars."""
    if text is None:
        raw = read_bytes(path)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise UserError(f"{path}:{line}: not valid UTF-8 text") from None
    yaml = YAML(typ="rt")
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "syntax error").strip()
        raise UserError(f"{path}:{line}: YAML syntax error: {problem}") from None
    except YAMLError as exc:
        raise UserError(f"{path}: YAML syntax error: {exc}") from None
    if node is None:
        raise UserError(f"{path}:1: the file is empty")
    try:
        return _convert(node)
    except UserError as exc:
        raise UserError(f"{path}:{exc.message.removeprefix('line ')}") from None
