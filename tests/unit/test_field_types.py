"""Field types (chartcode.codebook.types): one class per type, and every consumer reads the registry.

Per type: parsing and validation, display, TUI input, agreement level, SPSS/Stata/REDCap/pandas
mapping. Then: every registered type is handled by every consumer. Then: a new type is one class
(a toy 'email' type registered for one test loads, parses, shows in the coding form and exports).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from chartcode.codebook import CodeError, load_codebook
from chartcode.codebook.model import CHOICE_TYPES, NUMBER_TYPES, TYPES, Choice, Field
from chartcode.codebook.qdc import codebook_to_qdc
from chartcode.codebook.redcap import codebook_to_redcap, redcap_to_yaml
from chartcode.codebook.types import (
    AGREEMENT_LEVELS,
    FIELD_TYPES,
    Encoding,
    FieldType,
    InputMode,
    RedcapSpec,
    Text,
    field_type,
    from_redcap,
    register,
    registered,
    unregister,
)
from chartcode.dataset import _column

BUILTIN = ("nominal", "ordinal", "binary", "count", "numeric", "date", "text", "checkbox")


def fld(type_: str, **kw) -> Field:
    if type_ in ("nominal", "ordinal") and "choices" not in kw:
        kw["choices"] = (Choice(1, "Low"), Choice(2, "Mid"), Choice(3, "High"))
    if type_ == "binary" and "choices" not in kw:
        kw["choices"] = (Choice(0, "No"), Choice(1, "Yes"))
    return Field(name="f", label="F", level="record", type=type_, **kw)


def sample_field(ft: FieldType) -> Field:
    """A field of any registered type, with choices when the type has them."""
    if ft.has_choices:
        codes = ft.exact_codes or (1, 2)
        return Field(
            name="f", label="F", level="record", type=ft.name, choices=tuple(Choice(c, f"choice {c}") for c in codes)
        )
    return Field(name="f", label="F", level="record", type=ft.name)


# ---- the registry ---------------------------------------------------------------------------


def test_registry_holds_the_built_in_types_in_order():
    assert tuple(FIELD_TYPES) == BUILTIN
    assert TYPES == BUILTIN
    assert CHOICE_TYPES == ("nominal", "ordinal", "binary", "checkbox")
    assert NUMBER_TYPES == ("count", "numeric")
    for name in BUILTIN:
        assert field_type(name).name == name
        assert fld(name).kind is FIELD_TYPES[name]


def test_unknown_type_names_the_registered_ones():
    with pytest.raises(KeyError, match="registered: nominal, ordinal"):
        field_type("multiselect")


def test_register_refuses_duplicates_and_bad_names():
    with pytest.raises(ValueError, match="already registered"):
        register(Text)

    class Bad(Text):
        name = "Not-A-Name"

    with pytest.raises(ValueError, match="lower-case name"):
        register(Bad)


def test_registered_is_scoped():
    class Tmp(Text):
        name = "tmp_type"

    with registered(Tmp) as (t,):
        assert field_type("tmp_type") is t
    assert "tmp_type" not in FIELD_TYPES


# ---- parsing and validation, per type --------------------------------------------------------


@pytest.mark.parametrize(
    "type_, raw, value",
    [
        ("nominal", "2", 2),
        ("nominal", 3, 3),
        ("nominal", "3.0", 3),
        ("nominal", 2.0, 2),
        ("ordinal", " 1 ", 1),
        ("binary", True, 1),
        ("binary", "0", 0),
        ("binary", False, 0),
        ("count", "7", 7),
        ("count", 7, 7),
        ("count", "7.0", 7),
        ("count", "+3", 3),
        ("numeric", "-2.5", -2.5),
        ("numeric", "4", 4),
        ("numeric", 1e3, 1000.0),
        ("numeric", ".5", 0.5),
        ("date", "2024-02-29", "2024-02-29"),
        ("date", "2024-02-29T10:00:00", "2024-02-29"),
        ("date", "2024-02-29 10:00", "2024-02-29"),
        ("text", "  hello  ", "hello"),
        ("text", 12, "12"),
    ],
)
def test_parse_valid(type_, raw, value):
    got = fld(type_).parse(raw)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "type_, raw, message",
    [
        ("nominal", "4", "not a code of this field"),
        ("nominal", "x", "codes: 1 = Low"),
        ("ordinal", "1.5", "not a code"),
        ("binary", "2", "not a code"),
        ("count", "-1", "cannot be negative"),
        ("count", "1.5", "not a whole number"),
        ("count", "x", "whole number"),
        ("numeric", "1,5", "not a number"),
        ("numeric", "abc", "not a number"),
        ("date", "2024-02-30", "not a date"),
        ("date", "29/02/2024", "write YYYY-MM-DD"),
        ("text", "   ", "a value is required"),
        ("count", None, "a value is required"),
        ("date", "", "required"),
    ],
)
def test_parse_invalid(type_, raw, message):
    with pytest.raises(CodeError, match=message):
        fld(type_).parse(raw)


def test_number_ranges():
    f = fld("count", min=1, max=10)
    assert f.parse("10") == 10
    with pytest.raises(CodeError, match="below the minimum 1"):
        f.parse("0")
    with pytest.raises(CodeError, match="above the maximum 10"):
        f.parse("11")
    g = fld("numeric", min=-1.5, max=2)
    assert g.parse("-1.5") == -1.5
    with pytest.raises(CodeError, match="below the minimum -1.5"):
        g.parse("-2")


def test_word_codes_on_nominal():
    f = fld("nominal", choices=(Choice("a", "Alpha"), Choice("b", "Beta")))
    assert f.parse("b") == "b"
    with pytest.raises(CodeError):
        f.parse("c")


# ---- display and TUI input -------------------------------------------------------------------


def test_display():
    assert fld("ordinal").kind.display(fld("ordinal"), 2) == "2 Mid"
    assert fld("nominal").kind.display(fld("nominal"), None) == ""
    assert fld("count").kind.display(fld("count"), 3) == "3"
    assert fld("date").kind.display(fld("date"), "2024-01-02") == "2024-01-02"
    assert fld("text").kind.display(fld("text"), None) == ""


@pytest.mark.parametrize(
    "type_, mode, hint",
    [
        ("nominal", InputMode.SINGLE_KEY, ""),
        ("ordinal", InputMode.SINGLE_KEY, ""),
        ("binary", InputMode.SINGLE_KEY, ""),
        ("count", InputMode.DIGITS, "a whole number"),
        ("numeric", InputMode.NUMBER, "a number"),
        ("date", InputMode.DATE, "a date YYYY-MM-DD"),
        ("text", InputMode.FREE_TEXT, "text"),
    ],
)
def test_input_mode(type_, mode, hint):
    kind = field_type(type_)
    assert kind.input_mode is mode
    assert kind.entry_hint == hint


def test_count_saves_itself_once_no_digit_fits():
    f = fld("count", max=110)
    k = f.kind
    assert k.saves_itself(f, "0")
    assert k.saves_itself(f, "61")  # 610 > 110
    assert not k.saves_itself(f, "11")  # 110 still fits
    assert k.saves_itself(f, "110")
    assert not k.saves_itself(f, "")
    assert not k.saves_itself(f, "-1")
    assert not k.saves_itself(fld("count"), "99")  # no max: Enter saves
    assert not k.saves_itself(fld("count", min=5, max=9), "3")  # complete but below the minimum
    for other in ("numeric", "date", "text", "nominal"):
        assert not field_type(other).saves_itself(fld(other, max=9) if other == "numeric" else fld(other), "5")


# ---- agreement -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_, level, categorical, weighted, icc, encoding",
    [
        ("nominal", "nominal", True, False, False, Encoding.POSITION),
        ("binary", "nominal", True, False, False, Encoding.POSITION),
        ("ordinal", "ordinal", True, True, False, Encoding.POSITION),
        ("count", "ratio", False, False, True, Encoding.NUMBER),
        ("numeric", "interval", False, False, True, Encoding.NUMBER),
        ("date", "interval", False, False, False, Encoding.DAY),
        ("text", "nominal", True, False, False, Encoding.OBSERVED),
    ],
)
def test_agreement_attributes(type_, level, categorical, weighted, icc, encoding):
    k = field_type(type_)
    assert (k.agreement_level, k.categorical, k.weighted, k.icc, k.encoding) == (
        level,
        categorical,
        weighted,
        icc,
        encoding,
    )
    assert k.agreement_level in k.alpha_levels
    assert set(k.alpha_levels) <= set(AGREEMENT_LEVELS)


def test_encode():
    o = fld("ordinal", choices=(Choice(1, "a"), Choice(2, "b"), Choice(9, "Cannot rate", missing=True)))
    assert o.kind.encode(o, 2) == 1.0 and o.kind.encode(o, 2.0) == 1.0
    assert o.kind.encode(o, 9) is None  # cannot rate is missing, not a category
    assert o.kind.encode(o, None) is None
    assert fld("count").kind.encode(fld("count"), 7) == 7.0
    assert fld("numeric").kind.encode(fld("numeric"), "nan") is None
    assert fld("numeric").kind.encode(fld("numeric"), "x") is None
    assert fld("date").kind.encode(fld("date"), "2024-01-02") == 738887.0
    assert fld("date").kind.encode(fld("date"), "bad") is None
    with pytest.raises(ValueError, match="not encoded as a number"):
        fld("text").kind.encode(fld("text"), "x")
    assert fld("text").kind.encode(fld("text"), None) is None


def test_word_codes_have_no_numeric_format_and_an_object_column():
    f = fld("nominal", choices=(Choice("a", "A"), Choice("b", "B")))
    assert f.kind.spss_format(f) is None and f.kind.stata_format(f) is None
    assert _column(["a", None], "nominal").dtype == object
    assert str(_column([1, None], "nominal").dtype) == "Int64"
    assert str(_column([1.5, None], "numeric").dtype) == "Float64"


@pytest.mark.parametrize(
    "field, spec",
    [
        (fld("nominal"), RedcapSpec("radio", choices=True)),
        (fld("ordinal"), RedcapSpec("radio", choices=True, tag_type=True)),
        (fld("binary"), RedcapSpec("yesno")),
        (
            fld("binary", choices=(Choice(0, "Absent"), Choice(1, "Present"))),
            RedcapSpec("radio", choices=True, tag_type=True),
        ),
        (fld("count"), RedcapSpec("text", "integer", 0, None)),
        (fld("count", min=2, max=5), RedcapSpec("text", "integer", 2, 5)),
        (fld("numeric", min=-1), RedcapSpec("text", "number", -1, None)),
        (fld("date"), RedcapSpec("text", "date_ymd")),
        (fld("text"), RedcapSpec("notes")),
    ],
)
def test_redcap_export_mapping(field, spec):
    assert field.kind.to_redcap(field) == spec


@pytest.mark.parametrize(
    "rc_type, validation, vmin, name",
    [
        ("radio", "", "", "nominal"),
        ("dropdown", "", "", "nominal"),
        ("yesno", "", "", "binary"),
        ("truefalse", "", "", "binary"),
        ("text", "integer", "0", "count"),
        ("text", "integer", "", "numeric"),
        ("text", "integer", "-3", "numeric"),
        ("text", "number_2dp", "", "numeric"),
        ("text", " Number ", "", "numeric"),
        ("text", "date_dmy", "", "date"),
        ("text", "email", "", "text"),
        ("text", "", "", "text"),
        ("notes", "integer", "0", "text"),
    ],
)
def test_redcap_import_mapping(rc_type, validation, vmin, name):
    assert from_redcap(rc_type, validation, vmin).name == name


def test_redcap_implied_choices():
    assert field_type("binary").redcap_choices("truefalse") == {0: "False", 1: "True"}
    assert field_type("binary").redcap_choices("radio") is None
    assert field_type("nominal").redcap_choices("radio") is None


def test_choice_rules():
    assert field_type("binary").exact_codes == (0, 1)
    assert field_type("binary").default_choices == ((0, "No"), (1, "Yes"))
    assert field_type("ordinal").integer_codes and field_type("binary").integer_codes
    assert not field_type("nominal").integer_codes
    assert field_type("ordinal").ordered and not field_type("nominal").ordered
    assert [n for n, t in FIELD_TYPES.items() if t.is_number] == ["count", "numeric"]
    assert [n for n, t in FIELD_TYPES.items() if t.multiple] == ["checkbox"]


def test_qdc_codes():
    o = fld("ordinal")
    codable, children = o.kind.qdc_codes(o)
    assert not codable and children[0] == ("1", "1 = Low", "")
    assert fld("count").kind.qdc_codes(fld("count")) == (True, [])


# ---- every registered type is handled by every consumer ----------------------------------------


def _consumers_handle(ft: FieldType, tmp: Path) -> None:
    from chartcode.tui.widgets.coding_form import field_panel
    from chartcode.tui.widgets.rating_items import fmt_value, item_detail

    f = sample_field(ft)
    panel = field_panel(f, None, None).plain  # the coding form draws an input for it
    assert f.label in panel
    if ft.has_choices:
        assert "[" in panel
    else:
        assert f"type {ft.entry_hint or 'a value'}" in panel
    item_detail(f, None, None, position="1 of 1", section="S", cannot_rate=None, read_only=False)
    assert fmt_value(f, None) == "[–]"
    spec = ft.to_redcap(f)
    assert isinstance(spec, RedcapSpec) and spec.field_type
    assert ft.spss_measure in ("nominal", "ordinal", "scale")
    assert ft.agreement_level in AGREEMENT_LEVELS
    assert isinstance(ft.input_mode, InputMode) and isinstance(ft.encoding, Encoding)
    assert isinstance(_column([None], ft.name), pd.Series)
    assert ft.qdc_codes(f)[0] == (not f.choices)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_consumer_handles_every_built_in_type(name, tmp_path):
    _consumers_handle(field_type(name), tmp_path)


def test_every_type_round_trips_through_a_codebook_redcap_and_qdc(tmp_path):
    """One field of each registered type: loads, exports to REDCap and back (same types), and to .qdc."""
    yaml = ["id: all", "title: All types", "version: '1'", "fields:"]
    for name, ft in FIELD_TYPES.items():
        yaml += [f"  - name: f_{name}", f"    label: A {name} field", f"    type: {name}"]
        if ft.has_choices and not ft.default_choices:
            yaml += ["    choices:", "      1: One", "      2: Two"]
    cb = load_codebook("all.yaml", text="\n".join(yaml) + "\n")
    assert [f.type for f in cb.fields] == list(FIELD_TYPES)
    codebook_to_redcap(cb, tmp_path / "dict.csv")
    text, _ = redcap_to_yaml(tmp_path / "dict.csv")
    back = load_codebook("back.yaml", text=text)
    assert [(f.name, f.type) for f in back.fields] == [(f.name, f.type) for f in cb.fields]
    codebook_to_qdc(cb, tmp_path / "cb.qdc")
    assert (tmp_path / "cb.qdc").read_text(encoding="utf-8").count("<Code ") >= len(cb.fields)


# ---- adding a type is one class ---------------------------------------------------------------


class Email(FieldType):
    """A toy type: text that must look like an e-mail address; REDCap's 'email' validation."""

    name = "email"
    family = "text"  # a REDCap text field may be tagged @chartcode-type=email
    input_mode = InputMode.FREE_TEXT
    entry_hint = "an e-mail address"
    categorical = True

    def parse_text(self, fld, text):
        if text.count("@") != 1 or "." not in text.split("@")[1]:
            raise CodeError(f"{text!r} is not an e-mail address")
        return text.lower()

    def to_redcap(self, fld):
        return RedcapSpec("text", "email")

    def from_redcap(self, field_type, validation, vmin):
        return field_type == "text" and validation == "email"


