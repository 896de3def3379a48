"""XLSX exports are safe and readable: text stays text (never a formula, never altered), values
read back exactly with pandas/openpyxl, and the sheets are set up for people (frozen header,
autofilter, fitted widths, a codebook sheet)."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pandas as pd
import pytest

from chartcode.codebook import load_codebook
from chartcode.errors import UserError
from chartcode.export import export
from chartcode.export import xlsx as xl
from chartcode.export.writers import write_xlsx
from chartcode.store import Store

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
# closes the inline string XlsxWriter opened, adds a live HYPERLINK formula cell, reopens a string
INJECTION = (
    '<r><t>x</t></r></is></c><c r="Z2"><f>HYPERLINK("http://evil.example/","x")</f><v>0</v></c>'
    '<c r="Z3" t="inlineStr"><is><r><t>y'
)
INJECTIONS = [
    INJECTION,
    INJECTION + "</t></r>",
    # the same, aimed at the shared-strings table of a workbook written without constant_memory
    "<r><t>x</t></r></si><si><t>y</t></si><si><r><t>z</t></r>",
]

CODEBOOK = """
id: inject
title: Injection test codebook
version: "1"
fields:
  - name: smoker
    label: Current smoker
    level: record
    type: binary
  - name: remark
    label: Remark
    level: record
    type: text
  - name: mrn
    label: Medical record number
    level: record
    type: text
    identifier: true
  - name: visit_kind
    label: Kind of visit
    level: note
    type: nominal
    choices:
      1: First
      2: Follow-up
