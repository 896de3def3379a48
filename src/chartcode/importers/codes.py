"""Import codes from a long CSV (record_id, note_id, field, value[, memo]) for one coder.

Every row is checked against the codebook and the database before anything is written:
unknown record, note or field, a value the field does not accept, a note-level field
without a note (or the reverse) -> an error naming the line; nothing is written. Then all
codes are written in one transaction, each with its history entry. Unless ``draft``, the
coder's records in the file that have every required field coded count as submitted (their
values frozen for agreement); the others stay drafts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartcode.codebook import CodeError
from chartcode.errors import UserError, quote
from chartcode.importers.lines import LineReader, check_header, csv_rows, header_names, open_for_lines
from chartcode.store.store import Store

REQUIRED = ("record_id", "note_id", "field", "value")
MAX_PROBLEMS = 25


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


@dataclass
class _Code:
    line: int
    record_id: str
    note_key: str
    field: Any
    value: Any
    memo: str | None


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
    cb = store.codebook
    result = CodesResult(file=shown, coder=coder)
    problems: list[str] = []
    codes: list[_Code] = []
    seen: dict[tuple[str, str, str], int] = {}
    record_cache: dict[str, bool] = {}
    note_cache: dict[str, tuple[str, str | None] | None] = {}

    def problem(line: int, text: str) -> None:
        problems.append(f"{shown}:{line}: {text}")
        if len(problems) >= MAX_PROBLEMS:
            raise _TooMany

    fh, size = open_for_lines(path)
    try:
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
            for line, cells in rows:
                if len(cells) != len(header):
                    problem(line, f"{len(cells)} values but the header has {len(header)} columns")
                    continue
                get = lambda c, cells=cells: cells[idx[c]].strip() if c in idx else ""  # noqa: E731
                rid, nid, fname, raw = get("record_id"), get("note_id"), get("field"), get("value")
                result.rows += 1
                if not raw:
                    result.skipped_empty += 1
                    continue
                if not rid:
                    problem(line, "empty record_id")
                    continue
                if rid not in record_cache:
                    record_cache[rid] = store.record_exists(rid)
                if not record_cache[rid]:
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
                    if nid not in note_cache:
                        note_cache[nid] = store.note_target(nid)
                    note = note_cache[nid]
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
                key = (rid, nid if fld.level == "note" else "", fname)
                if key in seen:
                    problem(
                        line,
                        f"a second code for record {quote(rid)}{f' note {quote(nid)}' if nid else ''} field"
                        f" {fname!r} (first at line {seen[key]})",
                    )
                    continue
                seen[key] = line
                codes.append(_Code(line, rid, key[1], fld, value, get("memo") or None))
    except _TooMany:
        problems.append(f"{shown}: stopped after {MAX_PROBLEMS} problems")
    if not problems and result.rows == 0:
        problems.append(f"{shown}: no codes found (the file has no rows after the header)")
    if problems:
        head = problems[0] if len(problems) == 1 else f"{shown}: {len(problems)} problems; nothing was imported"
        raise UserError(head, problems=problems if len(problems) > 1 else None)

    who = actor or coder
    reason = f"import {path.name}"
    records = list(dict.fromkeys(c.record_id for c in codes))
    result.records = len(records)
    written = store.write_imported_codes(coder, codes, records, actor=who, reason=reason, draft=draft)
    result.changed, result.unchanged, result.submitted = written.changed, written.unchanged, written.submitted
    result.drafts = written.drafts
    result.seconds = time.perf_counter() - started
    return result


def _without(message: str, raw: str) -> str:
    """A value's problem without the value, unless it is a short token (it may be free text)."""
    if quote(raw).startswith("["):
        message = message.replace(repr(raw), "the value").replace(raw, "the value")
    return message


class _TooMany(Exception):
    pass