EMAIL_CODEBOOK = """
id: contacts
title: Contacts
version: "1"
fields:
  - name: smoker
    label: Current smoker
    type: binary
  - name: contact
    label: Contact address
    type: email
    required: true
"""


@pytest.fixture
def email_type():
    with registered(Email) as (t,):
        yield t
    assert "email" not in FIELD_TYPES


def test_a_new_type_is_one_class(email_type, tmp_path):
    # the loader accepts it and the error message lists it
    cb = load_codebook("contacts.yaml", text=EMAIL_CODEBOOK)
    f = cb.field("contact")
    assert f.kind is email_type and f.to_dict()["type"] == "email"
    with pytest.raises(
        Exception, match="one of: nominal, ordinal, binary, count, numeric, date, text, checkbox, email"
    ):
        load_codebook("x.yaml", text=EMAIL_CODEBOOK.replace("type: email", "type: phone"))
    with pytest.raises(Exception, match="has no choices"):
        load_codebook("x.yaml", text=EMAIL_CODEBOOK + "    choices: {1: a}\n")
    # parsing
    assert f.parse(" Ann@Example.org ") == "ann@example.org"
    with pytest.raises(CodeError, match="not an e-mail address"):
        f.parse("ann")
    # the coding form
    from chartcode.coding import Slot
    from chartcode.tui.widgets.coding_form import FieldRow, field_panel

    assert "type an e-mail address, then Enter" in field_panel(f, None, None).plain
    row = FieldRow(Slot(f))
    row.value = "ann@example.org"
    assert "ann@example.org" in row._render_text(width=46).plain
    assert "ann…" in row._render_text(width=14).plain  # cut to fit a narrow form
    _consumers_handle(email_type, tmp_path)
    # REDCap both ways, REFI-QDA
    codebook_to_redcap(cb, tmp_path / "dict.csv")
    with open(tmp_path / "dict.csv", encoding="utf-8") as fh:
        rows = {r["Variable / Field Name"]: r for r in csv.DictReader(fh)}
    assert (rows["contact"]["Field Type"], rows["contact"]["Text Validation Type OR Show Slider Number"]) == (
        "text",
        "email",
    )
    text, _ = redcap_to_yaml(tmp_path / "dict.csv")
    assert load_codebook("back.yaml", text=text).field("contact").type == "email"
    codebook_to_qdc(cb, tmp_path / "cb.qdc")
    assert "contact: email" in (tmp_path / "cb.qdc").read_text(encoding="utf-8")


