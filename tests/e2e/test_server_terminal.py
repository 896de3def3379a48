"""Two terminals at once, for real (tmux, one private server each; tests/e2e/tmux.py).

On a team server two coders, each logged in as their own role, code the same record in two
terminals at the same time: each sees only their own values until both have submitted, then a
lead sees both, and every key typed is committed (read back as the owner, from the tables
themselves). On an audit file the same rater in two windows: the change made against a rating
the other window has changed since is refused on screen with the rating it holds now.

The rating screen is used for the file because it keeps no screen lease: a second coding screen
of one coder on a file opens read-only (tests/tui/test_second_window.py), so two coding windows
only both write in the seconds between a take-over and the first window's next heartbeat.
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from chartcode.store import Store, open_store
from tests.e2e.conftest import require_tool
from tests.e2e.tmux import Tmux
from tests.server import conftest as server
from tests.server.conftest import Team, lead_name
from tests.tui.test_rating_screen import RECORD, scale_yaml
from tests.whole_records import filler

pytestmark = pytest.mark.e2e

# The team-server fixtures (a throwaway cluster, skipped off CI without PostgreSQL, failing on CI).
pg_cluster, admin_url, team = server.pg_cluster, server.admin_url, server.team


@pytest.fixture
def tmux2(tmp_path: Path) -> Iterator[Tmux]:
    """A second private tmux server: the second terminal."""
    require_tool("tmux")
    server = Tmux(home=tmp_path / "home2")
    try:
        yield server
    finally:
        server.kill()


def _prepare(store, coder: str, record_id: str, leave: str) -> None:
    """Every required code of the record but ``leave`` already given (so one key and d finish it)."""
    for note_id, f in store.missing_required(coder, record_id):
        if f.name != leave:
            store.set_code(coder, record_id, f.name, filler(f), note_id=note_id)


def _owner_rows(team: Team) -> dict[tuple[str, str], tuple[object, str | None]]:
    """(coder, field) -> (value, submitted_at) of R1, from chartcode.codes itself (the administrator)."""
    with psycopg.connect(team.admin) as conn:
        rows = conn.execute(
            "SELECT coder, field, value, submitted_at FROM chartcode.codes WHERE record_id = 'R1' AND note_key = ''"
        ).fetchall()
    return {(r[0], r[1]): (r[2], r[3]) for r in rows}


def _codes_csv(exe: str, url: str, *args: str) -> list[dict[str, str]]:
    out = subprocess.run(
        [exe, "codes", url, "--format", "csv", "--record", "R1", *args], check=True, capture_output=True, text=True
    ).stdout
    return list(csv.DictReader(io.StringIO(out)))


def test_two_coders_code_one_server_record_at_once_blind_until_both_submit(
    team: Team, chartcode_exe: str, tmux: Tmux, tmux2: Tmux
):
    intern, sup, lead = (lead_name(team.url(w)) for w in ("intern", "supervisor", "lead"))
    for who, name in (("intern", intern), ("supervisor", sup)):
        with open_store(team.url(who)) as s:
            _prepare(s, name, "R1", leave="sex")
    tmux.start([chartcode_exe, "code", team.url("intern")])
    tmux2.start([chartcode_exe, "code", team.url("supervisor")])
    for term, name in ((tmux, intern), (tmux2, sup)):
        term.wait_for(f"{name} · 0/3 done")
        term.wait_for("(sex, nominal, required)")  # R1 opens on its one empty required field
    # both type at once: neither waits for the other
    tmux.type("1")
    tmux2.type("2")
    tmux.wait_until(
        lambda: (
            _owner_rows(team).get((intern, "sex"), (None,))[0] == 1
            and _owner_rows(team).get((sup, "sex"), (None,))[0] == 2
        ),
        "both coders' sex codes committed",
    )
    for term in (tmux, tmux2):
        term.wait_for("✓ saved")
    # each sees their own codes only (the server's rule, read by the codes command as each role)
    assert {r["coder"] for r in _codes_csv(chartcode_exe, team.url("intern"))} == {intern}
    assert {r["coder"] for r in _codes_csv(chartcode_exe, team.url("supervisor"))} == {sup}
    tmux.type("d")
    tmux.wait_for(f"{intern} · 1/3 done")
    # one submitted is not enough: the supervisor still sees only their own
    assert {r["coder"] for r in _codes_csv(chartcode_exe, team.url("supervisor"))} == {sup}
    tmux2.type("d")
    tmux2.wait_for(f"{sup} · 1/3 done")
    seen = {(r["coder"], r["field"]): r["value"] for r in _codes_csv(chartcode_exe, team.url("lead"))}
    assert seen[(intern, "sex")] == "1" and seen[(sup, "sex")] == "2"
    assert {r["coder"] for r in _codes_csv(chartcode_exe, team.url("intern"))} == {intern, sup}
    for term in (tmux, tmux2):
        term.press("C-q")
        assert term.wait_for_exit() == 0, term.output
    rows = _owner_rows(team)  # every key committed: the two codes, each submitted
    assert rows[(intern, "sex")][0] == 1 and rows[(intern, "sex")][1] is not None
    assert rows[(sup, "sex")][0] == 2 and rows[(sup, "sex")][1] is not None
    assert lead not in {c for c, _ in rows}


def test_the_same_rater_in_two_windows_of_a_file_is_refused_a_stale_change(
    tmp_path: Path, chartcode_exe: str, tmux: Tmux, tmux2: Tmux
):
    book = tmp_path / "mini-fidelity.yaml"
    book.write_text(scale_yaml(), encoding="utf-8")
    db = tmp_path / "fidelity.db"
    subprocess.run(
        [chartcode_exe, "init", str(db), "--codebook", str(book), "--coder", "alice"], check=True, capture_output=True
    )
    argv = [chartcode_exe, "rate", str(db), "--unit", "Team A", "--period", "2025-H1", "--rater", "alice"]
    tmux.start(argv, width=100, height=30)
    tmux.wait_for("rated 0/4")
    tmux2.start(argv, width=100, height=30)
    tmux2.wait_for("rated 0/4")  # both windows show Caseload size unrated
    tmux2.type("4")
    tmux2.wait_for("✓ saved")

    def stored() -> dict[str, object]:
        with Store.open(db) as s:
            return {c["field"]: c["value"] for c in s.codes(coder="alice", record_id=RECORD)}

    tmux.wait_until(lambda: stored() == {"caseload": 4}, "window 2's rating committed")
    tmux.type("2")  # window 1 still shows the item unrated

    def told(screen: str) -> bool:  # the header's mark and the message naming the rating held now
        return "⚠ changed elsewhere" in screen and "changed elsewhere: now 4" in " ".join(screen.split())

    screen = tmux.wait_for(told)
    assert stored() == {"caseload": 4}, screen  # not written over
    tmux.wait_for("[4]")  # the item now shows the rating the database holds
    tmux.type("k")  # the cursor moved on when the key was pressed; back to Caseload size
    tmux.type("2")  # rated again, against what is shown: saved
    tmux.wait_until(lambda: stored() == {"caseload": 2}, "window 1's second rating committed")
    for term in (tmux, tmux2):
        term.press("C-q")
        assert term.wait_for_exit() == 0, term.output
