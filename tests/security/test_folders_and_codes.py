"""Hostile folders of notes and hostile codes files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.security.conftest import SENTENCE


def _outside(tmp: Path) -> Path:
    secret = tmp / "outside"
    secret.mkdir(exist_ok=True)
    (secret / "passwd").write_text(f"root:x:0:0:{SENTENCE}:/root:/bin/bash\n")
    (secret / "s.txt").write_text(SENTENCE)
    return secret


def _good(root: Path) -> None:
    (root / "R7").mkdir(parents=True, exist_ok=True)
    (root / "R7" / "a.txt").write_text(f"{SENTENCE} one")
    (root / "R7" / "b.txt").write_text(f"{SENTENCE} two")


def symlink_file_outside(root, tmp):
    _good(root)
    (root / "R7" / "p.txt").symlink_to(_outside(tmp) / "passwd")
    return "R7/p.txt"


def symlink_file_inside(root, tmp):
    _good(root)
    (root / "R7" / "c.txt").symlink_to(root / "R7" / "a.txt")
    return "R7/c.txt"


def symlink_relative_outside(root, tmp):
    _good(root)
    _outside(tmp)
    (root / "R7" / "p.txt").symlink_to(Path("..") / ".." / "outside" / "passwd")
    return "R7/p.txt"


def symlink_folder_outside(root, tmp):
    _good(root)
    (root / "R8").symlink_to(_outside(tmp), target_is_directory=True)
    return "R8"


def symlink_folder_inside(root, tmp):
    _good(root)
    (root / "R8").symlink_to(root / "R7", target_is_directory=True)
    return "R8"


def symlink_loop(root, tmp):
    _good(root)
    (root / "R7" / "loop").symlink_to(root, target_is_directory=True)
    return "R7/loop"


def broken_symlink(root, tmp):
    _good(root)
    (root / "R7" / "gone.txt").symlink_to(tmp / "nowhere.txt")
    return "R7/gone.txt"


def nul_byte(root, tmp):
    _good(root)
    (root / "R7" / "z.txt").write_bytes(f"{SENTENCE}\n\x00".encode())
    return "z.txt:2"


def invalid_utf8(root, tmp):
    _good(root)
    (root / "R7" / "z.txt").write_bytes(SENTENCE.encode().replace(b"reports", b"r\xe9ports"))
    return "z.txt:1"


def utf16(root, tmp):
    _good(root)
    (root / "R7" / "z.txt").write_bytes(SENTENCE.encode("utf-16"))
    return "z.txt"


def empty_file(root, tmp):
    _good(root)
    (root / "R7" / "z.txt").write_bytes(b"")
    return "z.txt"


def no_txt_files(root, tmp):
    root.mkdir()
    (root / "notes.md").write_text(SENTENCE)
    return None


def newline_in_record_folder(root, tmp):
    _good(root)
    (root / "R\n8").mkdir()
    (root / "R\n8" / "a.txt").write_text(SENTENCE)
    return None


def newline_in_file_name(root, tmp):
    _good(root)
    (root / "R7" / "a\nb.txt").write_text(SENTENCE)
    return None


def escape_in_record_folder(root, tmp):
    _good(root)
    (root / "R8\x1b[2J").mkdir()
    (root / "R8\x1b[2J" / "a.txt").write_text(SENTENCE)
    return None


def long_note_id(root, tmp):
    _good(root)
    deep = root / "R7" / ("d" * 200) / ("e" * 100)
    deep.mkdir(parents=True)
    (deep / "a.txt").write_text(SENTENCE)
    return None


def file_at_top(root, tmp):
    _good(root)
    (root / "loose.txt").write_text(SENTENCE)
    return "loose.txt"


def one_bad_among_many(root, tmp):
    for r in range(30):
        (root / f"R{r}").mkdir(parents=True)
        for n in range(5):
            (root / f"R{r}" / f"n{n}.txt").write_text(f"{SENTENCE} {r} {n}")
    (root / "R29" / "n9.txt").write_bytes(b"\xff\xfe\x00bad")
    return "n9.txt"


def fifo(root, tmp):
    _good(root)
    os.mkfifo(root / "R7" / "pipe.txt")
    return "R7/pipe.txt"


FOLDERS = [
    symlink_file_outside,
    symlink_file_inside,
    symlink_relative_outside,
    symlink_folder_outside,
    symlink_folder_inside,
    symlink_loop,
    broken_symlink,
    nul_byte,
    invalid_utf8,
    utf16,
    empty_file,
    no_txt_files,
    newline_in_record_folder,
    newline_in_file_name,
    escape_in_record_folder,
    long_note_id,
    file_at_top,
    one_bad_among_many,
    fifo,
]


@pytest.mark.parametrize("build", FOLDERS, ids=[f.__name__ for f in FOLDERS])
def test_hostile_folder(hostile, db, tmp_path, build):
    root = tmp_path / "f"
    names = build(root, tmp_path)
    err = hostile("import", db, root, "--format", "folder", names=names or "f")
    assert "root:x:0" not in err


HEADER = "record_id,note_id,field,value,memo\n"
Q = f'"{SENTENCE}"'

CODES = {
    "empty": (b"", ":1"),
    "header-only": (HEADER.encode(), None),
    "no-header": (f"R1,R1-N1,session_content,3,{Q}\n".encode(), ":1"),
    "duplicate-value-column": ((HEADER.strip() + ",value\n" + f"R1,,age,61,{Q},62\n").encode(), ":1"),
    "duplicate-memo-column": ((HEADER.strip() + ",memo\n" + f"R1,,age,61,{Q},x\n").encode(), ":1"),
    "invalid-utf8": ((HEADER + f"R1,,age,61,{Q}\n").encode().replace(b"reports", b"r\xe9ports"), ":2"),
    "nul-in-memo": ((HEADER + f"R1,,age,61,{Q}\x00\n").encode(), ":2"),
    "free-text-count-value": ((HEADER + f"R1,,age,{Q},\n").encode(), ":2"),
    "free-text-nominal-value": ((HEADER + f"R1,,sex,{Q},\n").encode(), ":2"),
    "free-text-field": ((HEADER + f"R1,,{Q},1,\n").encode(), ":2"),
    "free-text-record": ((HEADER + f"{Q},,age,61,\n").encode(), ":2"),
    "free-text-note": ((HEADER + f"R1,{Q},session_content,1,\n").encode(), ":2"),
    "too-many-cells": ((HEADER + f"R1,,age,61,{Q},x\n").encode(), ":2"),
    "unterminated-quote": ((HEADER + f'R1,,age,61,"{SENTENCE}\n').encode(), None),
    "newline-in-record-id": ((HEADER + f'"R\n1",,age,61,{Q}\n').encode(), ":2"),
    "long-record-id": ((HEADER + f"{'R' * 300},,age,61,{Q}\n").encode(), ":2"),
    "second-code": ((HEADER + f"R1,,age,61,{Q}\nR1,,age,62,{Q}\n").encode(), ":3"),
    "bom-crlf-bad-row-3": (
        b"\xef\xbb\xbf" + (HEADER + f"R1,,age,61,{Q}\nR1,,sex,{Q},\n").replace("\n", "\r\n").encode(),
        ":3",
    ),
    "utf16-as-utf8": ((HEADER + f"R1,,age,61,{Q}\n").encode("utf-16"), ":1"),
    "note-on-record-field": ((HEADER + f"R1,R1-N1,age,61,{Q}\n").encode(), ":2"),
    "missing-column": (("record_id,field,value,memo\n" + f"R1,age,61,{Q}\n").encode(), ":1"),
}


@pytest.mark.parametrize("case", list(CODES))
def test_hostile_codes(hostile, db, tmp_path, case):
    content, line = CODES[case]
    src = tmp_path / "codes.csv"
    src.write_bytes(content)
    err = hostile("import-codes", db, src, "--coder", "intern", names=src.name)
    if line:
        assert f"{src.name}{line}" in err, err
