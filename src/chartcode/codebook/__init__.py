"""Codebooks as data: the model, the YAML loader and converters (REDCap, REFI-QDA)."""

from chartcode.codebook.loader import load_codebook
from chartcode.codebook.model import Change, Choice, Codebook, Field, diff
from chartcode.codebook.types import CodeError

__all__ = ["Change", "Choice", "CodeError", "Codebook", "Field", "diff", "load_codebook"]
