"""`chartcode rate`: what it refuses before any screen is drawn (the screen itself: tests/tui)."""

from __future__ import annotations

from chartcode.store import Store
from tests.tui.test_rating_screen import scale_yaml

PLAIN = (
    "id: plain\ntitle: Plain\nversion: 1\nfields:\n  - {name: a, label: A, type: binary, choices: {0: no, 1: yes}}\n"
)


def make_db(cli, tmp_path, yaml_text: str, name: str):
    book = tmp_path / f"{name}.yaml"
    book.write_text(yaml_text, encoding="utf-8")
    db = tmp_path / f"{name}.db"
    r = cli("init", db, "--codebook", book, "--coder", "alice")
    assert r.code == 0, r.err
    return db


def test_rate_refuses_an_audit_whose_codebook_is_not_a_rating_scale(cli, tmp_path):
    db = make_db(cli, tmp_path, PLAIN, "plain")
    r = cli("rate", db, "--unit", "Team A", "--period", "2025-H1", "--rater", "alice")
    assert r.code == 2
    assert "codebook plain is not a rating scale" in r.err
    with Store.open(db) as s:
        assert s.record_ids() == []  # nothing created


def test_rate_refuses_an_unknown_rater(cli, tmp_path):
    db = make_db(cli, tmp_path, scale_yaml(), "scale")
    r = cli("rate", db, "--unit", "Team A", "--period", "2025-H1", "--rater", "nobody")
    assert r.code == 2 and "coder 'nobody' is not in this audit" in r.err
    with Store.open(db) as s:
        assert s.record_ids() == []


def test_rate_needs_a_terminal_and_writes_nothing_without_one(cli, tmp_path):
    db = make_db(cli, tmp_path, scale_yaml(), "scale")
    r = cli("rate", db, "--unit", "Team A", "--period", "2025-H1", "--rater", "alice")  # pytest: no tty
    assert r.code == 2 and "the rating screen needs a terminal" in r.err
    with Store.open(db) as s:
        assert s.record_ids() == [] and s.assignments("alice") == []


def test_rate_help_has_an_example(cli):
    r = cli("rate", "--help")
    assert r.code == 0
    assert 'chartcode rate fidelity.db --unit "Team A" --period 2025-H1 --rater alice' in r.out
    for opt in ("--unit", "--period", "--rater"):
        assert opt in r.out
