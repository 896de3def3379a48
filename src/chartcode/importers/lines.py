"""Read a text file line by line from bytes, so every decoding problem names its line.

Shared by the notes and codes importers. Error messages name the file and the line and
never quote the text of the line (it may hold PHI).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from chartcode.errors import UserError, open_binary

# A chart note can be long; csv's default limit (128 KiB a field) is too small for some.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


def check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UserError(f"unknown encoding {encoding!r} (try utf-8, cp1252 or latin-1)") from None


class LineReader:
    """Iterate decoded lines of ``fh``; ``line_no`` is the number of the last line read."""

    def __init__(self, fh: BinaryIO, shown: str, encoding: str = "utf-8", *, total: int = 0,
                 progress: Progress | None = None):
        self.fh = fh
        self.shown = shown
        self.encoding = check_encoding(encoding)
        self.line_no = 0
        self.bytes_done = 0
        self.total = total
        self.progress = progress
        self._last_report = 0

    def __iter__(self) -> Iterator[str]:
        if self.encoding.startswith(("utf-16", "utf-32")):
            yield from self._wide()
            return
        decoder = self.encoding
        for raw in self.fh:
            self.line_no += 1
            self.bytes_done += len(raw)
            if self.line_no == 1 and decoder == "utf-8" and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                line = raw.decode(decoder)
            except UnicodeDecodeError as exc:
                raise UserError(
                    f"{self.shown}:{self.line_no}: not valid {self.encoding} text (byte 0x{raw[exc.start]:02x} at "
                    f"column {exc.start + 1}); if the file was saved in another encoding, pass --encoding "
                    f"(for example --encoding cp1252 for Windows exports)"
                ) from None
            if "\x00" in line:
                raise UserError(
                    f"{self.shown}:{self.line_no}: contains a NUL byte; the file is binary or corrupted"
                    " (re-export it as plain text)")
            self._report()
            yield line
        self._report(final=True)

    def _wide(self) -> Iterator[str]:
        import io

        text = io.TextIOWrapper(self.fh, encoding=self.encoding, newline="")
        try:
            for line in text:
                self.line_no += 1
                if "\x00" in line:
                    raise UserError(f"{self.shown}:{self.line_no}: contains a NUL byte")
                yield line
        except UnicodeDecodeError:
            raise UserError(f"{self.shown}:{self.line_no + 1}: not valid {self.encoding} text; check --encoding") from None

    def _report(self, final: bool = False) -> None:
        if self.progress and (final or self.bytes_done - self._last_report > 1 << 20):
            self._last_report = self.bytes_done
            self.progress(self.bytes_done, self.total)


def open_for_lines(path: Path) -> tuple[BinaryIO, int]:
    fh = open_binary(path)
    return fh, path.stat().st_size


def csv_rows(lines: LineReader, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(first line of the row, cells) for each non-empty CSV row."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UserError(f"{lines.shown}:{reader.line_num}: CSV problem: {exc}") from None
        if row and any(cell.strip() for cell in row):
            yield start, row
        start = reader.line_num + 1


def parse_date(text: str, date_format: str | None) -> str:
    """An ISO date (or date-time) from ``text``; ValueError with a hint if it cannot be read."""
    text = text.strip()
    if date_format:
        try:
            parsed = dt.datetime.strptime(text, date_format)
        except ValueError:
            raise ValueError(f"date {text!r} does not match --date-format {date_format!r}") from None
        if any(tok in date_format for tok in ("%H", "%I", "%M", "%S")):
            return parsed.isoformat(timespec="seconds")
        return parsed.date().isoformat()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.isoformat(timespec="seconds")
    except ValueError:
        raise ValueError(
            f"unparseable date {text!r} (write YYYY-MM-DD or YYYY-MM-DDTHH:MM, or pass --date-format,"
            " e.g. --date-format '%m/%d/%Y')") from None
