"""The report and every analysis command work on tiny audits, and library warnings become notes.

Tiny audits: empty (just `init`), one record, every record in one group, a describe group of
n = 1, a field with no final value anywhere, fields with one category, and six records double-
coded identically. Before: `chartcode report` exited 1 (TypeError formatting a None SD or
percentage) on the empty, one-record, group-of-one and all-missing audits, in .html and .md,
and scipy / statsmodels printed RuntimeWarnings on the terminal.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from chartcode.cli import run

NOTE_FIELDS = ("session_content", "psychoeducation", "functional_assessment", "skills_introduced")


def _record(i: int, variant: str) -> dict[str, int]:
    v = {
        "age": 40 + 7 * i,
        "sex": 1 + i % 2,
        "race_ethnicity": 1 + i % 3,
        "mh_diagnosis": i % 2,
        "mh_treatment": (i // 2) % 2,
        "sud_diagnosis": (i + 1) % 2,
        "sud_treatment": 0,
        "prior_hp_contact": i % 4,
        "referred_elsewhere": i % 2,
        "accepted_followup": 1 if i % 3 else 0,
        "followup_type": 1 + i % 4,
        "followup_evident": (i // 2) % 2,
        "followup_sessions": i,
        "last_note_outcome": 1 + i % 6,
        "termination": 1 + i % 5,
    }
    if variant == "one_group":
        v["accepted_followup"] = 1
    elif variant == "group_of_one":
        v["accepted_followup"] = 1 if i else 0
    elif variant == "all_missing":
        del v["age"], v["accepted_followup"]
    elif variant == "one_category":
        v["sex"] = 1
        v["mh_diagnosis"] = 1
    return v


VARIANTS = {
    "empty": 0,
    "one_record": 1,
    "one_group": 4,
    "group_of_one": 4,
    "all_missing": 4,
    "one_category": 4,
    "double_all_agree": 6,
}


def _build(d: Path, variant: str, n: int) -> Path:
    d.mkdir(parents=True)
    db = d / "a.db"
    assert run(["init", str(db), "--audit", "conjoint-pain"]) == 0
    if not n:
        return db
    notes = d / "notes.csv"
    notes.write_text(
        "record_id,note_id,note_date,note_type,author,text\n"
        + "".join(f"R{i},R{i}-N1,2024-01-{i + 1:02d},conjoint,Dr A,Seen.\n" for i in range(n)),
        encoding="utf-8",
    )
    assert run(["import", str(db), str(notes)]) == 0
    rows = ["record_id,note_id,field,value"]
    for i in range(n):
        rows += [f"R{i},,{k},{v}" for k, v in _record(i, variant).items()]
        rows += [f"R{i},R{i}-N1,{k},{1 if k == 'session_content' else i % 2}" for k in NOTE_FIELDS]
    codes = d / "codes.csv"
    codes.write_text("\n".join(rows) + "\n", encoding="utf-8")
    coders = ("intern", "supervisor") if variant == "double_all_agree" else ("intern",)
    for coder in coders:
        assert run(["import-codes", str(db), str(codes), "--coder", coder]) == 0
    return db


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {v: _build(root / v, v, n) for v, n in VARIANTS.items()}


COMMANDS = {
    "report html": ["report", "{db}", "--out", "{dir}/r.html", "--bootstrap", "20"],
    "report md": ["report", "{db}", "--out", "{dir}/r.md", "--bootstrap", "20"],
    "stats (declared)": ["stats", "{db}"],
    "stats --json": ["stats", "{db}", "--json"],
    "describe --by": ["stats", "{db}", "--describe", "age sex n_conjoint_sessions", "--by", "accepted_followup"],
    "linear": ["stats", "{db}", "--linear", "age ~ sex + mh_diagnosis"],
    "linear nominal": ["stats", "{db}", "--linear", "age ~ prior_hp_contact"],
    "logistic": ["stats", "{db}", "--logistic", "accepted_followup ~ age"],
    "welch": ["stats", "{db}", "--welch", "age by accepted_followup"],
    "crosstab": ["stats", "{db}", "--crosstab", "sex by accepted_followup"],
    "agreement": ["agreement", "{db}", "--bootstrap", "20", "--seed", "1"],
    "agreement --json": ["agreement", "{db}", "--json", "--bootstrap", "20", "--seed", "1"],
}


def _args(cmd: str, db: Path) -> list[str]:
    return [a.format(db=db, dir=db.parent) for a in COMMANDS[cmd]]


def _quiet(cli, args):
    """Run the command; fail if any warning escapes it (on a terminal, that is noise on stderr)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = cli(*args)
    escaped = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert not escaped, escaped
    assert "Traceback" not in r.err and "Warning" not in r.err, r.err
    return r


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_every_command_works_on_tiny_audits(cli, tiny, variant, cmd):
    r = _quiet(cli, _args(cmd, tiny[variant]))
    assert r.code == 0, (r.out, r.err)
    if cmd.startswith("report"):
        out = tiny[variant].parent / ("r.md" if cmd.endswith("md") else "r.html")
        text = out.read_text(encoding="utf-8")
        assert "Analyses" in text and "Agreement" in text


@pytest.mark.parametrize(
    "audit, commands",
    [
        ("ibbis-fidelity", [["fidelity", "{db}"], ["report", "{db}", "--out", "{dir}/r.html"]]),
        ("ips-fidelity", [["fidelity", "{db}", "--json"], ["report", "{db}", "--out", "{dir}/r.md"]]),
        ("strategic-review", [["reviews", "{db}"], ["report", "{db}", "--out", "{dir}/r.html"]]),
    ],
)
def test_empty_fidelity_and_review_audits(cli, tmp_path, audit, commands):
    db = tmp_path / "a.db"
    assert run(["init", str(db), "--audit", audit]) == 0
    for args in commands:
        r = _quiet(cli, [a.format(db=db, dir=tmp_path) for a in args])
        assert r.code == 0, (r.out, r.err)


def test_library_warnings_become_notes_in_the_output(cli, tiny):
    """Levene's test on a group with no spread: said in words, and scipy's own warning kept as a note."""
    db = tiny["one_category"]
    r = _quiet(cli, ["stats", db, "--json"])
    warns = [w for a in r.json["analyses"] for w in a["warnings"]]
    assert any("Levene's test is undefined" in w for w in warns), warns
    assert any(w.startswith("note from scipy (RuntimeWarning)") for w in warns), warns
    text = _quiet(cli, ["report", db, "--out", db.parent / "w.md", "--bootstrap", "20"])
    assert text.code == 0
    assert "note from scipy (RuntimeWarning)" in (db.parent / "w.md").read_text(encoding="utf-8")


def test_small_audit_tables_say_what_cannot_be_computed(cli, tiny):
    one = tiny["one_record"]
    r = _quiet(cli, ["stats", one, "--describe", "age sex"])
    assert "40.0 (-) [40 to 40]" in r.out  # one value: a mean, no SD
    empty = tiny["empty"]
    r = _quiet(cli, ["stats", empty, "--describe", "age"])
    assert "no values" in r.out
    md = empty.parent / "r0.md"
    assert _quiet(cli, ["report", empty, "--out", md, "--bootstrap", "20"]).code == 0
    assert "— (no values)" in md.read_text(encoding="utf-8")


def test_collinear_predictors_are_refused_in_words(cli, tiny):
    r = _quiet(cli, ["stats", tiny["one_group"], "--json", "--linear", "age ~ sex + mh_diagnosis"])
    res = r.json["analyses"][0]
    assert res["terms"] == []
    assert any("collinear" in w for w in res["warnings"])
