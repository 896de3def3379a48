"""Import codes from a long CSV (record_id, note_id, field, value[, memo]) for one coder.

Every row is checked against the codebook and the database before anything is written:
unknown record, note or field, a value the field does not accept, a note-level field
without a note (or the reverse) -> an error naming the line; nothing is written. Then all
codes are written in one transaction, each with its history entry. Unless ``draft``, the
coder's records in the file that have every required field coded count as submitted (their
values frozen for agreement); the others stay drafts.

Memory does not grow with the file: it is read twice, in batches of BATCH rows. The first
pass checks every row without taking the write lock (a bad file never holds other writers
up); the second checks each row again as it writes it, inside the one transaction, so a
file changed between the passes, or a record removed meanwhile, still rolls everything
back. The keys seen so far (for the "second code for ..." check) are kept on disk
(store.imports.CodeKeys), not in a dict.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartcode.codebook import CodeError
from chartcode.errors import UserError, quote
from chartcode.importers.lines import LineReader, check_header, csv_rows, header_names, open_for_lines
from chartcode.store.imports import CodeKeys
from chartcode.store.store import Store

REQUIRED = ("record_id", "note_id", "field", "value")
MAX_PROBLEMS = 25
BATCH = 5000


@dataclass
class CodesResult:
    file: str
    coder: str
    rows: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped_empty: int = 0
    records: int = 0
    submitted: int = 0
    drafts: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [
            f"{self.file}: {self.rows} codes read for {self.coder}",
            f"{self.changed} saved",
            f"{self.unchanged} unchanged",
        ]
        if self.skipped_empty:
            parts.append(f"{self.skipped_empty} empty values skipped")
        parts.append(f"{self.records} records, {self.submitted} newly submitted")
        text = ", ".join(parts) + f" ({self.seconds:.1f} s)"
        if self.drafts:
            text += f"\n{self.drafts} records left as drafts (missing required fields)"
        return text


@dataclass(slots=True)
class _Code:
    line: int
    record_id: str
    note_key: str
    field: Any
    value: Any
    memo: str | None


@dataclass(slots=True)
class _Row:
    line: int
    record_id: str
    note_id: str
    field: str
    raw: str
    memo: str | None
    bad: str | None = None  # a row the CSV reader already refused (its problem)


def import_codes(
    store: Store,
    path: str | Path,
    coder: str,
    *,
    draft: bool = False,
    encoding: str = "utf-8",
    actor: str | None = None,
) -> CodesResult:
    path = Path(path)
    shown = str(path)
    started = time.perf_counter()
    store.require_coder(coder)
    result = CodesResult(file=shown, coder=coder)
    with CodeKeys() as keys:  # pass 1: check every row; nothing is written
        for _ in _checked(store, path, encoding, keys, result):
            pass
    who = actor or coder
    with (
        CodeKeys() as keys,  # pass 2: the same checks again, each batch written as it passes them
        contextlib.closing(_checked(store, path, encoding, keys, CodesResult(file=shown, coder=coder))) as batches,
    ):
        written = store.write_imported_codes(
            coder,
            batches,
            keys.records,
            actor=who,
            reason=f"import {path.name}",
            draft=draft,
        )
        result.records = keys.record_count()
    result.changed, result.unchanged, result.submitted = written.changed, written.unchanged, written.submitted
    result.drafts = written.drafts
    result.seconds = time.perf_counter() - started
    return result


def _checked(
    store: Store, path: Path, encoding: str, keys: CodeKeys, result: CodesResult
) -> Generator[list[_Code], None, None]:
    """The file's codes in batches, each row checked against the codebook, the database and the rows
    before it (``keys``); counts into ``result``. Raises UserError, after the last row or the
    MAX_PROBLEMS-th problem, if any row is bad: nothing the caller wrote may be kept."""
    shown = str(path)
    problems: list[str] = []

    def problem(line: int, text: str) -> None:
        problems.append(f"{shown}:{line}: {text}")
        if len(problems) >= MAX_PROBLEMS:
            raise _TooMany

    try:
        for batch in _row_batches(path, encoding, result):
            codes, bad = _check_batch(store, batch)
            dup = keys.claim([(c.record_id, c.note_key, c.field.name, c.line) for c in codes])
            if dup:
                for c in codes:
                    if c.line in dup:
                        nid = f" note {quote(c.note_key)}" if c.note_key else ""
                        bad.append(
                            (
                                c.line,
                                f"a second code for record {quote(c.record_id)}{nid} field {c.field.name!r}"
                                f" (first at line {dup[c.line]})",
                            )
                        )
                codes = [c for c in codes if c.line not in dup]
            for line, text in sorted(bad, key=lambda b: b[0]):  # in the file's order, as they are read
                problem(line, text)
            if not problems and codes:
                yield codes
    except _TooMany:
        problems.append(f"{shown}: stopped after {MAX_PROBLEMS} problems")
    if not problems and result.rows == 0:
        problems.append(f"{shown}: no codes found (the file has no rows after the header)")
    if problems:
        head = problems[0] if len(problems) == 1 else f"{shown}: {len(problems)} problems; nothing was imported"
        raise UserError(head, problems=problems if len(problems) > 1 else None)


def _row_batches(path: Path, encoding: str, result: CodesResult) -> Iterator[list[_Row]]:
    """The file's rows with a value, BATCH at a time (a bad header or unreadable text: UserError)."""
    shown = str(path)
    fh, size = open_for_lines(path)
    with fh:
        rows = csv_rows(LineReader(fh, shown, encoding, total=size))
        try:
            header_line, header = next(rows)
        except StopIteration:
            raise UserError(
                f"{shown}:1: the file is empty (expected a header row: {', '.join(REQUIRED)}[, memo])"
            ) from None
        header = [h.strip() for h in header]
        check_header(shown, header_line, header)
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise UserError(
                f"{shown}:{header_line}: missing column {missing[0]!r} ({header_names(header)};"
                f" expected {', '.join(REQUIRED)}[, memo])"
            )
        idx = {c: header.index(c) for c in (*REQUIRED, "memo") if c in header}
        memo_at = idx.get("memo")
        batch: list[_Row] = []
        for line, cells in rows:
            if len(cells) != len(header):
                width = f"{len(cells)} values but the header has {len(header)} columns"
                batch.append(_Row(line, "", "", "", "", None, width))
            else:
                raw = cells[idx["value"]].strip()
                result.rows += 1
                if not raw:
                    result.skipped_empty += 1
                    continue
                memo = cells[memo_at].strip() if memo_at is not None else ""
                rid, nid, fname = (cells[idx[c]].strip() for c in ("record_id", "note_id", "field"))
                batch.append(_Row(line, rid, nid, fname, raw, memo or None))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch


def _check_batch(store: Store, batch: list[_Row]) -> tuple[list[_Code], list[tuple[int, str]]]:
    """The rows of ``batch`` that are codes the codebook and the database accept, and (line, problem)
    of the others."""
    cb = store.codebook
    bad: list[tuple[int, str]] = []

    def problem(line: int, text: str) -> None:
        bad.append((line, text))

    records, notes = store.import_targets(
        (r.record_id for r in batch if r.record_id), (r.note_id for r in batch if r.note_id)
    )
    codes: list[_Code] = []
    for r in batch:
        line, rid, nid, fname, raw = r.line, r.record_id, r.note_id, r.field, r.raw
        if r.bad:
            problem(line, r.bad)
            continue
        if not rid:
            problem(line, "empty record_id")
            continue
        if rid not in records:
            problem(line, f"unknown record {quote(rid)}")
            continue
        fld = cb.get(fname)
        if fld is None:
            problem(line, f"unknown field {quote(fname)}")
            continue
        if fld.level == "record" and nid:
            problem(line, f"field {fname!r} is coded once per record; leave note_id empty")
            continue
        if fld.level == "note":
            if not nid:
                problem(line, f"field {fname!r} is coded per note; note_id is empty")
                continue
            note = notes.get(nid)
            if note is None:
                problem(line, f"unknown note {quote(nid)}")
                continue
            if note[0] != rid:
                problem(line, f"note {quote(nid)} belongs to record {quote(note[0])}, not {quote(rid)}")
                continue
            if not fld.applies_to(note[1]):
                problem(
                    line,
                    f"field {fname!r} is coded only on {', '.join(fld.note_types)} notes;"
                    f" note {quote(nid)} is of type {quote(note[1])}",
                )
                continue
        try:
            value = fld.parse(raw)
        except CodeError as exc:
            problem(line, f"field {fname!r}: {_without(str(exc), raw)}")
            continue
        codes.append(_Code(line, rid, nid if fld.level == "note" else "", fld, value, r.memo))
    return codes, bad


def _without(message: str, raw: str) -> str:
    """A value's problem without the value, unless it is a short token (it may be free text)."""
    if quote(raw).startswith("["):
        message = message.replace(repr(raw), "the value").replace(raw, "the value")
    return message


class _TooMany(Exception):
    pass
