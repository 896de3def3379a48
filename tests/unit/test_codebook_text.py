"""Codebook text arrives as written: folded YAML text carries no U+0007 fold marks, control
characters are refused with file:line, and the rules panes wrap the author's paragraphs
instead of breaking at the author's editor line ends."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

from chartcode import resources
from chartcode.codebook import load_codebook
from chartcode.codebook.text import paragraphs
from chartcode.errors import UserError
from chartcode.tui.widgets.coding_form import field_panel
from chartcode.tui.widgets.rating_items import item_detail

SHIPPED = resources.shipped_names("codebooks")


def _texts(cb):
    yield "description", cb.description
    for f in cb.fields:
        yield f"{f.name}.label", f.label
        yield f"{f.name}.rules", f.rules
        for c in f.choices:
            yield f"{f.name}.{c.code}", f"{c.label} {c.description}"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_codebook_text_has_no_control_characters(name):
    cb = load_codebook(resources.shipped_dir("codebooks") / f"{name}.yaml")
    bad = [where for where, text in _texts(cb) if any(ord(c) < 32 and c not in "\t\n" for c in text)]
    assert bad == []


def test_folded_rules_read_as_yaml_folds_them():
    """ibbis-fidelity writes every rules: as a folded block; on main each fold kept a U+0007."""
    cb = load_codebook(resources.shipped_dir("codebooks") / "ibbis-fidelity.yaml")
    folded = [f for f in cb.fields if f.rules]
    assert len(folded) == 17
    assert not any("\a" in f.rules for f in folded)
    first = folded[0]
    assert "participant, their care manager" in first.rules  # the fold is one space, no mark
    assert "\n" not in first.rules  # one paragraph: the folds are spaces


FOLDS = """\
id: folds
title: Folds
version: 1
description: >
  First paragraph, written
  over two lines.

  Second paragraph.
fields:
  - name: a
    label: A
    type: text
    rules: |
      Literal rules keep
      the author's line ends.
"""


def test_folded_paragraphs_and_literal_line_ends_are_kept(tmp_path):
    cb = load_codebook(tmp_path / "f.yaml", text=FOLDS)
    assert cb.description == "First paragraph, written over two lines.\nSecond paragraph."
    assert cb.fields[0].rules == "Literal rules keep\nthe author's line ends."


@pytest.mark.parametrize(
    ("text", "line", "char"),
    [
        ('    rules: "Code from the chart.\\a"\n', 19, "U+0007"),  # an escape in a quoted string
        ('    cues: ["smok\\x1b[31ming"]\n', 19, "U+001B"),
        ('    rules: "C1 \\x9b control"\n', 19, "U+009B"),
        ('    rules: "\\ud800"\n', 19, "U+D800"),
    ],
)
def test_control_characters_are_refused_with_file_and_line(tmp_path, cli, text, line, char):
    src = tmp_path / "cb.yaml"
    src.write_text(
        FOLDS + "  - name: b\n    label: B\n    type: text\n" + text, encoding="utf-8", errors="surrogatepass"
    )
    r = cli("codebook", "check", src)
    assert r.code == 2
    assert r.err.strip().splitlines() == [
        f"{src}:{line}: a control character ({char}) is not allowed in text; remove it"
    ], r.err


@pytest.mark.parametrize("fmt", ["qdc", "redcap"])
def test_exports_of_a_folded_codebook_carry_no_fold_marks(tmp_path, cli, fmt):
    out = tmp_path / f"ibbis.{fmt}"
    assert cli("codebook", "export", "ibbis-fidelity", "--format", fmt, "--out", out).code == 0
    data = out.read_bytes()
    assert b"\x07" not in data
    if fmt == "qdc":
        ET.fromstring(data)  # well-formed: main wrote &#7;, which XML 1.0 forbids


def test_json_of_the_codebook_has_no_fold_marks():
    cb = load_codebook(resources.shipped_dir("codebooks") / "ibbis-fidelity.yaml")
    assert "\\u0007" not in json.dumps(cb.to_dict())


def test_paragraphs_joins_editor_line_ends_and_keeps_paragraphs_and_list_items():
    text = "Look at the caseload and\nthe interviews.\n\nThen:\n- count the files\n  with a plan\n- rate\n1. first\n"
    assert paragraphs(text) == (
        "Look at the caseload and the interviews.\n\nThen:\n- count the files with a plan\n- rate\n1. first"
    )


def _render(renderable, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue().splitlines()


IPS = load_codebook(resources.shipped_dir("codebooks") / "ips-fidelity.yaml")


def test_rating_screen_rules_do_not_break_mid_sentence():
    """ips-fidelity's caseload_size rules: the author's line ends at "supervisor and" /
    "employment specialist"; the rating pane wraps the paragraph at its own width."""
    f = IPS.field("caseload_size")
    assert "supervisor and\nemployment specialist" in f.rules  # the data keeps the author's text
    group, plain = item_detail(f, None, None, position="1 of 25", section="Staffing", cannot_rate=9, read_only=False)
    assert "supervisor and employment specialist interviews" in plain
    lines = _render(group, 200)
    rules_lines = [x for x in lines if "Sources:" in x or "full-time specialist" in x]
    assert len(rules_lines) == 2, lines  # ~360 characters: two lines of 200, not the author's four
    assert not any(x.rstrip().endswith("supervisor and") for x in lines)


def test_coding_screen_rules_wrap_paragraphs():
    cb = load_codebook(resources.shipped_dir("codebooks") / "conjoint-pain.yaml")
    f = next(f for f in cb.fields if "\n" in f.rules)
    panel = field_panel(f, None, None)
    assert paragraphs(f.rules) in panel.plain
    assert f.rules not in panel.plain


def test_control_check_error_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"f.yaml:4: a control character \(U\+0007\)"):
        load_codebook(tmp_path / "f.yaml", text='id: a\ntitle: A\nversion: 1\ndescription: "x\\ay"\nfields: []\n')


def test_audit_stored_under_the_old_hash_still_takes_consensus(audit_db):
    """Every shipped codebook has a folded description, so an audit created before this fix
    stored its codebook under a hash that today's parse of the same YAML does not give. The
    audit keeps naming its codebook by the stored hash (codes.codebook_hash and
    consensus.codebook_hash reference codebooks.hash, foreign keys on)."""
    import sqlite3

    from chartcode.store import Store

    old_hash = "0" * 64  # what a parse that kept U+0007 gave
    conn = sqlite3.connect(audit_db)  # foreign keys off in a plain connection
    with conn:
        conn.execute("UPDATE codebooks SET hash = ?", [old_hash])
    conn.close()
    with Store.open(audit_db) as store:
        assert store.codebook.hash == old_hash
        store.set_code("intern", "R1", "age", 61)
        store.set_consensus("R1", "age", 61, reason="chart says 61", decided_by="supervisor")
        rows = store._db.execute("SELECT codebook_hash FROM codes UNION SELECT codebook_hash FROM consensus")
        assert [r[0] for r in rows] == [old_hash]
