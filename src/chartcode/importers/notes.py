"""Import chart notes: CSV, JSON Lines, or a folder of .txt files (one note per file).

Streaming and atomic: rows are validated and inserted in batches inside one transaction,
and the first bad row rolls everything back with an error naming file, line and problem.
Re-importing the same notes changes nothing (same note_id and same content is skipped; the
same note_id with other content is an error).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shlex
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartcode.errors import UserError, printable, quote
from chartcode.importers.lines import (
    MAX_LINE,
    LineReader,
    Progress,
    check_encoding,
    check_header,
    check_id,
    csv_rows,
    header_names,
    open_for_lines,
    parse_date,
)
from chartcode.store.store import Store

COLUMNS = ("record_id", "note_id", "note_date", "note_type", "author", "text")
REQUIRED = ("record_id", "note_id", "text")
BATCH = 2000
FORMATS = ("csv", "tsv", "jsonl", "folder")


@dataclass
class ImportResult:
    file: str
    format: str
    rows: int = 0
    new: int = 0
    unchanged: int = 0
    records_new: int = 0
    seconds: float = 0.0
    undated: int = 0  # notes that arrived without a note_date
    untyped: int = 0  # ... without a note_type
    suggested_pattern: str | None = None  # for a folder: a --pattern that reads both from the names
    replaced: Any = None  # with replace=True: the RemovedNotes taken out first

    def warnings(self) -> list[str]:
        """What the coder should know: notes without a date or type never get note-level fields
        limited to note types, and date-based rules cannot place them."""
        if not (self.undated or self.untyped):
            return []
        parts = [
            f"{n} of {self.rows} notes have no {what}"
            for n, what in ((self.undated, "note_date"), (self.untyped, "note_type"))
            if n
        ]
        out = [
            f"warning: {' and '.join(parts)}: note-level fields limited to note types never apply to notes"
            " without a type, and notes without a date cannot be put in order"
        ]
        if self.suggested_pattern:
            out.append(
                "  the file names look like they hold them; import again with"
                f" --replace --pattern {shlex.quote(self.suggested_pattern)}"
            )
        elif self.format == "folder":
            out.append(
                "  pass --pattern with (?P<note_date>...) and (?P<note_type>...) groups on each file's path,"
                " e.g. --pattern '(?P<record_id>[^/]+)/(?P<note_date>\\d{4}-\\d\\d-\\d\\d)_(?P<note_type>\\w+)\\.txt'"
            )
        else:
            out.append("  add note_date and note_type columns (or name them with --map note_date=COLUMN)")
        return out

    def summary(self) -> str:
        return (
            f"{self.file}: {self.rows} notes read, {self.new} new, {self.unchanged} already imported,"
            f" {self.records_new} new records ({self.seconds:.1f} s)"
        )


@dataclass
class _Row:
    line: int
    record_id: str
    note_id: str
    note_date: str | None
    note_type: str | None
    author: str | None
    text: str

    @property
    def sha(self) -> str:
        h = hashlib.sha256()
        for part in (self.record_id, self.note_date or "", self.note_type or "", self.author or "", self.text):
            h.update(part.encode("utf-8"))
            h.update(b"\x1f")
        return h.hexdigest()


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise UserError(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
        return fmt
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".tsv":
        return "tsv"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise UserError(f"{path}: cannot tell the format from the name; pass --format csv|tsv|jsonl|folder")


def parse_mapping(pairs: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """``["record_id=PatientID", ...]`` -> {"record_id": "PatientID"}."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, column = pair.partition("=")
        key, column = key.strip(), column.strip()
        if not sep or not column:
            raise UserError(f"--map {pair!r}: write --map FIELD=COLUMN, e.g. --map record_id=PatientID")
        if key not in COLUMNS:
            raise UserError(f"--map {pair!r}: {key!r} is not one of: {', '.join(COLUMNS)}")
        out[key] = column
    return out


