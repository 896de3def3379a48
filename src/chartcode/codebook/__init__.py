"""Codebooks as data: the model, the YAML loader and converters (REDCap, REFI-QDA)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chartcode.codebook.model import Change, Choice, Codebook, Field, diff
from chartcode.codebook.types import CodeError

if TYPE_CHECKING:
    from chartcode.codebook.loader import load_codebook

__all__ = ["Change", "Choice", "CodeError", "Codebook", "Field", "diff", "load_codebook"]


def __getattr__(name: str) -> Any:
    # the YAML loader (ruamel.yaml) loads on first use: a command reading only the stored
    # codebook's id, version and hash (`chartcode status`) never parses YAML
    if name == "load_codebook":
        from chartcode.codebook.loader import load_codebook

        return load_codebook
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
