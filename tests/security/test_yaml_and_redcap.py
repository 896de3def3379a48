"""Hostile codebooks (check and init), audit files and REDCap data dictionaries."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.security.conftest import MARK, SENTENCE

GOOD_FIELD = """\
  - name: smoking
    label: Smoking status
    type: nominal
    rules: Code from the social history.
    choices:
      1: Never
      2: Former
"""


def cb(fields: str = GOOD_FIELD, top: str = "") -> str:
    return f"id: hostile\ntitle: Hostile test\nversion: 1.0\ndescription: {SENTENCE}\n{top}fields:\n{fields}"


CODEBOOKS = {
    "empty": (b"", ":1"),
    "comments-only": (f"# {SENTENCE}\n".encode(), ":1"),
    "invalid-utf8": (cb().encode().replace(b"reports", b"r\xe9ports"), ":4"),
    "nul-byte": (cb().encode().replace(b"reports", b"rep\x00orts"), ":4"),
    "escape-char": (cb().encode().replace(b"reports", b"rep\x1borts"), ":4"),
    "anchor-and-alias": (
        cb(GOOD_FIELD.replace("Code from the social history.", "*r"), top=f"x_rules: &r {SENTENCE}\n").encode(),
        ":5",
    ),
    "merge-key": (cb("  - &f {name: a_one, label: A, type: text}\n  - <<: *f\n    name: a_two\n").encode(), ":6:5"),
    "small-alias-bomb": (('a: &a ["' + SENTENCE + '"]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n').encode(), ":1:4"),
    "unterminated-quote": (cb().replace(f"description: {SENTENCE}", f'description: "{SENTENCE}').encode(), None),
    "tab-indent": (cb(GOOD_FIELD.replace("    label", "\tlabel")).encode(), ":7"),
    "free-text-top-key": (cb(top=f'"{SENTENCE}": 1\n').encode(), ":5"),
    "free-text-level": (cb(GOOD_FIELD + f"    level: {SENTENCE}\n").encode(), ":13"),
    "free-text-type": (cb(GOOD_FIELD.replace("type: nominal", f"type: {SENTENCE}")).encode(), ":8"),
    "free-text-id": (cb().replace("id: hostile", f"id: {SENTENCE}").encode(), ":1"),
    "free-text-choice-code": (cb(GOOD_FIELD + f"      {SENTENCE}: Other\n").encode(), ":13"),
    "duplicate-choice-label": (
        cb(GOOD_FIELD.replace("2: Former", f"2: {SENTENCE}\n      3: {SENTENCE}")).encode(),
        ":13",
    ),
    "free-text-field-name": (cb(GOOD_FIELD.replace("name: smoking", f"name: {SENTENCE}")).encode(), ":6"),
    "free-text-duplicate-key": (cb(top=f'"{SENTENCE} a": 1\n"{SENTENCE} a": 2\n').encode(), ":6"),
    "free-text-field-key": (cb(GOOD_FIELD + f'    "{SENTENCE}": 1\n').encode(), ":13"),
    "nan-max": (
        cb(
            GOOD_FIELD.replace("type: nominal", "type: count").replace(
                "    choices:\n      1: Never\n      2: Former\n", "    max: .nan\n"
            )
        ).encode(),
        ":10",
    ),
    "inf-min": (
        cb(
            GOOD_FIELD.replace("type: nominal", "type: count").replace(
                "    choices:\n      1: Never\n      2: Former\n", "    min: -.inf\n"
            )
        ).encode(),
        ":10",
    ),
    "huge-int": (
        cb(
            GOOD_FIELD.replace("type: nominal", "type: count").replace(
                "    choices:\n      1: Never\n      2: Former\n", f"    max: {'9' * 5000}\n"
            )
        ).encode(),
        ":10",
    ),
    "notes-csv-as-codebook": (f"record_id,note_id,text\nR1,N1,{SENTENCE}\nR2,N2,{SENTENCE}\n".encode(), ":1"),
    "shadow-as-codebook": (f"root:$6${MARK}$abc:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n".encode(), ":1"),
    "binary": (b"\x89PNG\r\n\x1a\n" + SENTENCE.encode() + b"\x00\x00", ":1"),
    "utf16": (cb().encode("utf-16"), ":1"),
    "two-documents": ((cb() + f"---\ndescription: {SENTENCE}\n").encode(), ":13"),
    "bom-crlf-error-line-8": (
        b"\xef\xbb\xbf" + cb(GOOD_FIELD.replace("type: nominal", f"type: {SENTENCE}")).replace("\n", "\r\n").encode(),
        ":8",
    ),
    "fields-not-list": (cb(f"  {SENTENCE}\n").encode(), ":5"),
    "complex-key": (cb(top=f"? [{SENTENCE}]\n: 1\n").encode(), ":5"),
    "bell-escape-in-rules": (
        cb(GOOD_FIELD.replace("rules: Code from the social history.", f'rules: "{SENTENCE}\\a"')).encode(),
        ":9",
    ),
    "terminal-escape-in-label": (cb(GOOD_FIELD.replace("Smoking status", '"Smoking\\e[2J status"')).encode(), ":7"),
}


@pytest.mark.parametrize("command", ["check", "init"])
@pytest.mark.parametrize("case", list(CODEBOOKS))
def test_hostile_codebook(hostile, db, tmp_path, command, case):
    content, line = CODEBOOKS[case]
    src = tmp_path / "cb.yaml"
    src.write_bytes(content)
    new_db = tmp_path / "new.db"
    if command == "check":
        err = hostile("codebook", "check", src, names=src.name)
    else:
        err = hostile("init", new_db, "--codebook", src, names=src.name, absent=[new_db])
    if line:
        assert f"{src.name}{line}" in err, err


AUDIT = "id: a1\ntitle: A1\ncodebook: {codebook}\ndescription: {sentence}\ncoders:\n  - {{name: intern, role: coder}}\n"


def _audit(tmp: Path, codebook: str = "conjoint-pain", extra: str = "") -> bytes:
    return (AUDIT.format(codebook=codebook, sentence=SENTENCE) + extra).encode()


def _shadow(tmp: Path) -> str:
    (tmp / "etc").mkdir(exist_ok=True)
    (tmp / "etc" / "shadow").write_text(f"root:$6${MARK}$abc:19000:0:99999:7:::\n{SENTENCE}: yes\n")
    return "../../etc/shadow"


def _notes(tmp: Path) -> str:
    (tmp / "notes.csv").write_text(f"record_id,note_id,text\nR1,N1,{SENTENCE}\n")
    return "../../notes.csv"


def _notes_yaml(tmp: Path) -> str:
    (tmp / "notes.yaml").write_text(f"record_id: R1\nnote_id: N1\ntext: {SENTENCE}\n")
    return "../../notes.yaml"


def _binary(tmp: Path) -> str:
    (tmp / "blob.bin").write_bytes(b"\x00\x01" + SENTENCE.encode())
    return str(tmp / "blob.bin")


def _folder(tmp: Path) -> str:
    (tmp / "adir").mkdir()
    return str(tmp / "adir")


AUDITS = {
    "codebook-shadow": lambda t: _audit(t, _shadow(t)),
    "codebook-etc-passwd": lambda t: _audit(t, "/etc/passwd"),
    "codebook-notes-csv": lambda t: _audit(t, _notes(t)),
    "codebook-notes-yaml": lambda t: _audit(t, _notes_yaml(t)),
    "codebook-binary": lambda t: _audit(t, _binary(t)),
    "codebook-folder": lambda t: _audit(t, _folder(t)),
    "alias": lambda t: _audit(t, extra=f"x: &d {SENTENCE}\ny: *d\n"),
    "free-text-key": lambda t: _audit(t, extra=f'"{SENTENCE}": 1\n'),
    "free-text-role": lambda t: _audit(t, extra=f"  - {{name: sup, role: {SENTENCE}}}\n"),
    "empty": lambda t: b"",
    "invalid-utf8": lambda t: _audit(t).replace(b"reports", b"r\xe9ports"),
    "nul": lambda t: _audit(t).replace(b"reports", b"r\x00eports"),
    "syntax-error": lambda t: _audit(t).replace(b"description: ", b'description: "'),
    "not-a-mapping": lambda t: f"- {SENTENCE}\n".encode(),
    "timeliness-free-text-key": lambda t: _audit(t, extra=f'timeliness:\n  "{SENTENCE}": 1\n'),
    "timeliness-free-text-entry": lambda t: _audit(t, extra=f"timeliness:\n  entry: {SENTENCE}\n"),
    "codebook-free-text-name": lambda t: _audit(t, SENTENCE.replace(",", "")),
}


@pytest.mark.parametrize("case", list(AUDITS))
def test_hostile_audit(hostile, db, tmp_path, case):
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    src = sub / "audit.yaml"
    src.write_bytes(AUDITS[case](tmp_path))
    new_db = tmp_path / "new.db"
    err = hostile("init", new_db, "--audit", src, absent=[new_db])
    assert "root:x:0" not in err and "daemon" not in err


RC_HEADER = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]


def rc(*rows, header=RC_HEADER) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerow(["record_id", "f", "", "text", "Record ID"] + [""] * 13)
    for r in rows:
        w.writerow(r + [""] * (18 - len(r)))
    return out.getvalue().encode()


def row(name="smoking", ftype="radio", label="Smoking", choices="1, Never | 2, Former", note=SENTENCE, annotation=""):
    return [name, "f", "", ftype, label, choices, note, "", "", "", "", "", "", "", "", "", "", annotation]


REDCAP = {
    "empty": (b"", ":1"),
    "header-only": (rc()[: rc().index(b"\n") + 1], None),
    "invalid-utf8": (rc(row()).replace(b"reports", b"r\xe9ports"), ":3"),
    "nul": (rc(row()).replace(b"reports", b"rep\x00orts"), ":3"),
    "notes-csv": (f"record_id,note_id,text\nR1,N1,{SENTENCE}\n".encode(), ":1"),
    "duplicate-column": (rc(row() + ["x"], header=RC_HEADER + ["Field Label"]), ":1"),
    "free-text-name": (rc(row(name=SENTENCE)), ":3"),
    "choice-without-comma": (rc(row(choices=f"1, Never | {SENTENCE}")), ":3"),
    "free-text-choice-code": (rc(row(choices=f"1, Never | {SENTENCE.replace(',', ';')}, x")), ":3"),
    "duplicate-choice-label": (rc(row(choices=f"1, {SENTENCE} | 2, {SENTENCE}")), ":3"),
    "free-text-level-tag": (rc(row(annotation=f'@chartcode-level="{SENTENCE}"')), ":3"),
    "free-text-type-tag": (rc(row(annotation=f'@chartcode-type="{SENTENCE}"')), ":3"),
    "unterminated-quote": (rc(row()) + f'x,f,,text,"{SENTENCE}\n'.encode(), None),
    "bom-crlf-error-line-4": (b"\xef\xbb\xbf" + rc(row(), row(name="bad name")).replace(b"\n", b"\r\n"), ":4"),
    "utf16": (rc(row()).decode().encode("utf-16"), ":1"),
    "duplicate-field": (rc(row(), row(label=SENTENCE)), ":4"),
}


@pytest.mark.parametrize("case", list(REDCAP))
def test_hostile_redcap(hostile, db, tmp_path, case):
    content, line = REDCAP[case]
    src = tmp_path / "dict.csv"
    src.write_bytes(content)
    out = tmp_path / "out.yaml"
    err = hostile("codebook", "import-redcap", src, "--out", out, names=src.name, absent=[out])
    if line:
        assert f"{src.name}{line}" in err, err