def import_notes(
    store: Store,
    path: str | Path,
    *,
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    encoding: str = "utf-8",
    date_format: str | None = None,
    pattern: str | None = None,
    actor: str = "system",
    progress: Progress | None = None,
    on_phase: Callable[[str], None] | None = None,
    replace: bool = False,
    force: bool = False,
) -> ImportResult:
    """Import notes. ``replace``: for every record in the file, stored notes that the file drops or
    changes are removed first (refused when codes rest on them, unless ``force``; every removal is in
    the history) and the file's notes imported in their place."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    fmt = detect_format(path, fmt)
    check_encoding(encoding)
    started = time.perf_counter()
    result = ImportResult(file=str(path), format=fmt)
    if fmt == "folder":
        rows: Iterable[_Row] = _folder_rows(path, encoding, pattern, date_format, progress)
        sha = None
    else:
        if path.is_dir():
            raise UserError(f"{path}: is a folder; pass --format folder (or leave --format out)")
        if pattern:
            raise UserError("--pattern applies only to a folder of .txt files")
        rows = _file_rows(path, fmt, mapping or {}, encoding, date_format, progress)
        sha = _sha256(path)
    rows = _counting(rows, result)
    if replace:
        rows = list(rows)  # read and checked in full before anything stored is removed
        _no_duplicate_ids(rows, printable(str(path)))
        result.replaced = _remove_replaced(store, rows, actor, force, f"replaced by {path.name}")
        result.rows = result.undated = result.untyped = 0
        rows = _counting(rows, result)
    store.write_imported_notes(path.name, str(path), rows, sha, actor, result, BATCH, on_phase)
    if fmt == "folder" and pattern is None and (result.undated or result.untyped):
        result.suggested_pattern = suggest_pattern([f.relative_to(path).as_posix() for f in _folder_files(path)])
    if result.rows == 0:  # nothing was written: the store writes nothing when no note is new
        raise UserError(f"{path}: no notes found (the file has no rows of notes)")
    result.seconds = time.perf_counter() - started
    return result


def _counting(rows: Iterable[_Row], result: ImportResult) -> Iterator[_Row]:
    for r in rows:
        result.undated += r.note_date is None
        result.untyped += r.note_type is None
        yield r


def _no_duplicate_ids(rows: list[_Row], shown: str) -> None:
    seen: dict[str, int] = {}
    for r in rows:
        if r.note_id in seen:
            raise UserError(f"{shown}:{r.line}: duplicate note_id {quote(r.note_id)} (first at line {seen[r.note_id]})")
        seen[r.note_id] = r.line


def _remove_replaced(store: Store, rows: list[_Row], actor: str, force: bool, reason: str) -> Any:
    """Take out the stored notes the file replaces: those of the file's records that the file
    drops or changes, and notes whose id the file gives to another record."""
    by_id = {r.note_id: r for r in rows}
    stored = store.note_contents(sorted({r.record_id for r in rows}))
    targets = [(rid, nid) for nid, (rid, sha) in stored.items() if nid not in by_id or by_id[nid].sha != sha]
    moved = store.note_owners([nid for nid in by_id if nid not in stored])
    targets += [(rid, nid) for nid, rid in moved.items() if by_id[nid].record_id != rid]
    if not targets:
        return None
    return store.remove_notes(sorted(targets), actor=actor, reason=reason, force=force)


DATE_RE = re.compile(r"\d{4}-\d\d-\d\d")


def suggest_pattern(paths: list[str]) -> str | None:
    """A --pattern that reads record, date and type from these relative paths, when they share one
    layout (``P1/2024-02-01_conjoint.txt``); None when no single pattern fits them all."""
    if not paths:
        return None
    first = paths[0]
    parts = first.split("/")
    if len(parts) != 2:  # the record id comes from the sub-folder; other layouts need a pattern by hand
        return None
    record = "(?P<record_id>[^/]+)/"
    stem = parts[-1][: -len(".txt")] if parts[-1].lower().endswith(".txt") else parts[-1]
    out: list[str] = []
    seen_date = seen_type = False
    for m in re.finditer(r"\d{4}-\d\d-\d\d|[A-Za-z]+|\d+|[^A-Za-z\d]+", stem):
        tok = m.group(0)
        if DATE_RE.fullmatch(tok) and not seen_date:
            out.append(r"(?P<note_date>\d{4}-\d\d-\d\d)")
            seen_date = True
        elif tok.isalpha() and not seen_type:
            out.append(r"(?P<note_type>[A-Za-z]+)")
            seen_type = True
        elif tok.isdigit():
            out.append(r"\d+")
        elif tok.isalpha():
            out.append("[A-Za-z]+")
        else:
            out.append(re.escape(tok))
    if not (seen_date or seen_type):
        return None
    pattern = record + "".join(out) + r"\.txt"
    regex = re.compile(pattern + "$")
    return pattern if all(regex.search(p) for p in paths) else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _make_row(shown: str, line: int, values: dict[str, Any], date_format: str | None) -> _Row:
    def text(key: str) -> str | None:
        v = values.get(key)
        if v is None:
            return None
        if isinstance(v, (dict, list)):
            raise UserError(f"{shown}:{line}: {key} must be text, not a {'list' if isinstance(v, list) else 'object'}")
        if isinstance(v, bool):
            raise UserError(f"{shown}:{line}: {key} must be text, not true/false")
        if isinstance(v, float) and not math.isfinite(v):
            raise UserError(f"{shown}:{line}: {key} must be text, not a number out of range")
        v = str(v)
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise UserError(
                f"{shown}:{line}: {key} holds a lone UTF-16 surrogate (an escape such as \\ud800"
                " without its pair); the file is corrupted"
            ) from None
        return v

    record_id = check_id(f"{shown}:{line}", "record_id", (text("record_id") or "").strip())
    if not record_id:
        raise UserError(f"{shown}:{line}: empty record_id")
    note_id = check_id(f"{shown}:{line}", "note_id", (text("note_id") or "").strip())
    if not note_id:
        raise UserError(f"{shown}:{line}: empty note_id")
    body = text("text")
    if body is None or not body.strip():
        raise UserError(f"{shown}:{line}: note {quote(note_id)} has no text")
    if "\x00" in body:
        raise UserError(f"{shown}:{line}: note {quote(note_id)} contains a NUL byte")
    raw_date = (text("note_date") or "").strip()
    note_date = None
    if raw_date:
        try:
            note_date = parse_date(raw_date, date_format)
        except ValueError as exc:
            raise UserError(f"{shown}:{line}: {exc}") from None
    return _Row(
        line=line,
        record_id=record_id,
        note_id=note_id,
        note_date=note_date,
        note_type=(text("note_type") or "").strip() or None,
        author=(text("author") or "").strip() or None,
        text=body,
    )


def _file_rows(
    path: Path, fmt: str, mapping: dict[str, str], encoding: str, date_format: str | None, progress: Progress | None
) -> Iterator[_Row]:
    shown = str(path)
    fh, size = open_for_lines(path)
    with fh:
        lines = LineReader(fh, shown, encoding, total=size, progress=progress)
        if fmt == "jsonl":
            yield from _jsonl_rows(lines, mapping, date_format)
            return
        rows = csv_rows(lines, delimiter="\t" if fmt == "tsv" else ",")
        try:
            header_line, header = next(rows)
        except StopIteration:
            raise UserError(f"{shown}:1: the file is empty (expected a header row: {', '.join(COLUMNS)})") from None
        header = [h.strip() for h in header]
        check_header(shown, header_line, header)
        index: dict[str, int] = {}
        for key in COLUMNS:
            column = mapping.get(key, key)
            if column in header:
                index[key] = header.index(column)
            elif key in REQUIRED or key in mapping:
                hint = f"; map another column with --map {key}=COLUMN" if key not in mapping else ""
                raise UserError(f"{shown}:{header_line}: missing column {column!r} ({header_names(header)}){hint}")
        width = len(header)
        for line, cells in rows:
            if len(cells) != width:
                raise UserError(
                    f"{shown}:{line}: {len(cells)} values but the header has {width} columns"
                    " (a stray delimiter or an unquoted line break?)"
                )
            yield _make_row(shown, line, {k: cells[i] for k, i in index.items()}, date_format)


def _jsonl_rows(lines: LineReader, mapping: dict[str, str], date_format: str | None) -> Iterator[_Row]:
    shown = lines.shown
    for raw in lines:
        if not raw.strip():
            continue
        line = lines.line_no
        try:
            obj = json.loads(raw, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise UserError(f"{shown}:{line}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except _BadJSON as exc:
            raise UserError(f"{shown}:{line}: {exc}") from None
        except RecursionError:
            raise UserError(f"{shown}:{line}: not valid JSON for a note (nested too deeply)") from None
        except ValueError:  # an integer of more digits than Python converts
            raise UserError(f"{shown}:{line}: not valid JSON for a note (a number with too many digits)") from None
        if not isinstance(obj, dict):
            raise UserError(f"{shown}:{line}: each line must be a JSON object with {', '.join(REQUIRED)}")
        values = {}
        for key in COLUMNS:
            name = mapping.get(key, key)
            if name in obj:
                values[key] = obj[name]
            elif key in REQUIRED:
                raise UserError(f"{shown}:{line}: missing key {name!r}")
        yield _make_row(shown, line, values, date_format)


class _BadJSON(ValueError):
    pass


def _no_constant(name: str):
    raise _BadJSON(f"{name} is not a value chartcode accepts (JSON has no NaN or Infinity)")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        dup = None
        for k, _ in pairs:
            if k in seen:
                dup = k
                break
            seen.add(k)
        raise _BadJSON(f"key {quote(dup)} appears twice in the object")
    return out


def _folder_rows(
    root: Path, encoding: str, pattern: str | None, date_format: str | None, progress: Progress | None
) -> Iterator[_Row]:
    regex = None
    if pattern:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise UserError(f"--pattern {pattern!r}: not a valid regular expression ({exc})") from None
        unknown = set(regex.groupindex) - set(COLUMNS)
        if unknown:
            raise UserError(f"--pattern: unknown group(s) {', '.join(sorted(unknown))} (use {', '.join(COLUMNS[:-1])})")
    files = _folder_files(root)
    if not files:
        raise UserError(f"{root}: no .txt files found")
    for i, f in enumerate(files, 1):
        rel = f.relative_to(root).as_posix()
        shown = printable(str(f))
        values: dict[str, Any] = {}
        if len(f.relative_to(root).parts) > 1:
            values["record_id"] = f.relative_to(root).parts[0]
        values["note_id"] = rel[:-4]
        if regex is not None:
            m = regex.search(rel)
            if m is None:
                raise UserError(f"{shown}: the file name does not match --pattern {pattern!r}")
            values.update({k: v for k, v in m.groupdict().items() if v is not None})
        if not values.get("record_id"):
            raise UserError(
                f"{shown}: cannot tell the record id; put each record's notes in a sub-folder named"
                " after the record, or pass --pattern with a (?P<record_id>...) group"
            )
        raw = _read_note_file(f, shown)
        if b"\x00" in raw:
            line = raw[: raw.index(b"\x00")].count(b"\n") + 1
            raise UserError(f"{shown}:{line}: contains a NUL byte; the file is binary or corrupted")
        try:
            values["text"] = raw.decode("utf-8-sig" if check_encoding(encoding) == "utf-8" else encoding)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise UserError(
                f"{shown}:{line}: not valid {encoding} text; if the file was saved in another encoding,"
                " pass --encoding (for example --encoding cp1252)"
            ) from None
        if progress:
            progress(i, len(files))
        yield _make_row(shown, 1, values, date_format)


def _folder_files(root: Path) -> list[Path]:
    """The .txt files under ``root``, refusing what could bring in a file from elsewhere: a symbolic
    link (to a file or a folder, inside or outside), or a .txt that is not a regular file."""
    base = root.resolve()
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=_walk_error):
        here = Path(dirpath)
        for name in sorted(dirnames) + sorted(filenames):
            p = here / name
            rel = printable(p.relative_to(root).as_posix())
            if p.is_symlink():
                raise UserError(
                    f"{root}: {rel} is a symbolic link; links are not followed (copy the file"
                    " into the folder instead); nothing was imported"
                )
            if name in filenames and name.endswith(".txt"):
                if not p.is_file():
                    raise UserError(f"{root}: {rel} is not a regular file; nothing was imported")
                if not p.resolve().is_relative_to(base):
                    raise UserError(f"{root}: {rel} resolves outside the folder; nothing was imported")
                files.append(p)
    return sorted(files)


def _walk_error(exc: OSError) -> None:
    raise UserError(f"{exc.filename}: cannot read the folder ({exc.strerror or exc})")


def _read_note_file(f: Path, shown: str) -> bytes:
    """The bytes of one note file, opened without following a link and at most MAX_LINE long."""
    try:
        fd = os.open(f, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UserError(f"{shown}: cannot read ({exc.strerror or exc}); nothing was imported") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{shown}: is not a regular file; nothing was imported")
        if info.st_size > MAX_LINE:
            raise UserError(
                f"{shown}: {info.st_size >> 20} MB is too large for a note (at most"
                f" {MAX_LINE >> 20} MB); nothing was imported"
            )
        return fh.read(MAX_LINE + 1)