def test_a_new_type_is_coded_and_exported(email_type, tmp_path):
    from chartcode.export import export
    from chartcode.store import Store

    s = Store.create(tmp_path / "c.db", load_codebook("contacts.yaml", text=EMAIL_CODEBOOK), coders=[("ann", "coder")])
    try:
        s.add_records(["R1", "R2"])
        s.assign("ann", ["R1", "R2"])
        for rid, mail in (("R1", "a@b.org"), ("R2", "c@d.org")):
            s.set_code("ann", rid, "contact", s.codebook.field("contact").parse(mail))
            s.set_code("ann", rid, "smoker", 1)
            s.submit("ann", rid)
        export(s, "sav", tmp_path / "out.sav")
        export(s, "csv", tmp_path / "out.csv")
    finally:
        s.close()
    df, meta = pyreadstat.read_sav(str(tmp_path / "out.sav"))
    assert sorted(df["contact"]) == ["a@b.org", "c@d.org"]
    assert meta.column_names_to_labels["contact"] == "Contact address"
    assert "a@b.org" in (tmp_path / "out.csv").read_text(encoding="utf-8")


def test_unregister_is_quiet_for_unknown_names():
    unregister("never_registered")


def test_redcap_types_no_field_type_claims_are_skipped():
    for rc_type in ("calc", "descriptive", "file", "slider", "sql", ""):
        assert from_redcap(rc_type, "", "") is None
