"""The command line on a team server: `server init`, `coders add/remove`, and the everyday commands
taking a postgresql:// URL where they take DB, acting as the login (never as a flag)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import psycopg

from chartcode.store import open_store
from tests.conftest import SAMPLE_NOTES
from tests.server.conftest import Cluster, Team, lead_name
from tests.whole_records import completed_csv


def test_server_init_then_coders_add_and_remove(cli, admin_url, pg_cluster: Cluster, tmp_path):
    r = cli("server", "init", admin_url, "--audit", "conjoint-pain")
    assert r.code == 0, r.err
    assert "_coder" in r.out and admin_url.split(":")[2].split("@")[0] not in r.out  # no password printed
    again = cli("server", "init", admin_url, "--audit", "conjoint-pain")
    assert again.code == 2 and "already holds a chartcode audit" in again.err
    db = admin_url.rsplit("/", 1)[1]
    pw = tmp_path / "pw"
    pw.write_text("correct-horse-battery\n")
    name = f"{db}ann"
    assert cli("coders", "add", admin_url, name, "--role", "coder", "--password-file", pw).code == 0
    ann = pg_cluster.url(db, name, "correct-horse-battery")
    with psycopg.connect(ann) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (name,)
    r = cli("coders", "list", ann)
    assert r.code == 0 and name in r.out
    assert cli("coders", "remove", admin_url, name).code == 0
    refused = cli("codes", ann)
    assert refused.code == 2 and "may not log in to this audit" in refused.err
    # the removal is in the history, kept with everything before it
    with psycopg.connect(admin_url) as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM chartcode.history WHERE coder = %s", [name])]
    assert actions == ["add_coder", "remove_coder"]


def test_everyday_commands_take_a_url_and_act_as_the_login(cli, team: Team, tmp_path):
    intern = lead_name(team.url("intern"))
    sup = lead_name(team.url("supervisor"))
    codes_csv = tmp_path / "intern.csv"
    with open_store(team.url("lead")) as store:  # whole records: only a whole record is submitted
        codes_csv.write_text(completed_csv(store, "record_id,note_id,field,value\nR1,,sex,1\nR1,,mh_diagnosis,0\n"))
        sup_text = completed_csv(store, "record_id,note_id,field,value\nR1,,sex,2\nR1,,mh_diagnosis,0\n")
    n_codes = len(codes_csv.read_text().splitlines()) - 1
    r = cli("import-codes", team.url("intern"), codes_csv, "--coder", intern)
    assert r.code == 0, r.err
    mine = cli("codes", team.url("intern"), "--format", "json")
    assert {(c["field"], c["value"]) for c in mine.json} >= {("sex", 1), ("mh_diagnosis", 0)}
    assert len(mine.json) == n_codes
    theirs = cli("codes", team.url("supervisor"), "--format", "json")
    assert theirs.json == [] and f"{n_codes} codes hidden" in theirs.err
    hist = cli("history", team.url("supervisor"), "--coder", intern, "--json")
    assert {h["new_value"] for h in hist.json if h["field"]} == {"(blind)"}
    # naming someone else is refused, whichever flag names them
    for args in (
        ("codes", team.url("supervisor"), "--as", intern),
        ("history", team.url("supervisor"), "--as", "somebody"),
        ("import-codes", team.url("supervisor"), codes_csv, "--coder", intern),
    ):
        r = cli(*args)
        assert r.code == 2 and "on a server you act as the role you log in as" in r.err, args
    lead = cli("codes", team.url("lead"), "--format", "json")
    assert {c["coder"] for c in lead.json} == {intern}
    sup_csv = tmp_path / "sup.csv"
    sup_csv.write_text(sup_text)
    assert cli("import-codes", team.url("supervisor"), sup_csv, "--coder", sup).code == 0
    # R1 is not closed: the intern's R2 and R3 assignments do not matter, R1's two coders have submitted
    both = cli("codes", team.url("supervisor"), "--record", "R1", "--format", "json")
    assert {(c["coder"], c["field"], c["value"]) for c in both.json} >= {(intern, "sex", 1), (sup, "sex", 2)}


def test_import_on_the_server_is_a_leads_job_and_idempotent(cli, team: Team, tmp_path):
    notes = tmp_path / "more.csv"
    notes.write_text(SAMPLE_NOTES + 'R9,R9-N1,2024-03-01,conjoint,Dr C,"New record."\n')
    r = cli("import", team.url("intern"), notes)
    assert r.code == 2 and "needs a lead" in r.err
    r = cli("import", team.url("lead"), notes)
    assert r.code == 0, r.err
    again = cli("import", team.url("lead"), notes)
    assert again.code == 0
    status = cli("status", team.url("lead"), "--json")
    assert status.code == 0, status.err
    assert json.loads(status.out)["records"] == 4


# the commands a coder starts with (the coding screen, the progress), and one analysis
STARTUP_COMMANDS = (("code",), ("status",), ("agreement",))


class Run:
    def __init__(self, code: int, err: str):
        self.code = code
        self.err = err


def in_a_terminal(*args: Any) -> Run:
    """`chartcode ARGS` in its own process with a terminal (a pty) as stdin and stdout, as a coder runs
    the coding screen (without one it refuses before connecting); stderr captured. A screen that
    opened instead of refusing would wait for keys: the timeout fails the test."""
    master, slave = os.openpty()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "chartcode", *map(str, args)],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={**os.environ, "TERM": "xterm-256color"},
        )
    finally:
        os.close(slave)
        os.close(master)
    return Run(r.returncode, r.stderr)


def run_startup(cli: Any, command: tuple[str, ...], url: str) -> Any:
    return in_a_terminal(*command, url) if command == ("code",) else cli(*command, url)


def server_state(admin_url: str) -> tuple[Any, ...]:
    """What a refused start-up must leave as it was: the history's head, the codes, the positions."""
    with psycopg.connect(admin_url) as conn:
        row = conn.execute(
            "SELECT (SELECT last_id FROM chartcode.chain_head), (SELECT count(*) FROM chartcode.codes),"
            " (SELECT count(*) FROM chartcode.positions)"
        ).fetchone()
    return tuple(row or ())


