"""REFI-QDA codebooks (.qdc): a codebook exports with stable GUIDs; every shipped codebook's
.qdc validates against the official Codebook.xsd (xmlschema); QualCoder's name-keyed import
keeps every code; `codebook import-qdc` reads .qdc files (ours and other programs') back.

Test data and its sources: tests/data/refi-qda/README.md.
"""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from chartcode import resources
from chartcode.codebook import load_codebook
from chartcode.codebook.qdc import NAMESPACE, codebook_to_qdc

CONJOINT = Path(__file__).resolve().parents[2] / "codebooks" / "conjoint-pain.yaml"
NS = {"q": NAMESPACE}
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def export(tmp_path: Path, name: str = "cb.qdc"):
    cb = load_codebook(CONJOINT)
    out = tmp_path / name
    codebook_to_qdc(cb, out)
    return cb, out, ET.parse(out).getroot()


def test_qdc_file_has_xml_declaration_and_codebook_root_in_the_refi_namespace(tmp_path):
    _, out, root = export(tmp_path)
    assert out.read_bytes().startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert root.tag == f"{{{NAMESPACE}}}CodeBook"
    assert root.get("origin", "").startswith("chartcode ")
    assert [child.tag for child in root] == [f"{{{NAMESPACE}}}Codes"]


def test_each_field_is_one_top_level_code_named_by_its_label(tmp_path):
    cb, _, root = export(tmp_path)
    parents = root.findall("q:Codes/q:Code", NS)
    assert len(parents) == len(cb.fields)
    assert [p.get("name") for p in parents] == [f.label for f in cb.fields]


def test_choice_fields_have_one_codable_child_per_choice_under_a_non_codable_parent(tmp_path):
    cb, _, root = export(tmp_path)
    for f, parent in zip(cb.fields, root.findall("q:Codes/q:Code", NS), strict=True):
        children = parent.findall("q:Code", NS)
        if f.choices:
            assert parent.get("isCodable") == "false"
            assert [c.get("name") for c in children] == [f"{f.name}: {c.code} = {c.label}" for c in f.choices]
            assert {c.get("isCodable") for c in children} == {"true"}
        else:
            assert parent.get("isCodable") == "true" and children == []


def test_fields_without_choices_become_a_single_codable_code(tmp_path):
    cb, _, root = export(tmp_path)
    age = root.find("q:Codes/q:Code[@name='Age at first conjoint session (years)']", NS)
    assert cb.field("age").type == "count"
    assert age.get("isCodable") == "true" and age.findall("q:Code", NS) == []


def test_decision_rules_go_in_the_description_before_child_codes(tmp_path):
    cb, _, root = export(tmp_path)
    sex = root.find("q:Codes/q:Code[@name='Sex']", NS)
    assert [child.tag.split("}")[1] for child in sex][:2] == ["Description", "Code"]
    description = sex.find("q:Description", NS).text
    assert "chartcode field sex" in description
    assert cb.field("sex").rules in description


def test_guids_are_lowercase_uuids_unique_and_stable_across_writes(tmp_path):
    _, out1, root1 = export(tmp_path, "one.qdc")
    _, out2, root2 = export(tmp_path, "two.qdc")
    guids = [c.get("guid") for c in root1.iter(f"{{{NAMESPACE}}}Code")]
    assert all(GUID_RE.match(g) for g in guids)
    assert len(set(guids)) == len(guids)
    assert guids == [c.get("guid") for c in root2.iter(f"{{{NAMESPACE}}}Code")]
    assert out1.read_bytes() == out2.read_bytes()


def test_guids_depend_on_the_codebook_id(tmp_path):
    _, _, root = export(tmp_path)
    text = CONJOINT.read_text(encoding="utf-8").replace("id: conjoint-pain", "id: other-study", 1)
    other = tmp_path / "other.qdc"
    codebook_to_qdc(load_codebook("other.yaml", text=text), other)
    first = root.find("q:Codes/q:Code", NS).get("guid")
    assert ET.parse(other).getroot().find("q:Codes/q:Code", NS).get("guid") != first


# ---- the REFI-QDA schema, QualCoder, import-qdc ---------------------------------------------

DATA = Path(__file__).parent.parent / "data" / "refi-qda"
SCHEMA = xmlschema.XMLSchema(DATA / "Codebook.xsd")
SHIPPED = resources.shipped_names("codebooks")


