"""Hostile notes files (CSV, TSV, JSON Lines): exit 2, one clear message, nothing imported, no note text."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.security.conftest import MARK, SENTENCE

COLS = ["record_id", "note_id", "note_date", "note_type", "author", "text"]


def table(rows, delimiter=",", header=COLS) -> str:
    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def good(i: int) -> list[str]:
    return [f"R{i % 50}", f"X{i}", "2024-03-01", "phone", "Dr C", f"{SENTENCE} visit {i}"]


# name -> (rows or bytes builder(delimiter), extra CLI args, line the message must name or None)
TABULAR = {
    "empty": (lambda d: b"", [], ":1"),
    "blank-lines-only": (lambda d: b"\n\n   \n", [], None),
    "header-only": (lambda d: table([], d).encode(), [], None),
    "invalid-utf8": (
        lambda d: table([["R9", "N9", "", "", "", SENTENCE]], d).encode().replace(b"reports", b"r\xe9ports"),
        [],
        ":2",
    ),
    "nul-in-text": (
        lambda d: table([["R9", "N9", "", "", "", SENTENCE.replace("chest", "ch\x00est")]], d).encode(),
        [],
        ":2",
    ),
    "nul-in-record-id": (lambda d: table([["R\x009", "N9", "", "", "", SENTENCE]], d).encode(), [], ":2"),
    "newline-in-record-id": (lambda d: table([["R\n9", "N9", "", "", "", SENTENCE]], d).encode(), [], ":2"),
    "newline-in-note-id": (lambda d: table([["R9", "N\n9", "", "", "", SENTENCE]], d).encode(), [], ":2"),
    "escape-in-record-id": (lambda d: table([["R9\x1b[2J", "N9", "", "", "", SENTENCE]], d).encode(), [], ":2"),
    "long-record-id": (lambda d: table([["R" * 300, "N9", "", "", "", SENTENCE]], d).encode(), [], ":2"),
    "long-note-id": (lambda d: table([["R9", "N" * 300, "", "", "", SENTENCE]], d).encode(), [], ":2"),
    "no-header": (
        lambda d: table([["R9", "N9", "2024-01-01", "phone", "Dr A", SENTENCE]], d, header=None).encode(),
        [],
        ":1",
    ),
    "unterminated-quote": (lambda d: (table([], d) + f'R9{d}N9{d}{d}{d}{d}"{SENTENCE}\n').encode(), [], None),
    "garbage-after-quote": (lambda d: (table([], d) + f'R9{d}N9{d}{d}{d}{d}"{SENTENCE}"x y\n').encode(), [], ":2"),
    "too-many-cells": (lambda d: table([["R9", "N9", "", "", "", SENTENCE, "extra"]], d).encode(), [], ":2"),
    "too-few-cells": (lambda d: table([["R9", "N9", SENTENCE]], d).encode(), [], ":2"),
    "duplicate-column": (
        lambda d: table([["R9", "N9", "", "", "", SENTENCE, SENTENCE]], d, header=COLS + ["text"]).encode(),
        [],
        ":1",
    ),
    "duplicate-note-id": (
        lambda d: table(
            [["R9", "N9", "", "", "", SENTENCE], ["R9", "N9", "", "", "", "other " + SENTENCE]], d
        ).encode(),
        [],
        ":3",
    ),
    "changed-existing-note": (
        lambda d: table([["R1", "R1-N1", "2024-01-05", "conjoint", "Dr A", "changed " + SENTENCE]], d).encode(),
        [],
        ":2",
    ),
    "free-text-date": (lambda d: table([["R9", "N9", f"seen {MARK} at home", "", "", SENTENCE]], d).encode(), [], ":2"),
    "map-date-to-text": (
        lambda d: table([["R9", "N9", "", "", "", SENTENCE]], d).encode(),
        ["--map", "note_date=text"],
        ":2",
    ),
    "date-format-mismatch": (
        lambda d: table([["R9", "N9", "", "", "", SENTENCE]], d).encode(),
        ["--map", "note_date=text", "--date-format", "%m/%d/%Y"],
        ":2",
    ),
    "utf16-as-utf8": (lambda d: table([["R9", "N9", "", "", "", SENTENCE]], d).encode("utf-16"), [], ":1"),
    "bom-crlf-bad-row-3": (
        lambda d: (
            b"\xef\xbb\xbf"
            + table([good(1), ["R9", "N9", f"{MARK} yesterday", "", "", SENTENCE]], d).replace("\n", "\r\n").encode()
        ),
        [],
        ":3",
    ),
    "missing-text-column": (lambda d: table([["R9", "N9", "", "", SENTENCE]], d, header=COLS[:-1]).encode(), [], ":1"),
    "empty-text": (lambda d: table([["R9", "N9", "", "", "", "  "]], d).encode(), [], ":2"),
    "blank-record-id": (lambda d: table([["  ", "N9", "", "", "", SENTENCE]], d).encode(), [], ":2"),
    "bad-row-after-2500": (
        lambda d: table([good(i) for i in range(2500)] + [["R9", "N9", "", "", "", "a\x00b"]], d).encode(),
        [],
        ":2502",
    ),
    "empty-header-names": (
        lambda d: (d * 5 + "\n").encode() + table([["R9", "N9", "", "", "", SENTENCE]], d, header=None).encode(),
        [],
        ":2",
    ),
    "text-in-note-id-column": (
        lambda d: table([["R9", SENTENCE, "", "", "", SENTENCE], ["R9", SENTENCE, "", "", "", "x"]], d).encode(),
        [],
        ":3",
    ),
}


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
@pytest.mark.parametrize("case", list(TABULAR))
def test_hostile_tabular_notes(hostile, db, tmp_path, fmt, case):
    build, extra, line = TABULAR[case]
    src = tmp_path / f"notes.{fmt}"
    src.write_bytes(build("," if fmt == "csv" else "\t"))
    err = hostile("import", db, src, *extra, names=src.name)
    if line:
        assert f"{src.name}{line}" in err, err


def jl(*objs) -> bytes:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs).encode()


def note(**kw):
    base = {"record_id": "R9", "note_id": "N9", "text": SENTENCE}
    base.update(kw)
    return base


JSONL = {
    "empty": (lambda: b"", [], None),
    "blank-lines-only": (lambda: b"\n \n\n", [], None),
    "truncated-json": (lambda: f'{{"record_id": "R9", "note_id": "N9", "text": "{SENTENCE}'.encode(), [], ":1"),
    "array-not-object": (lambda: jl(["R9", "N9", SENTENCE]), [], ":1"),
    "string-not-object": (lambda: jl(SENTENCE), [], ":1"),
    "lone-surrogate-text": (
        lambda: f'{{"record_id": "R9", "note_id": "N9", "text": "{SENTENCE} \\ud800"}}\n'.encode(),
        [],
        ":1",
    ),
    "lone-surrogate-record-id": (
        lambda: f'{{"record_id": "R\\udc00", "note_id": "N9", "text": "{SENTENCE}"}}\n'.encode(),
        [],
        ":1",
    ),
    "nan-record-id": (lambda: f'{{"record_id": NaN, "note_id": "N9", "text": "{SENTENCE}"}}\n'.encode(), [], ":1"),
    "infinity-note-id": (
        lambda: f'{{"record_id": "R9", "note_id": Infinity, "text": "{SENTENCE}"}}\n'.encode(),
        [],
        ":1",
    ),
    "minus-infinity-record-id": (
        lambda: f'{{"record_id": -Infinity, "note_id": "N9", "text": "{SENTENCE}"}}\n'.encode(),
        [],
        ":1",
    ),
    "overflow-float-record-id": (
        lambda: f'{{"record_id": 1e400, "note_id": "N9", "text": "{SENTENCE}"}}\n'.encode(),
        [],
        ":1",
    ),
    "huge-int-record-id": (
        lambda: f'{{"record_id": {"9" * 5000}, "note_id": "N9", "text": "{SENTENCE}"}}\n'.encode(),
        [],
        ":1",
    ),
    "nan-text": (
        lambda: f'{{"record_id": "R9", "note_id": "N9", "text": NaN, "author": "{SENTENCE}"}}\n'.encode(),
        [],
        ":1",
    ),
    "newline-in-record-id": (lambda: jl(note(record_id="R\n9")), [], ":1"),
    "tab-in-note-id": (lambda: jl(note(note_id="N\t9")), [], ":1"),
    "long-note-id": (lambda: jl(note(note_id="N" * 300)), [], ":1"),
    "nul-in-record-id": (lambda: jl(note(record_id="R\x009")), [], ":1"),
    "nul-in-text": (lambda: jl(note(text=SENTENCE + "\x00")), [], ":1"),
    "text-is-list": (lambda: jl(note(text=[SENTENCE])), [], ":1"),
    "text-is-object": (lambda: jl(note(text={"a": SENTENCE})), [], ":1"),
    "record-id-is-bool": (lambda: jl(note(record_id=True)), [], ":1"),
    "duplicate-key": (
        lambda: f'{{"record_id": "R9", "note_id": "N9", "text": "{SENTENCE}", "text": "other"}}\n'.encode(),
        [],
        ":1",
    ),
    "missing-text": (lambda: jl({"record_id": "R9", "note_id": "N9", "body": SENTENCE}), [], ":1"),
    "invalid-utf8": (lambda: jl(note()).replace(b"reports", b"r\xe9ports"), [], ":1"),
    "raw-nul-byte": (lambda: jl(note()).replace(b'", "note_id"', b'"\x00, "note_id"'), [], ":1"),
    "free-text-date": (lambda: jl(note(note_date=f"seen {MARK} at home")), [], ":1"),
    "map-date-to-text": (lambda: jl(note()), ["--map", "note_date=text"], ":1"),
    "date-is-object": (lambda: jl(note(note_date={"when": SENTENCE})), [], ":1"),
    "bad-line-after-2500": (lambda: jl(*[note(note_id=f"X{i}") for i in range(2500)], note(text=7.5e400)), [], ":2501"),
    "bom-crlf-bad-line-3": (
        lambda: (
            b"\xef\xbb\xbf"
            + jl(note(note_id="A"), note(note_id="B"), note(note_id="C", note_date=SENTENCE)).replace(b"\n", b"\r\n")
        ),
        [],
        ":3",
    ),
    "deep-array-text": (
        lambda: ('{"record_id": "R9", "note_id": "N9", "text": ' + "[" * 50000 + "]" * 50000 + "}\n").encode(),
        [],
        ":1",
    ),
    "deep-object": (lambda: ('{"a": ' * 50000 + f'"{SENTENCE}"' + "}" * 50000 + "\n").encode(), [], ":1"),
    "utf16-as-utf8": (lambda: jl(note()).decode().encode("utf-16"), [], ":1"),
    "changed-existing-note": (lambda: jl(note(record_id="R1", note_id="R1-N1", text="changed " + SENTENCE)), [], ":1"),
}


@pytest.mark.parametrize("case", list(JSONL))
def test_hostile_jsonl_notes(hostile, db, tmp_path, case):
    build, extra, line = JSONL[case]
    src = tmp_path / "notes.jsonl"
    src.write_bytes(build())
    err = hostile("import", db, src, *extra, names=src.name)
    if line:
        assert f"{src.name}{line}" in err, err
