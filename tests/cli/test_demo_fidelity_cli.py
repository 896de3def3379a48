"""`chartcode demo --audit ibbis-fidelity`: builds the fidelity demo, never opens a screen."""

from __future__ import annotations

from chartcode.cli import run
from chartcode.store import Store


def test_fidelity_demo_builds_without_a_screen(tmp_path, capsys):
    code = run(["demo", "--audit", "ibbis-fidelity", "--dir", str(tmp_path / "d"), "--no-tui"])
    out = capsys.readouterr().out
    assert code == 0
    db = tmp_path / "d" / "ibbis-demo.db"
    assert f"built {db}" in out
    assert f"chartcode fidelity {db}" in out and "--out fidelity.html" in out
    assert '--unit "Team North" --period 2025-H2 --rater reviewer-a' in out
    with Store.open(db) as s:
        assert len(s.unit_periods()) == 6


def test_fidelity_demo_needs_no_terminal_even_without_no_tui(tmp_path, capsys):
    # stdin/stdout are not a terminal under pytest: the conjoint demo would refuse, this one does not
    assert run(["demo", "--audit", "ibbis-fidelity", "--dir", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "ibbis-demo.db").exists()


def test_demo_audit_option(tmp_path, capsys):
    assert run(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "ibbis-fidelity" in out and "conjoint-pain" in out
    assert run(["demo", "--audit", "nope", "--dir", str(tmp_path)]) == 2
    assert run(["demo", "--audit", "ibbis-fidelity", "--dir", str(tmp_path)]) == 0
    assert run(["demo", "--audit", "ibbis-fidelity", "--dir", str(tmp_path)]) == 0  # exists: kept, says how to open it
