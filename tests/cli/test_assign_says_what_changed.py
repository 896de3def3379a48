"""`chartcode assign` says how the coder's queue changed: a draw that adds records to a queue
(the README's `--n 6 --seed` on the demo grows the supervisor's 6 to 9) is never silent."""

from __future__ import annotations


def test_a_draw_on_the_demo_names_the_queue_before_and_after(cli, tmp_path, status):
    assert cli("demo", "--dir", tmp_path / "d", "--no-tui").code == 0
    db = tmp_path / "d" / "demo.db"
    args = ("assign", db, "--coder", "supervisor", "--n", "6", "--seed", "20240601", "--from", "intern")
    first = cli(*args)
    assert first.code == 0, first.err
    assert "assigned 3 new records to supervisor (3 already assigned)" in first.out
    assert "supervisor now has 9 records assigned (6 before)" in first.out
    again = cli(*args)
    assert "assigned 0 new records" in again.out and "now has 9 records assigned (unchanged)" in again.out
