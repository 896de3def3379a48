"""Inputs that hung, blew memory or overflowed the stack: a real `chartcode` process with a clock
and an address-space limit. The product target is 1 s; the limit here is generous for loaded CI."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.security.conftest import SENTENCE, assert_refused, dump

WALL = float(os.environ.get("CHARTCODE_HOSTILE_WALL", "8"))
MEMORY = 2 << 30  # 2 GiB of address space
BIG = 50 << 20  # 50 MB on one line
TIMES: dict[str, float] = {}


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def chartcode(*args, cwd: Path) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    try:
        p = subprocess.run(
            [sys.executable, "-m", "chartcode", *map(str, args)],
            cwd=cwd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=WALL,
            preexec_fn=_limit,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"chartcode {' '.join(map(str, args[:2]))} still running after {WALL} s")
    return p.returncode, p.stdout, p.stderr, time.perf_counter() - started


def bomb(levels: int = 12, width: int = 9) -> str:
    lines = [f'l0: &l0 ["{SENTENCE}"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "id: bomb\ntitle: Bomb\nversion: 1\n" + "\n".join(lines) + f"\nfields: [*l{levels - 1}]\n"


def deep_yaml(n: int = 50000) -> str:
    return f"id: deep\ntitle: Deep\nversion: 1\ndescription: {SENTENCE}\nfields: " + "[" * n + "]" * n + "\n"


def deep_yaml_map(n: int = 50000) -> str:
    return f"id: deep\ntitle: Deep\nversion: 1\ndescription: {SENTENCE}\nfields: " + "{a: " * n + "1" + "}" * n + "\n"


def big_line(prefix: bytes = b"") -> bytes:
    return prefix + (SENTENCE.encode() + b" ") * (BIG // (len(SENTENCE) + 1))


def _audit_with(tmp: Path, body: str) -> Path:
    (tmp / "cb.yaml").write_text(body)
    audit = tmp / "audit.yaml"
    audit.write_text(f"id: a\ntitle: A\ncodebook: cb.yaml\ndescription: {SENTENCE}\ncoders: [intern]\n")
    return audit


def _write(tmp: Path, name: str, data: bytes | str) -> Path:
    p = tmp / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def _folder_big(tmp: Path) -> Path:
    root = tmp / "f"
    (root / "R1").mkdir(parents=True)
    (root / "R1" / "ok.txt").write_text(SENTENCE)
    (root / "R1" / "huge.txt").write_bytes(big_line())
    return root


def _folder_fifo(tmp: Path) -> Path:
    root = tmp / "f"
    (root / "R1").mkdir(parents=True)
    (root / "R1" / "ok.txt").write_text(SENTENCE)
    os.mkfifo(root / "R1" / "pipe.txt")
    return root


CSV_HEAD = b"record_id,note_id,note_date,note_type,author,text\nR9,N9,,,,"
CASES = {
    "codebook-check-alias-bomb": lambda t, db: ["codebook", "check", _write(t, "cb.yaml", bomb())],
    "init-codebook-alias-bomb": lambda t, db: ["init", t / "new.db", "--codebook", _write(t, "cb.yaml", bomb())],
    "init-audit-alias-bomb": lambda t, db: ["init", t / "new.db", "--audit", _audit_with(t, bomb())],
    "audit-file-alias-bomb": lambda t, db: ["init", t / "new.db", "--audit", _write(t, "audit.yaml", bomb())],
    "codebook-deep-sequence": lambda t, db: ["codebook", "check", _write(t, "cb.yaml", deep_yaml())],
    "codebook-deep-mapping": lambda t, db: ["codebook", "check", _write(t, "cb.yaml", deep_yaml_map())],
    "init-codebook-deep": lambda t, db: ["init", t / "new.db", "--codebook", _write(t, "cb.yaml", deep_yaml())],
    "audit-deep": lambda t, db: ["init", t / "new.db", "--audit", _write(t, "audit.yaml", deep_yaml())],
    "jsonl-deep": lambda t, db: [
        "import",
        db,
        _write(t, "n.jsonl", '{"record_id": "R9", "note_id": "N9", "text": ' + "[" * 50000 + "]" * 50000 + "}\n"),
    ],
    "csv-50mb-line": lambda t, db: ["import", db, _write(t, "n.csv", big_line(CSV_HEAD))],
    "tsv-50mb-line": lambda t, db: ["import", db, _write(t, "n.tsv", big_line(CSV_HEAD.replace(b",", b"\t")))],
    "jsonl-50mb-line": lambda t, db: [
        "import",
        db,
        _write(t, "n.jsonl", big_line(b'{"record_id": "R9", "note_id": "N9", "text": "') + b'"}'),
    ],
    "folder-50mb-file": lambda t, db: ["import", db, _folder_big(t)],
    "folder-fifo": lambda t, db: ["import", db, _folder_fifo(t)],
    "codes-50mb-line": lambda t, db: [
        "import-codes",
        db,
        _write(t, "c.csv", big_line(b"record_id,note_id,field,value,memo\nR1,,age,61,")),
        "--coder",
        "intern",
    ],
    "codebook-50mb-line": lambda t, db: ["codebook", "check", _write(t, "cb.yaml", big_line(b"id: x\ndescription: "))],
    "redcap-50mb-line": lambda t, db: [
        "codebook",
        "import-redcap",
        _write(
            t,
            "d.csv",
            big_line(b"Variable / Field Name,Field Type,Field Label,Choices, Calculations, OR Slider Labels\n"),
        ),
        "--out",
        t / "o.yaml",
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_no_hang_no_blowup(db, tmp_path, case):
    args = CASES[case](tmp_path, db)
    before = dump(db)
    code, out, err, seconds = chartcode(*args, cwd=tmp_path)
    TIMES[case] = seconds
    print(f"{case}: {seconds:.2f} s")
    assert_refused(code, out, err, None)
    assert "MemoryError" not in err and "RecursionError" not in err
    assert dump(db) == before
    assert not (tmp_path / "new.db").exists() and not (tmp_path / "o.yaml").exists()