"""


def _store(tmp_path: Path, payloads: list[str]) -> Store:
    """One record per payload, its text field set to the payload and a memo holding it too."""
    s = Store.create(
        tmp_path / "inject.db",
        load_codebook("inject.yaml", text=CODEBOOK),
        coders=[("intern", "coder"), ("lead", "lead")],
    )
    ids = [f"R{i}" for i in range(1, len(payloads) + 1)]
    s.add_records(ids)
    s.assign("intern", ids)
    for rid, text in zip(ids, payloads, strict=True):
        s.set_code("intern", rid, "smoker", 1)
        s.set_code("intern", rid, "remark", text)
        s.set_memo("intern", rid, "smoker", text)
        s.submit("intern", rid)
    return s


def _sheets(path: Path) -> dict[str, ElementTree.Element]:
    """Every worksheet part of the zip, parsed (a malformed part fails the test here)."""
    with zipfile.ZipFile(path) as z:
        return {
            n: ElementTree.fromstring(z.read(n))
            for n in z.namelist()
            if n.startswith("xl/worksheets/") and n.endswith(".xml")
        }


def _shared_strings(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        if "xl/sharedStrings.xml" not in z.namelist():
            return []
        sst = ElementTree.fromstring(z.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t")) for si in sst.findall("m:si", NS)]


def _texts(path: Path) -> list[str]:
    """The text of every string cell of every sheet, as the XML holds it."""
    strings = _shared_strings(path)
    out = []
    for root in _sheets(path).values():
        for c in root.iter(f"{{{NS['m']}}}c"):
            if c.get("t") == "inlineStr":
                out.append("".join(t.text or "" for t in c.iter(f"{{{NS['m']}}}t")))
            elif c.get("t") == "s":
                out.append(strings[int(c.find("m:v", NS).text)])
    return out


def _assert_no_formula(path: Path) -> None:
    for name, root in _sheets(path).items():
        assert root.find(".//m:f", NS) is None, f"{name} has a formula"
        refs = [c.get("r") for c in root.iter(f"{{{NS['m']}}}c")]
        assert "Z2" not in refs and "Z3" not in refs, f"{name} has a planted cell"


@pytest.mark.parametrize("deidentify", [False, True])
@pytest.mark.parametrize("long", [False, True])
def test_text_that_looks_like_cell_xml_is_written_as_that_text(tmp_path, long, deidentify):
    with _store(tmp_path, INJECTIONS) as s:
        out = tmp_path / "x.xlsx"
        export(s, "xlsx", out, long=long, deidentify=deidentify, viewer="lead")  # a lead sees every code
    _assert_no_formula(out)
    # each payload is one cell's whole text (the remark; long: value, submitted value, memo), never a part
    planted = [t for t in _texts(out) if "<r>" in t or "HYPERLINK" in t]
    if deidentify:  # the remark is free text and the memo a memo: a de-identified export holds neither
        assert planted == []
    else:
        assert planted and set(planted) == set(INJECTIONS)


# ---- for people: frozen header, autofilter, widths, the codebook sheet -------------------------


def _widths(ws) -> dict[int, float]:
    """Column number -> width (XlsxWriter writes neighbours of one width as one range)."""
    return {i: d.width for d in ws.column_dimensions.values() if d.min for i in range(d.min, d.max + 1)}


@pytest.mark.parametrize("long", [False, True])
def test_every_sheet_has_a_frozen_bold_filtered_header_and_fitted_widths(tmp_path, long):
    with _store(tmp_path, ["short", "a remark of some length " * 10]) as s:
        export(s, "xlsx", tmp_path / "x.xlsx", long=long, viewer="lead")
    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    assert book.sheetnames == (
        ["codes", "codebook", "audit"] if long else ["records", "notes", "codebook", "agreement", "analyses", "audit"]
    )
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}", ws.title
        assert all(c.font.b for c in ws[1]), ws.title
        widths = _widths(ws)
        for c in ws[1]:
            width = widths[c.column]
            assert xl.WIDTH_MIN <= width <= xl.WIDTH_MAX + 1, (ws.title, c.value)
            assert width >= len(c.value) + xl.FILTER_ROOM, (ws.title, c.value)
    sheet = book["codes"] if long else book["records"]
    header = [c.value for c in sheet[1]]
    remark = (header.index("value") if long else header.index("remark")) + 1
    assert _widths(sheet)[remark] > xl.WIDTH_MAX  # capped (openpyxl reads Excel's padding too)
    assert _widths(sheet)[1] < 20  # a short column stays narrow


def test_widths_follow_the_longest_value_or_header():
    assert xl._width("id", 0) == xl.WIDTH_MIN
    assert xl._width("a_long_column_name", 3) == len("a_long_column_name") + xl.FILTER_ROOM
    assert xl._width("x", 20) == 21
    assert xl._width("x", 10_000) == xl.WIDTH_MAX
    _, _, longest = xl._column(pd.Series(["ab", None, "abcdef\nxy", 12345, True], dtype=object), [None] * 4)
    assert longest == 6  # the longest line; numbers and booleans count as shown


@pytest.mark.parametrize("long", [False, True])
@pytest.mark.parametrize("deidentify", [False, True])
def test_codebook_sheet_has_each_fields_name_label_type_level_codes_and_labels(tmp_path, long, deidentify):
    with _store(tmp_path, ["x"]) as s:
        export(s, "xlsx", tmp_path / "x.xlsx", long=long, deidentify=deidentify)
        cb = s.codebook
    sheet = pd.read_excel(tmp_path / "x.xlsx", sheet_name="codebook")
    assert {"name", "label", "type", "level", "code", "choice_label"} <= set(sheet.columns)
    fields = [f for f in cb.fields if not (deidentify and (f.identifier or f.type == "text"))]  # free text: left out
    assert list(dict.fromkeys(sheet["name"])) == [f.name for f in fields]
    for f in fields:
        rows = sheet[sheet["name"] == f.name]
        assert set(rows["label"]) == {f.label} and set(rows["type"]) == {f.type} and set(rows["level"]) == {f.level}
        if f.choices:
            assert rows["code"].tolist() == [c.code for c in f.choices]
            assert rows["choice_label"].tolist() == [c.label for c in f.choices]
        else:
            assert rows["code"].isna().all() and len(rows) == 1


# ---- cells: text exactly, Excel's limits as XlsxWriter applies them ----------------------------


def _read(path: Path, sheet: str = "t") -> list[tuple]:
    return list(openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True))


def test_text_over_excels_limit_is_cut_to_it_and_a_cut_never_opens_raw_xml(tmp_path):
    tail = '</t></r></is></c><c r="Z9"><f>1+1</f></c><c r="Z10" t="inlineStr"><is><r><t>y</t></r>'
    aimed = "<r><t>" + "a" * (xl.STR_MAX - len("<r><t>") - len(tail)) + tail + "spill over the limit"
    frame = pd.DataFrame({"t": ["x" * 40_000, "😀" * 20_000, aimed, "é" * xl.STR_MAX]})
    write_xlsx({"t": frame}, tmp_path / "x.xlsx")
    _assert_no_formula(tmp_path / "x.xlsx")
    got = [r[0] for r in _read(tmp_path / "x.xlsx")[1:]]
    assert got[0] == "x" * xl.STR_MAX
    assert got[1] == "😀" * (xl.STR_MAX // 2)  # 2 UTF-16 units each; never half a character
    assert got[2] == aimed[: xl.STR_MAX] and got[2].endswith("</r>")
    assert got[3] == "é" * xl.STR_MAX


def test_control_characters_are_stored_as_excel_escapes(tmp_path):
    from openpyxl.utils.escape import unescape

    texts = ["a\x01b", "\x00", "line\r\nnext", "tab\tand\nnewline", "_x0041_ literal", "\ufffe"]
    write_xlsx({"t": pd.DataFrame({"t": texts})}, tmp_path / "x.xlsx")
    got = [r[0] for r in _read(tmp_path / "x.xlsx")[1:]]
    assert [unescape(g) for g in got] == texts  # Excel decodes _xHHHH_; openpyxl shows it, unescape() decodes
    assert got[0] == "a_x0001_b" and got[3] == "tab\tand\nnewline" and got[4] == "_x005F_x0041_ literal"


def test_text_is_stored_exactly_as_entered(tmp_path):
    texts = [
        "=1+1",
        "+1",
        "-1",
        "@A1",
        "'quoted",
        "  lead",
        "trail  ",
        "<b>&amp;</b>",
        "<r>x</r>",
        "<r></r>",
        "<r><rPr><b/></rPr><t>bold?</t></r>",
        "3",
        "3.0",
        "TRUE",
        "",
        "é😀",
    ]
    write_xlsx({"t": pd.DataFrame({"t": texts})}, tmp_path / "x.xlsx")
    _assert_no_formula(tmp_path / "x.xlsx")
    assert [r[0] for r in _read(tmp_path / "x.xlsx")[1:]] == texts


def test_headers_are_text_too(tmp_path):
    frame = pd.DataFrame({"<r>h</r>": [1], "=A1": [2], 3: [3]})
    write_xlsx({"t": frame}, tmp_path / "x.xlsx")
    _assert_no_formula(tmp_path / "x.xlsx")
    assert _read(tmp_path / "x.xlsx")[0] == ("<r>h</r>", "=A1", "3")


def test_numbers_booleans_missing_and_infinities(tmp_path):
    frame = pd.DataFrame(
        {
            "n": pd.Series([1, None, 3, 2**53], dtype="Int64"),
            "f": [1.5, math.nan, math.inf, -math.inf],
            "b": [True, False, True, False],
            "o": pd.Series([np.int64(4), np.float64(0.25), np.bool_(True), pd.NaT], dtype=object),
        }
    )
    write_xlsx({"t": frame}, tmp_path / "x.xlsx")
    body = _read(tmp_path / "x.xlsx")[1:]
    assert [r[0] for r in body] == [1, None, 3, 2**53]
    assert [r[1] for r in body] == [1.5, None, "inf", "-inf"]  # a cell cannot hold an infinity: text, as in CSV
    assert [r[2] for r in body] == [True, False, True, False] and all(type(r[2]) is bool for r in body)
    assert [r[3] for r in body] == [4, 0.25, True, None]


def test_a_failed_write_leaves_neither_the_file_nor_temporary_files(tmp_path):
    class Unprintable:
        def __str__(self):
            raise RuntimeError("boom")

    frame = pd.DataFrame({"a": ["PHI"] * 3, "b": [1, 2, Unprintable()]})
    with pytest.raises(RuntimeError, match="boom"):
        write_xlsx({"ok": pd.DataFrame({"a": ["PHI"] * 50}), "t": frame}, tmp_path / "x.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cannot write the file"):
        write_xlsx({"t": pd.DataFrame({"a": [1]})}, tmp_path / "missing" / "x.xlsx")


def test_a_table_too_long_for_a_sheet_is_refused_not_cut(tmp_path, monkeypatch):
    monkeypatch.setattr(xl, "ROWS_MAX", 4)
    write_xlsx({"t": pd.DataFrame({"a": [1, 2, 3]})}, tmp_path / "ok.xlsx")  # header + 3 rows fit
    with pytest.raises(UserError, match=r"'codes' table has 4 rows.*export it as csv"):
        write_xlsx({"t": pd.DataFrame({"a": [1]}), "codes": pd.DataFrame({"a": [1, 2, 3, 4]})}, tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()


def _parts(path: Path) -> dict[str, bytes]:
    """Every part of the zip but docProps/core.xml (it holds the time of writing)."""
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def test_rows_go_to_a_write_only_file_and_the_workbook_is_the_one_xlsxwriter_writes_without_it(tmp_path, monkeypatch):
    # XlsxWriter's own row file ("w+") resets its decoder on every write; the writer reopens it
    # write-only. The workbook must be byte for byte the one XlsxWriter writes with its own file.
    texts = [*INJECTIONS, "=1+1", "  lead", "a\x01b", "_x0041_", "<b>&amp;</b>", "é😀", "x" * 40_000, None]
    n = len(texts) * 3
    sheets = {
        "t": pd.DataFrame(
            {
                "text": texts * 3,
                "n": pd.array([i if i % 4 else None for i in range(n)], dtype="Int64"),
                "x": [i / 7 if i % 5 else math.inf for i in range(n)],
                "b": [bool(i % 2) for i in range(n)],
            }
        ),
        "empty": pd.DataFrame({"a": []}),
        "wide": pd.DataFrame({f"c{i}": [i, None, "v"] for i in range(20)}),
    }
    reopened = []
    fast = xl._rows_file_write_only

    def spy(sheet):
        done = fast(sheet)
        reopened.append((done, sheet.row_data_fh.mode))
        return done

    monkeypatch.setattr(xl, "BLOCK_ROWS", 5)  # rows over several blocks
    monkeypatch.setattr(xl, "_rows_file_write_only", spy)
    write_xlsx(sheets, tmp_path / "fast.xlsx")
    assert reopened == [(True, "w")] * len(sheets)
    monkeypatch.setattr(xl, "_rows_file_write_only", lambda sheet: False)
    write_xlsx(sheets, tmp_path / "plain.xlsx")
    assert _parts(tmp_path / "fast.xlsx") == _parts(tmp_path / "plain.xlsx")
    _assert_no_formula(tmp_path / "fast.xlsx")
    assert [r[0] for r in _read(tmp_path / "fast.xlsx")[1 : len(texts) + 1]] == [
        *INJECTIONS,
        "=1+1",
        "  lead",
        "a_x0001_b",
        "_x005F_x0041_",
        "<b>&amp;</b>",
        "é😀",
        "x" * xl.STR_MAX,
        None,
    ]


def test_a_failure_while_rows_are_written_leaves_neither_the_file_nor_temporary_files(tmp_path, monkeypatch):
    calls = []

    def number(sheet_write):
        def write(row, col, value):
            calls.append(row)
            if row == 7:
                raise RuntimeError("boom")
            return sheet_write(row, col, value)

        return write

    real = xl._column_codes

    def failing(series, writers):
        return real(series, [writers[0], number(writers[1]), *writers[2:]])

    monkeypatch.setattr(xl, "_column_codes", failing)
    with pytest.raises(RuntimeError, match="boom"):
        write_xlsx({"a": pd.DataFrame({"a": ["PHI"] * 50}), "b": pd.DataFrame({"n": range(20)})}, tmp_path / "x.xlsx")
    assert 7 in calls
    assert list(tmp_path.iterdir()) == []
