"""The checkbox field type (check all that apply): its value is the set of ticked options, stored as
the canonical text "1|3" (choice order, joined by |; "" = none ticked; None = not coded); the loader's
rules for its options; its REDCap, SPSS/Stata and pandas mappings."""

from __future__ import annotations

import pytest

from chartcode.codebook import CodeError, load_codebook
from chartcode.codebook.model import Choice, Field, checkbox_codes
from chartcode.codebook.types import Encoding, InputMode, RedcapSpec, field_type, from_redcap
from chartcode.errors import UserError

SERVICES = Field(
    name="services",
    label="Services offered",
    level="record",
    type="checkbox",
    choices=(Choice(1, "Therapy"), Choice(2, "Medication"), Choice(3, "Peer support"), Choice("oth", "Other")),
)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("1|3", "1|3"),
        ("3|1", "1|3"),  # choice order, whatever order it was typed in
        (" 3 | 1 ", "1|3"),
        ("oth|1", "1|oth"),
        ([3, 1], "1|3"),
        (("3", "1", "3"), "1|3"),  # a repeat is one tick
        ({"oth"}, "oth"),
        ("", ""),  # coded: nothing ticked
        ("|", ""),  # the same, as import-codes writes it (an empty cell is skipped there)
        ([], ""),
        ("2.0", "2"),  # a spreadsheet's 2.0 is code 2
        (2, "2"),
    ],
)
def test_parse_accepts_codes_in_any_order_and_stores_them_in_choice_order(raw, stored):
    assert SERVICES.parse(raw) == stored


@pytest.mark.parametrize("raw", ["7", "1|7", [1, 9], "Therapy", "1,3"])
def test_parse_refuses_a_code_not_among_the_options_naming_the_options(raw):
    with pytest.raises(CodeError, match=r"is not an option of this field \(options: 1 = Therapy, 2 = Medication"):
        SERVICES.parse(raw)


def test_parse_of_nothing_is_not_a_value():
    with pytest.raises(CodeError, match="a value is required"):
        SERVICES.parse(None)


def test_checkbox_codes_reads_the_stored_text_as_a_set():
    assert checkbox_codes("1|oth") == {"1", "oth"}
    assert checkbox_codes("") == frozenset()
    assert checkbox_codes(None) == frozenset()


def test_display_lists_the_ticked_options_with_labels():
    kind = SERVICES.kind
    assert kind.display(SERVICES, "1|3") == "1 Therapy, 3 Peer support"
    assert kind.display(SERVICES, "") == "(none ticked)"
    assert kind.display(SERVICES, None) == ""


def test_the_type_declares_a_set_with_a_toggle_input():
    kind = field_type("checkbox")
    assert kind.multiple and kind.has_choices and not kind.categorical
    assert kind.input_mode is InputMode.TOGGLE
    assert kind.encoding is Encoding.OBSERVED
    assert kind.pandas_dtype == "object"  # the stored text; exports write one 0/1 column per option
    assert kind.options(SERVICES) == [
        ("services___1", 1),
        ("services___2", 2),
        ("services___3", 3),
        ("services___oth", "oth"),
    ]
    with pytest.raises(ValueError, match="set"):
        kind.encode(SERVICES, "1|3")


def test_redcap_checkbox_maps_to_and_from_the_type():
    assert from_redcap("checkbox", "", "") is field_type("checkbox")
    assert SERVICES.kind.to_redcap(SERVICES) == RedcapSpec("checkbox", choices=True)


YAML = """\
id: t
title: T
version: '1'
fields:
  - name: services
    label: Services offered
    type: checkbox
    choices:
      1: Therapy
      2: Medication
"""


def test_a_checkbox_codebook_loads():
    f = load_codebook("t.yaml", text=YAML).field("services")
    assert (f.type, f.codes) == ("checkbox", (1, 2))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("      a-b: Other\n", "t.yaml:11: field 'services': checkbox option code 'a-b' must use only letters, digits"),
        ("      '1': Again\n", "t.yaml:11: field 'services': checkbox option code '1' appears twice"),
        ("      2: Twice\n", "t.yaml:11: field 'services': choice code 2 appears twice"),
        ("    missing: [2]\n", "t.yaml:11: field 'services': 'missing' does not apply to checkbox fields"),
    ],
)
def test_loader_refuses_options_redcap_and_the_exports_cannot_name(extra, message):
    with pytest.raises(UserError) as e:
        load_codebook("t.yaml", text=YAML + extra)
    assert message in str(e.value) or any(message in p for p in e.value.problems or [])


def test_loader_requires_choices():
    text = "id: t\ntitle: T\nversion: '1'\nfields:\n  - name: services\n    label: S\n    type: checkbox\n"
    with pytest.raises(UserError, match="t.yaml:5: field 'services': a checkbox field needs choices"):
        load_codebook("t.yaml", text=text)


def test_loader_refuses_an_option_column_longer_than_stata_takes():
    text = YAML.replace("name: services", "name: services_offered_at_intake_12")
    with pytest.raises(UserError, match="option column 'services_offered_at_intake_12___1' has 33 characters"):
        load_codebook("t.yaml", text=text)


def test_loader_refuses_a_field_named_like_an_option_column():
    text = YAML + "  - name: services___2\n    label: Clash\n    type: binary\n"
    with pytest.raises(UserError, match="t.yaml:11: field 'services___2': the name is the export column of an option"):
        load_codebook("t.yaml", text=text)