def _shipped(name: str):
    return load_codebook(resources.shipped_dir("codebooks") / f"{name}.yaml")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_codebook_qdc_validates_against_the_refi_qda_schema(tmp_path, name):
    out = tmp_path / f"{name}.qdc"
    codebook_to_qdc(_shipped(name), out)
    SCHEMA.validate(out)  # raises XMLSchemaValidationError naming the element


def qualcoder_import(path: Path) -> dict[str, tuple[int, int]]:
    """Import a .qdc as QualCoder does; return, for its codes and its categories, (how many
    QualCoder keeps, how many the file has).

    Replicates RefiImport.import_codebook / sub_codes of QualCoder (ccbogel/QualCoder,
    src/qualcoder/refi.py at c3204641e0a997c08219d2377eb5736cd94504bc; the module imports
    PyQt6 at the top, so it cannot run here): the tables are QualCoder's own (code_cat and
    code_name, both UNIQUE(name), from src/qualcoder/__main__.py); a Code with
    isCodable="false" is a category, any other a code; an insert that hits the unique name
    is skipped (sqlite3.IntegrityError) and the existing row of that name is reused.
    """
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE code_cat (catid integer primary key, name text, owner text, date text, memo text,"
        " supercatid integer, unique(name))"
    )
    conn.execute(
        "CREATE TABLE code_name (cid integer primary key, name text, memo text, catid integer, owner text,"
        " date text, color text, supercid integer, unique(name))"
    )
    root = ET.parse(path).getroot()
    version = root.tag.split("{urn:QDA-XML:codebook:")[1].split("}")[0]
    ns = f"{{urn:QDA-XML:codebook:{version}}}"
    in_file = {"codes": 0, "categories": 0}

    def sub_codes(parent, cat_id, super_cid=None):
        description = next((el.text for el in parent if el.tag == f"{ns}Description"), "")
        children = [el for el in parent if el.tag == f"{ns}Code"]
        name = parent.get("name")
        if parent.get("isCodable") == "false":
            in_file["categories"] += 1
            try:
                cur = conn.execute(
                    "insert into code_cat (name, memo, owner, date, supercatid) values(?,?,'','',?)",
                    [name, description, cat_id],
                )
                last = cur.lastrowid
            except sqlite3.IntegrityError:
                last = conn.execute("select catid from code_cat where name=?", [name]).fetchone()[0]
            for el in children:
                sub_codes(el, last, None)
            return
        in_file["codes"] += 1
        catid, supercid = (None, super_cid) if super_cid is not None else (cat_id, None)
        try:
            cur = conn.execute(
                "insert into code_name (name,memo,owner,date,catid,color,supercid) values(?,?,'','',?,'',?)",
                [name, description, catid, supercid],
            )
            cid = cur.lastrowid
        except sqlite3.IntegrityError:
            cid = conn.execute("select cid from code_name where name=?", [name]).fetchone()[0]
        for el in children:
            sub_codes(el, None, cid)

    codes = next(child for child in root if child.tag == f"{ns}Codes")
    for el in codes:
        sub_codes(el, None)
    kept = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("code_name", "code_cat")}
    return {"codes": (kept["code_name"], in_file["codes"]), "categories": (kept["code_cat"], in_file["categories"])}


@pytest.mark.parametrize("name", SHIPPED)
def test_qualcoder_keeps_every_code_of_every_shipped_codebook(tmp_path, name):
    """On main QualCoder kept 7 of 151 codes of ips-fidelity ("1 = 1" under every item)."""
    out = tmp_path / f"{name}.qdc"
    cb = _shipped(name)
    codebook_to_qdc(cb, out)
    counts = qualcoder_import(out)
    with_choices = sum(1 for f in cb.fields if f.choices)
    assert counts == {
        "codes": (len(cb.fields) - with_choices + sum(len(f.choices) for f in cb.fields),) * 2,
        "categories": (with_choices, with_choices),
    }


def test_code_names_are_unique_even_when_labels_repeat(tmp_path):
    text = (
        "id: twins\ntitle: Twins\nversion: 1\nfields:\n"
        "  - {name: a, label: Pain, type: binary}\n"
        "  - {name: b, label: pain, type: binary}\n"
        "  - {name: c, label: 'a: 0 = No', type: text}\n"
    )
    out = tmp_path / "t.qdc"
    codebook_to_qdc(load_codebook(tmp_path / "t.yaml", text=text), out)
    names = [el.get("name") for el in ET.parse(out).getroot().iter("{urn:QDA-XML:codebook:1.0}Code")]
    assert len({n.casefold() for n in names}) == len(names) == 7, names
    SCHEMA.validate(out)


