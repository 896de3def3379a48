"""Errors a user can fix. The CLI prints them without a traceback and exits 2.

A UserError never carries note text: callers name files, lines, fields and ids only.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO


class UserError(Exception):
    """Bad input or a request the data does not allow; the message says what and where."""

    def __init__(self, message: str, *, problems: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return self.message
        return "\n".join([self.message, *self.problems])


def where(path: str | Path, line: int | None = None) -> str:
    """`file:line` as compilers and linters write it."""
    return f"{path}:{line}" if line else str(path)


def open_binary(path: str | Path) -> BinaryIO:
    """Open a file for reading bytes, or raise a UserError saying why it cannot be read."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_bytes(path: str | Path) -> bytes:
    with open_binary(path) as fh:
        return fh.read()


_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+#@")


def quote(value: object, limit: int = 40) -> str:
    """``value`` quoted for a message when it is a short token (an id, a code, a field name);
    otherwise only its length: input that is not a token may be free text (note text, a line
    of some other file) and is never shown."""
    text = str(value)
    if 0 < len(text) <= limit and all(c in _TOKEN_CHARS for c in text):
        return repr(text) if isinstance(value, str) else text
    return f"[{len(text)} characters, not shown]"


def printable(text: str) -> str:
    """``text`` (a path) with control characters escaped, so a message stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