def databases(pg_cluster: Cluster) -> set[str]:
    with psycopg.connect(pg_cluster.url("postgres")) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


def assert_one_clear_line(r: Any, expected: str, *secrets: str) -> None:
    assert r.code == 2 and expected in r.err, (expected, r.err)
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, r.err
    for secret in secrets:
        assert secret not in r.err


def test_start_up_faults_are_one_clear_line_and_change_nothing(cli, team: Team, pg_cluster: Cluster, admin_url):
    db = admin_url.rsplit("/", 1)[1]
    intern = lead_name(team.url("intern"))
    cases = {
        "cannot reach the server": f"postgresql://{intern}:{team.password}@127.0.0.1:1/{db}",
        "wrong or missing password": pg_cluster.url(db, intern, "not-the-password"),
        "or no such role on the server": pg_cluster.url(db, "nosuchrole", "not-the-password"),
        "no such database": pg_cluster.url("nosuchdb"),
    }
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "emptyaudit"')
    try:
        cases["no chartcode audit in this database"] = pg_cluster.url("emptyaudit")
        state, dbs = server_state(admin_url), databases(pg_cluster)
        for expected, url in cases.items():
            for command in STARTUP_COMMANDS:
                r = run_startup(cli, command, url)
                assert_one_clear_line(r, expected, "not-the-password", team.password, pg_cluster.admin_password)
        assert server_state(admin_url) == state and databases(pg_cluster) == dbs  # nothing made, nothing written
        with psycopg.connect(pg_cluster.url("emptyaudit")) as conn:
            assert conn.execute("SELECT to_regnamespace('chartcode')").fetchone() == (None,)
    finally:
        with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
            conn.execute('DROP DATABASE "emptyaudit"')


def test_an_audit_newer_than_this_chartcode_is_refused_at_start_up(cli, team: Team, admin_url):
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("UPDATE chartcode.meta SET value = '99' WHERE key = 'schema_version'")
    state = server_state(admin_url)
    for command in STARTUP_COMMANDS:
        for who in ("intern", "lead"):
            r = run_startup(cli, command, team.url(who))
            assert_one_clear_line(r, "newer than this chartcode knows", team.password)
            assert "upgrade chartcode" in r.err
    assert server_state(admin_url) == state


def test_assign_disagreements_and_the_coding_screen_open_on_the_server(cli, team: Team, tmp_path):
    intern2 = lead_name(team.url("intern2"))
    r = cli("assign", team.url("lead"), "--coder", intern2, "--all")
    assert r.code == 0, r.err
    with psycopg.connect(team.url("intern2")) as conn:
        assert (
            conn.execute("SELECT count(*) FROM chartcode.visible_assignments WHERE coder = current_user").fetchone()[0]
            == 3
        )
    assert cli("records", "add", team.url("lead"), "R9").code == 0
    refused = cli("assign", team.url("intern"), "--coder", intern2, "--all")  # a coder assigns nobody
    assert refused.code == 2 and "assigned by a supervisor or lead" in refused.err
    r = cli("disagreements", team.url("supervisor"))
    assert r.code == 0, r.err
    from chartcode.tui.app import make_app

    app = make_app(team.url("intern"), None)
    try:
        assert app.store.actor == lead_name(team.url("intern"))
    finally:
        app.store.close()


def test_a_store_method_the_server_lacks_says_so_in_one_line(team: Team):
    import pytest

    from chartcode.errors import UserError
    from chartcode.store.pg import PgStore

    with PgStore.open(team.url("lead")) as store, pytest.raises(UserError) as err:
        store.add_coder("someone")  # a file's coders list; on a server `coders add` makes a login role
    assert "not available on a team server" in str(err.value) and "\n" not in str(err.value)


def test_demo_on_a_server_is_the_file_demo_moved_there(cli, admin_url, tmp_path):
    r = cli("demo", "--server", admin_url, "--dir", tmp_path, "--complete")
    assert r.code == 0, r.err
    assert "coders add" in r.out and "--role supervisor" in r.out and admin_url.split(":")[2] not in r.out
    status = cli("status", admin_url, "--json")
    assert status.code == 0 and json.loads(status.out)["records"] == 24
    assert cli("verify", admin_url).code == 0
    assert cli("final", tmp_path / "demo.db").out == cli("final", admin_url).out
    bad = cli("demo", "--server", tmp_path / "x.db", "--dir", tmp_path / "other")
    assert bad.code == 2 and "not a PostgreSQL URL" in bad.err and not (tmp_path / "other").exists()
