"""Read a text file line by line from bytes, so every decoding problem names its line.

Shared by the notes and codes importers. Error messages name the file and the line and
never quote the text of the line (it may hold PHI).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from chartcode.errors import UserError, open_binary, quote

# A chart note can be long; csv's default limit (128 KiB a field) is too small for some. But a
# line or field of more than MAX_LINE bytes is not a note: refuse it rather than fill memory.
MAX_LINE = 16 << 20
MAX_ID = 256
csv.field_size_limit(MAX_LINE)

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


def check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UserError(f"unknown encoding {encoding!r} (try utf-8, cp1252 or latin-1)") from None


class LineReader:
    """Iterate decoded lines of ``fh``; ``line_no`` is the number of the last line read."""

    def __init__(
        self, fh: BinaryIO, shown: str, encoding: str = "utf-8", *, total: int = 0, progress: Progress | None = None
    ):
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
        for raw in iter(lambda: self.fh.readline(MAX_LINE + 1), b""):
            self.line_no += 1
            if len(raw) > MAX_LINE:
                raise UserError(
                    f"{self.shown}:{self.line_no}: the line is longer than {MAX_LINE >> 20} MB"
                    " (is this the right file?)"
                )
            self.bytes_done += len(raw)
            if self.line_no == 1 and decoder == "utf-8" and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
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
                    " (re-export it as plain text)"
                )
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
            raise UserError(
                f"{self.shown}:{self.line_no + 1}: not valid {self.encoding} text; check --encoding"
            ) from None

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
            problem = str(exc)
            if "field limit" in problem:
                problem = f"a value is longer than {MAX_LINE >> 20} MB"
            raise UserError(f"{lines.shown}:{reader.line_num}: CSV problem: {problem}") from None
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
            raise ValueError(f"date {_date_shown(text)} does not match --date-format {date_format!r}") from None
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
            f"unparseable date {_date_shown(text)} (write YYYY-MM-DD or YYYY-MM-DDTHH:MM, or pass --date-format,"
            " e.g. --date-format '%m/%d/%Y')"
        ) from None


_DATE_CHARS = frozenset("0123456789-/.:+ TZ")


def _date_shown(text: str) -> str:
    """A date as written, if it looks like one; otherwise (it may be note text) only its length."""
    if 0 < len(text) <= 40 and all(c in _DATE_CHARS for c in text):
        return repr(text)
    return f"[{len(text)} characters, not shown]"


def check_id(where: str, what: str, value: str) -> str:
    """``value`` if it can be a record or note id: at most MAX_ID characters, no control characters."""
    if len(value) > MAX_ID:
        raise UserError(f"{where}: {what} is {len(value)} characters long (at most {MAX_ID})")
    bad = next((c for c in value if not c.isprintable() and c != " "), None)
    if bad is not None:
        raise UserError(
            f"{where}: {what} contains a control character ({repr(bad)[1:-1]}); ids are one line of printable text"
        )
    return value


def header_names(header: list[str]) -> str:
    """The header's column names for a message, or a hint when the first row is not a header."""
    if all(h == "" or quote(h.replace(" ", "_"), 32).startswith("'") for h in header):
        return "found: " + ", ".join(header)
    return "the first row does not look like a header row of column names"


def check_header(shown: str, line: int, header: list[str]) -> None:
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup:
        raise UserError(f"{shown}:{line}: column {quote(dup[0], 64)} appears more than once in the header")
