"""Hostile REFI-QDA files for `codebook import-qdc`: entity bombs, external entities (XXE),
zip bombs, files that are not XML or not a codebook. Each is refused with exit 2 and one line
naming the file, nothing written, the planted text never shown."""

from __future__ import annotations

import time
import zipfile

import pytest

from tests.security.conftest import MARK, SENTENCE

NS = "urn:QDA-XML:codebook:1.0"
GUID = "6b6f6c62-1111-4a2b-8c3d-000000000001"


def qdc(codes: str, head: str = "") -> bytes:
    body = f'<CodeBook xmlns="{NS}"><Codes>{codes}</Codes></CodeBook>\n'
    return f'<?xml version="1.0" encoding="utf-8"?>\n{head}{body}'.encode()


LAUGHS = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">\n' for i in range(10))
FILES = {
    "billion-laughs": qdc(f'<Code guid="{GUID}" name="&l9;" isCodable="true"/>', f"<!DOCTYPE CodeBook [\n{LAUGHS}]>\n"),
    "xxe-file": qdc(
        f'<Code guid="{GUID}" name="&x;" isCodable="true"/>',
        '<!DOCTYPE CodeBook [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n',
    ),
    "xxe-parameter-entity": qdc(
        f'<Code guid="{GUID}" name="x" isCodable="true"/>',
        '<!DOCTYPE CodeBook [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>\n',
    ),
    "external-dtd": qdc(
        f'<Code guid="{GUID}" name="x" isCodable="true"/>', '<!DOCTYPE CodeBook SYSTEM "/etc/passwd">\n'
    ),
    "not-xml": f"record_id,text\nR1,{SENTENCE}\n".encode(),
    "unclosed": qdc(f'<Code guid="{GUID}" name="{SENTENCE}" isCodable="true">'),
    "empty": b"",
    "wrong-root": f'<?xml version="1.0"?><html><body>{SENTENCE}</body></html>'.encode(),
    "no-codes": f'<?xml version="1.0"?><CodeBook xmlns="{NS}"><Sets/></CodeBook>'.encode(),
    "nameless-code": qdc(f'<Code guid="{GUID}" isCodable="true"><Description>{SENTENCE}</Description></Code>'),
    "only-categories": qdc(f'<Code guid="{GUID}" name="{MARK} cat" isCodable="false"/>'),
    "deep-nesting": qdc(f'<Code guid="{GUID}" name="c" isCodable="true">' * 40 + "</Code>" * 40),
    "control-char-escape": qdc(f'<Code guid="{GUID}" name="{MARK}&#7;" isCodable="true"/>'),
    "utf16-bom-doctype": (
        '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE C [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        f'<CodeBook xmlns="{NS}"><Codes><Code guid="{GUID}" name="&x;" isCodable="true"/></Codes></CodeBook>'
    ).encode("utf-16"),
}


@pytest.mark.parametrize("case", list(FILES))
def test_hostile_qdc(hostile, tmp_path, case):
    src = tmp_path / "in.qdc"
    src.write_bytes(FILES[case])
    out = tmp_path / "out.yaml"
    started = time.monotonic()
    err = hostile("codebook", "import-qdc", src, "--out", out, names=src.name, absent=[out])
    assert time.monotonic() - started < 10
    assert len(err.strip().splitlines()) == 1, err
    assert "root:" not in err  # nothing of /etc/passwd


def test_doctype_is_refused_by_name(hostile, tmp_path):
    src = tmp_path / "bomb.qdc"
    src.write_bytes(FILES["billion-laughs"])
    err = hostile("codebook", "import-qdc", src, "--out", tmp_path / "o.yaml", names=src.name)
    assert f"{src}:2: a DOCTYPE or entity declaration is not allowed" in err


def _zip(tmp_path, members: dict[str, bytes], name: str = "p.qdpx"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return path


@pytest.mark.parametrize(
    "members",
    [
        {"Sources/a.txt": SENTENCE.encode()},  # no project.qde
        {"project.qde": b"\0" * (40 << 20)},  # a zip bomb: 40 MB of zeros in a few kilobytes
        {"project.qde": qdc("", '<!DOCTYPE CodeBook [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n')},
    ],
    ids=["no-project-qde", "zip-bomb", "xxe-inside"],
)
def test_hostile_qdpx(hostile, tmp_path, members):
    src = _zip(tmp_path, members)
    out = tmp_path / "out.yaml"
    err = hostile("codebook", "import-qdc", src, "--out", out, names=src.name, absent=[out])
    assert len(err.strip().splitlines()) == 1, err


def test_damaged_zip(hostile, tmp_path):
    src = tmp_path / "broken.qdpx"
    src.write_bytes(b"PK\x03\x04" + SENTENCE.encode() * 10)
    hostile("codebook", "import-qdc", src, "--out", tmp_path / "o.yaml", names=src.name)
