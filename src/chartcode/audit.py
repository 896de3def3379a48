"""Audit definitions (YAML in ``audits/``): which codebook, which coders, what to double-code.

    id: conjoint-pain
    title: Conjoint pain sessions
    codebook: conjoint-pain          # a shipped name, or a path relative to this file
    coders:
      - {name: intern, role: coder}
      - {name: supervisor, role: supervisor}
    double_coding: {coder: supervisor, from: intern, n: 6, seed: 20240601}

Sections used by later steps (``double_coding``, ``derived``, ``analyses``) are kept as
written, with their line numbers, for those steps to validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartcode import resources
from chartcode.codebook import Codebook, load_codebook
from chartcode.errors import UserError, quote
from chartcode.store.store import ROLES
from chartcode.timeliness import Timeliness, parse_timeliness
from chartcode.yamlsrc import LList, LMap, load_located, plain

TOP_KEYS = {"id", "title", "description", "codebook", "coders", "double_coding", "derived", "analyses", "timeliness"}


@dataclass
class Audit:
    id: str
    title: str
    codebook: Codebook
    codebook_path: Path
    coders: list[tuple[str, str]]
    description: str = ""
    sections: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    source: str = ""
    timeliness: Timeliness | None = None  # the validated `timeliness:` block (chartcode.timeliness)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "codebook": self.codebook.id,
            "coders": [{"name": n, "role": r} for n, r in self.coders],
            **self.sections,
        }


def load_audit(ref: str | Path) -> Audit:
    path = resources.resolve("audits", ref)
    shown = str(path)
    data = load_located(shown)
    if not isinstance(data, LMap):
        raise UserError(f"{shown}:1: an audit file is a mapping with id, title, codebook and coders")
    problems: list[str] = []
    for key, line, first in data.duplicates:
        problems.append(f"{shown}:{line}: key {quote(key)} appears twice (first at line {first})")
    for key in data:
        if key not in TOP_KEYS:
            problems.append(
                f"{shown}:{data.line_of(key)}: unknown key {quote(key)} (expected one of: "
                f"{', '.join(sorted(TOP_KEYS))})"
            )
    for key in ("id", "title", "codebook"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{shown}:{data.line_of(key)}: {key!r} is required")
    coders: list[tuple[str, str]] = []
    raw_coders = data.get("coders", LList())
    if not isinstance(raw_coders, LList):
        problems.append(f"{shown}:{data.line_of('coders')}: 'coders' must be a list of {{name, role}}")
    else:
        seen: set[str] = set()
        for i, c in enumerate(raw_coders):
            line = raw_coders.line_of(i)
            if isinstance(c, str):
                c = {"name": c, "role": "coder"}
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                problems.append(f"{shown}:{line}: coder {i + 1} needs a name")
                continue
            role = c.get("role", "coder")
            if role not in ROLES:
                problems.append(
                    f"{shown}:{line}: coder {quote(c['name'])}: role {quote(role)} must be one of: {', '.join(ROLES)}"
                )
                continue
            if c["name"] in seen:
                problems.append(f"{shown}:{line}: coder {quote(c['name'])} appears twice")
                continue
            seen.add(c["name"])
            coders.append((c["name"], role))
    if problems:
        if len(problems) == 1:
            raise UserError(problems[0])
        raise UserError(f"{shown}: {len(problems)} problems in the audit file", problems=problems)
    try:
        cb_path = resources.resolve("codebooks", data["codebook"], relative_to=path.parent)
    except UserError:  # the message would quote the value, which may be any text
        raise UserError(
            f"{shown}:{data.line_of('codebook')}: 'codebook' names no codebook file here and no shipped"
            f" codebook (shipped: {', '.join(resources.shipped_names('codebooks'))})"
        ) from None
    if cb_path.suffix.lower() not in (".yaml", ".yml"):
        raise UserError(
            f"{shown}:{data.line_of('codebook')}: 'codebook' names a file that is not a codebook"
            " (.yaml); give a codebook file or a shipped codebook name"
        )
    codebook = load_codebook(cb_path)
    sections = {k: plain(data[k]) for k in ("double_coding", "derived", "analyses", "timeliness") if k in data}
    timeliness = parse_timeliness(data["timeliness"], codebook, shown) if "timeliness" in data else None
    return Audit(
        id=data["id"].strip(),
        title=data["title"].strip(),
        description=str(data.get("description") or "").strip(),
        codebook=codebook,
        codebook_path=cb_path,
        coders=coders,
        sections=sections,
        path=path,
        source=path.read_text(encoding="utf-8-sig"),
        timeliness=timeliness,
    )
