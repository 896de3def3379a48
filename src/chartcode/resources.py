"""Find the codebooks and audit definitions that ship with chartcode.

In a wheel they live in ``chartcode/_shipped/``; in a source checkout (editable install)
they are the repository's top-level ``codebooks/`` and ``audits/`` folders.
"""

from __future__ import annotations

from pathlib import Path

from chartcode.errors import UserError

_PACKAGE = Path(__file__).resolve().parent


def shipped_dir(kind: str) -> Path:
    """The folder of shipped ``codebooks`` or ``audits``."""
    for candidate in (_PACKAGE / "_shipped" / kind, _PACKAGE.parent.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"shipped {kind} folder not found (broken install?)")


def shipped_names(kind: str) -> list[str]:
    return sorted(p.stem for p in shipped_dir(kind).glob("*.yaml"))


def resolve(kind: str, ref: str | Path, *, relative_to: Path | None = None) -> Path:
    """A path to a YAML file given a path, or the name of a shipped one (``conjoint-pain``)."""
    ref_path = Path(ref)
    candidates = []
    if relative_to is not None and not ref_path.is_absolute():
        candidates.append(relative_to / ref_path)
    candidates.append(ref_path)
    for c in candidates:
        if c.is_file():
            return c
    name = ref_path.name[:-5] if ref_path.name.endswith(".yaml") else ref_path.name
    shipped = shipped_dir(kind) / f"{name}.yaml"
    if shipped.is_file():
        return shipped
    singular = kind.rstrip("s")
    raise UserError(
        f"{ref}: no such {singular} file, and no shipped {singular} of that name "
        f"(shipped: {', '.join(shipped_names(kind)) or 'none'})"
    )
