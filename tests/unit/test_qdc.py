"""A codebook exports as REFI-QDA codebook XML (.qdc) with stable GUIDs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

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
            assert [c.get("name") for c in children] == [f"{c.code} = {c.label}" for c in f.choices]
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
