"""`chartcode demo` a second time keeps the demo already built and says how to open it."""

from __future__ import annotations

import hashlib


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_second_demo_says_how_to_open_the_existing_one(cli, tmp_path):
    where = tmp_path / "demo"
    assert cli("demo", "--dir", where, "--no-tui").code == 0
    db = where / "demo.db"
    before = _digest(db)
    r = cli("demo", "--dir", where, "--no-tui")
    assert r.code == 0, r.err
    assert "already exists" in r.err and "not rebuilt" in r.err
    assert f"chartcode code {db} --coder intern" in r.out
    assert _digest(db) == before


def test_second_fidelity_demo_says_how_to_open_it(cli, tmp_path):
    where = tmp_path / "fid"
    assert cli("demo", "--audit", "ibbis-fidelity", "--dir", where).code == 0
    db = where / "ibbis-demo.db"
    before = _digest(db)
    r = cli("demo", "--audit", "ibbis-fidelity", "--dir", where)
    assert r.code == 0, r.err
    assert "already exists" in r.err and f"chartcode fidelity {db}" in r.out
    assert _digest(db) == before
