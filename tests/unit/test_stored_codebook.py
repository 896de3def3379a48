"""The store opens its codebook from the canonical JSON kept beside the YAML (no YAML parsing at
start-up), and what it opens is the codebook the YAML gives: every field, choice, scale, band,
the hash and the source, for every shipped codebook. A codebook with REDCap columns (whose order
the canonical JSON sorts) is parsed from its YAML, so its columns keep their order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chartcode import resources
from chartcode.codebook import load_codebook
from chartcode.codebook.model import codebook_from_canonical
from chartcode.codebook.redcap import redcap_to_yaml
from chartcode.store import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", resources.shipped_names("codebooks"))
def test_store_opens_each_shipped_codebook_as_its_yaml_gives_it(tmp_path, name):
    from_yaml = load_codebook(resources.resolve("codebooks", name))
    with Store.create(tmp_path / "a.db", from_yaml) as store:
        pass
    with Store.open(tmp_path / "a.db") as store:
        opened = store.codebook
    assert opened == from_yaml  # fields, choices, rules, scale (dataclass equality)
    assert opened.to_dict() == from_yaml.to_dict()
    assert (opened.hash, opened.source, opened.title) == (from_yaml.hash, from_yaml.source, from_yaml.title)
    assert [f.kind for f in opened.fields] == [f.kind for f in from_yaml.fields]


def test_store_opens_without_importing_the_yaml_loader(tmp_path):
    import subprocess
    import sys

    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    with Store.create(tmp_path / "a.db", cb):
        pass
    code = (
        "import sys\nfrom chartcode.store import Store\n"
        f"s = Store.open({str(tmp_path / 'a.db')!r})\nprint(len(s.codebook.fields))\n"
        "print('ruamel' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == [str(len(cb.fields)), "False"]


def test_a_redcap_codebook_is_parsed_from_its_yaml_and_keeps_its_column_order(tmp_path):
    text, _ = redcap_to_yaml(ROOT / "tests" / "data" / "redcap" / "pain_intake.csv")
    path = tmp_path / "intake.yaml"
    path.write_text(text, encoding="utf-8")
    from_yaml = load_codebook(path)
    assert from_yaml.redcap or any(f.redcap for f in from_yaml.fields)
    assert codebook_from_canonical(from_yaml.canonical_json(), from_yaml.source) is None
    with Store.create(tmp_path / "a.db", from_yaml):
        pass
    with Store.open(tmp_path / "a.db") as store:
        opened = store.codebook
    assert opened == from_yaml
    assert list(opened.redcap) == list(from_yaml.redcap)
    assert [f.redcap for f in opened.fields] == [f.redcap for f in from_yaml.fields]


BRANCHING = """id: t
title: T
version: "1"
fields:
  - name: accepted
    label: Accepted follow-up
    type: binary
    required: true
  - name: sessions
    label: Sessions
    type: count
    required: true
    show_if: "[accepted] = '1'"
  - name: total
    label: Sessions plus one
    type: numeric
    calc: "[sessions] + 1"
"""


def test_branching_logic_and_calculations_survive_the_stored_json(tmp_path):
    from_yaml = load_codebook("t.yaml", BRANCHING)
    opened = codebook_from_canonical(from_yaml.canonical_json(), from_yaml.source)
    assert opened == from_yaml
    assert (opened.field("sessions").show_if, opened.field("total").calc) == ("[accepted] = '1'", "[sessions] + 1")


def test_json_with_a_key_it_does_not_rebuild_falls_back_to_the_yaml():
    """A Field attribute added later but not rebuilt here would be lost silently; instead the
    canonical JSON must come back exactly, or the store parses the YAML."""
    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    d = json.loads(cb.canonical_json())
    d["fields"][0]["future_attribute"] = "x"
    assert codebook_from_canonical(json.dumps(d, sort_keys=True, separators=(",", ":")), cb.source) is None
