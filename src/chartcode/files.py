"""Private, atomic output files: every file chartcode writes (exports, reports, codebooks,
CSV listings) goes through here.

A file is written to a temporary file in the target's folder, created owner-only (``0600``,
with ``O_EXCL`` so neither the umask nor an old file can widen it), flushed and fsynced, then
``os.replace``-d onto the target and the folder fsynced. A reader never sees a partial file;
a failure or ``KeyboardInterrupt`` removes the temporary file and leaves an existing target as
it was; a killed process leaves at most a ``.<name>.<random>.tmp`` file beside the target, never
a truncated target. After success the target is ``0600`` whatever the mode of the file it
replaced. The database is not written here (``store.connection.create_private_file``).

    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:   # a file object
        csv.writer(fh).writerows(rows)
    with atomic_path(path) as tmp:      # for libraries that only write to a path (pyreadstat)
        pyreadstat.write_sav(df, str(tmp))
    atomic_write_text(path, text)       # atomic_write_bytes(path, data)

This module imports only the standard library, so every layer may use it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

PRIVATE_MODE = 0o600
TEMP_SUFFIX = ".tmp"


def _create_temp(target: Path) -> tuple[int, Path]:
    """An open fd on a new empty owner-only file beside ``target`` (``.<name>.<hex>.tmp``)."""
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), PRIVATE_MODE)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, PRIVATE_MODE)  # already 0600 (the umask only removes bits); said explicitly
        except BaseException:
            os.close(fd)
            _unlink(tmp)
            raise
        return fd, tmp


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable. Best effort: some file systems refuse fsync on a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp: Path, target: Path) -> None:
    os.chmod(tmp, PRIVATE_MODE)  # a path-taking writer may have recreated the file with its own mode
    os.replace(tmp, target)
    _fsync_dir(target.parent)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the path of an empty owner-only temporary file beside ``path``; when the block ends
    without an exception, fsync it and move it onto ``path``. On any exception it is removed."""
    target = Path(path)
    fd, tmp = _create_temp(target)
    os.close(fd)
    try:
        yield tmp
        _fsync_path(tmp)
        _commit(tmp, target)
    except BaseException:
        _unlink(tmp)
        raise


@contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None, newline: str | None = None
) -> Iterator[IO[Any]]:
    """Yield a file object (``mode`` "wb" or "w") on an owner-only temporary file beside ``path``;
    when the block ends without an exception, flush, fsync and move it onto ``path``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', not {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    target = Path(path)
    fd, tmp = _create_temp(target)
    try:
        fh = os.fdopen(fd, mode, encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        _unlink(tmp)
        raise
    try:
        with fh:
            yield fh
            synced = not fh.closed  # a writer may close the object it was given
            if synced:
                fh.flush()
                os.fsync(fh.fileno())
        if not synced:
            _fsync_path(tmp)
        _commit(tmp, target)
    except BaseException:
        _unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", newline: str | None = None
) -> None:
    with atomic_write(path, "w", encoding=encoding, newline=newline) as fh:
        fh.write(text)
