"""Codebooks as data: the model, the YAML loader and converters (REDCap, REFI-QDA)."""

from chartcode.codebook.loader import load_codebook
from chartcode.codebook.model import Change, Choice, Codebook, CodeError, Field, diff

__all__ = ["Change", "Choice", "CodeError", "Codebook", "Field", "diff", "load_codebook"]