@pytest.mark.parametrize("name", SHIPPED)
def test_our_qdc_imports_back_as_the_same_fields(tmp_path, cli, name):
    qdc, back = tmp_path / f"{name}.qdc", tmp_path / f"{name}.yaml"
    assert cli("codebook", "export", name, "--format", "qdc", "--out", qdc).code == 0
    r = cli("codebook", "import-qdc", qdc, "--out", back)
    assert r.code == 0, r.err
    assert back.stat().st_mode & 0o777 == 0o600
    original, again = _shipped(name), load_codebook(back)
    for a, b in zip(original.fields, again.fields, strict=True):
        keys = ("name", "label", "type", "level", "required", "note_types", "min", "max", "identifier")
        assert [getattr(b, k) for k in keys] == [getattr(a, k) for k in keys]
        assert [(c.code, c.label, c.description) for c in b.choices] == [
            (c.code, c.label, c.description) for c in a.choices
        ]
        assert b.rules == a.rules


def test_taguette_qdc_imports_as_yes_no_fields(tmp_path, cli):
    out = tmp_path / "taguette.yaml"
    r = cli("codebook", "import-qdc", DATA / "taguette-codebook.qdc", "--out", out)
    assert r.code == 0, r.err
    cb = load_codebook(out)
    assert [(f.name, f.label, f.type, f.level) for f in cb.fields] == [
        ("xsd_element_name", "xsd:element name", "binary", "note"),
        ("codebook", "CodeBook", "binary", "note"),
        ("variables", "Variables", "binary", "note"),
    ]
    assert "Taguette 1.4.1" in cb.description


def test_atlas_ti_project_codebook_imports_with_its_code_tree(tmp_path, cli):
    """A .qdpx (zip) from ATLAS.ti: the codebook inside project.qde, nested codes kept as paths."""
    out = tmp_path / "atlas.yaml"
    r = cli("codebook", "import-qdc", DATA / "atlas-ti-target-project.qdpx", "--out", out, "--level", "record")
    assert r.code == 0, r.err
    cb = load_codebook(out)
    assert [f.label for f in cb.fields] == [
        "Commits",
        "Commits / 2022-05-10T02:05:59Z 19e4dce",
        "Commits / 2022-02-11T10:39:25Z cdbfd92",
    ]
    names = [f.name for f in cb.fields]
    assert names[0] == "commits" and len(set(names)) == 3 and all(len(n) <= 32 for n in names), names
    assert {f.level for f in cb.fields} == {"record"}


def test_nvivo_namespace_categories_descriptions_and_repeated_names(tmp_path, cli):
    """NVivo 12 for Mac writes the namespace as codebook:1:0 (see README); categories group only."""
    src = tmp_path / "nvivo.qdc"
    src.write_text(
        '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>'
        '<CodeBook origin="NVivo 12 For Mac" xmlns="urn:QDA-XML:codebook:1:0"><Codes>'
        '<Code guid="6b6f6c62-1111-4a2b-8c3d-000000000001" name="Barriers" isCodable="false">'
        '<Code guid="6b6f6c62-1111-4a2b-8c3d-000000000002" name="Cost" isCodable="true">'
        "<Description>Money stops care.\nCount insurance too.</Description></Code>"
        '<Code guid="6b6f6c62-1111-4a2b-8c3d-000000000003" name="Time" isCodable="true"/></Code>'
        '<Code guid="6b6f6c62-1111-4a2b-8c3d-000000000004" name="Barriers cost" isCodable="true"/>'
        "</Codes></CodeBook>",
        encoding="utf-8",
    )
    out = tmp_path / "n.yaml"
    assert cli("codebook", "import-qdc", src, "--out", out).code == 0
    cb = load_codebook(out)
    assert [(f.name, f.label) for f in cb.fields] == [
        ("barriers_cost", "Barriers / Cost"),
        ("barriers_time", "Barriers / Time"),
        ("barriers_cost_2", "Barriers cost"),
    ]
    assert cb.fields[0].rules == "Money stops care.\nCount insurance too."


def test_import_refuses_to_overwrite(tmp_path, cli):
    out = tmp_path / "exists.yaml"
    out.write_text("keep me\n")
    r = cli("codebook", "import-qdc", DATA / "taguette-codebook.qdc", "--out", out)
    assert r.code == 2 and "already exists" in r.err
    assert out.read_text() == "keep me\n"
