"""Errors a user can fix. The CLI prints them without a traceback and exits 2.

A UserError never carries note text: callers name files, lines, fields and ids only.
"""

from __future__ import annotations

from pathlib import Path


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


def open_binary(path: str | Path):
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
