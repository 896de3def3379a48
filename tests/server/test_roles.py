"""Blinding and the append-only history enforced by PostgreSQL: each person connects with plain psycopg
(not through chartcode) and sees or changes only what the policies allow."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.server.conftest import Team, lead_name


def connect(team: Team, who: str) -> psycopg.Connection:
    return psycopg.connect(team.url(who), autocommit=True)


def code(conn: psycopg.Connection, record: str, field: str, value) -> None:
    conn.execute("SELECT * FROM chartcode.set_code(%s, '', %s, %s)", [record, field, Jsonb(value)])


def seen_values(conn: psycopg.Connection, record: str) -> set[tuple[str, object]]:
    return set(conn.execute("SELECT coder, value FROM chartcode.visible_codes WHERE record_id = %s", [record]))


def history_values(conn: psycopg.Connection, coder: str) -> list[tuple]:
    return conn.execute(
        "SELECT action, old_value, new_value FROM chartcode.visible_history WHERE coder = %s AND field IS NOT NULL",
        [coder],
    ).fetchall()


def test_another_coders_values_stay_hidden_until_every_assigned_coder_has_submitted(team: Team):
    intern, sup = lead_name(team.url("intern")), lead_name(team.url("supervisor"))
    with connect(team, "intern") as i, connect(team, "supervisor") as s, connect(team, "lead") as lead:
        code(i, "R1", "sex", 1)
        i.execute("SELECT chartcode.set_memo('R1', '', 'sex', 'header says male')")
        code(s, "R1", "sex", 2)
        # before anyone submits: each sees their own only; the lead sees both
        assert seen_values(s, "R1") == {(sup, 2)}
        assert seen_values(i, "R1") == {(intern, 1)}
        assert seen_values(lead, "R1") == {(intern, 1), (sup, 2)}
        assert s.execute("SELECT memo FROM chartcode.visible_codes WHERE coder = %s", [intern]).fetchall() == []
        assert {v for _, *vals in history_values(s, intern) for v in vals} == {"(blind)"}
        assert s.execute("SELECT chartcode.hidden_count()").fetchone() == (1,)  # the intern's code
        # the intern submits; the supervisor (assigned, not submitted) still sees nothing of theirs
        i.execute("SELECT chartcode.submit('R1')")
        assert seen_values(s, "R1") == {(sup, 2)}
        # a third coder, not assigned to R1, sees nothing either, before or after
        with connect(team, "intern2") as other:
            assert seen_values(other, "R1") == set()
            s.execute("SELECT chartcode.submit('R1')")
            assert seen_values(other, "R1") == set()
            assert {v for _, *vals in history_values(other, intern) for v in vals} == {"(blind)"}
        # both assigned coders have submitted: each sees the other's value, memo and history
        assert seen_values(s, "R1") == {(intern, 1), (sup, 2)}
        assert s.execute("SELECT memo FROM chartcode.visible_codes WHERE coder = %s", [intern]).fetchone() == (
            "header says male",
        )
        assert ("set", None, 1) in history_values(s, intern)


def test_a_falsy_value_is_blinded_too(team: Team):
    intern = lead_name(team.url("intern"))
    with connect(team, "intern") as i, connect(team, "supervisor") as s:
        code(i, "R2", "mh_diagnosis", 0)
        assert history_values(s, intern) == [("set", "(blind)", "(blind)")]


def test_flag_comments_are_the_coders_own(team: Team):
    with connect(team, "intern") as i, connect(team, "supervisor") as s, connect(team, "lead") as lead:
        i.execute("SELECT chartcode.flag('R3', 'patient name in note header', true)")
        q = "SELECT flagged, flag_comment FROM chartcode.visible_assignments WHERE record_id = 'R3' AND coder = %s"
        intern = lead_name(team.url("intern"))
        assert s.execute(q, [intern]).fetchone() == (False, None)
        assert lead.execute(q, [intern]).fetchone() == (True, "patient name in note header")
        assert s.execute("SELECT new_value FROM chartcode.visible_history WHERE action = 'flag'").fetchall() == [
            ("(blind)",)
        ]


@pytest.mark.parametrize("who", ["intern", "supervisor", "lead"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE chartcode.history SET new_value = '2'",
        "DELETE FROM chartcode.history",
        "TRUNCATE chartcode.history",
        "DROP TABLE chartcode.history",
        "ALTER TABLE chartcode.history DISABLE TRIGGER ALL",
        "UPDATE chartcode.codes SET value = '2'",
        "DELETE FROM chartcode.codes",
        "TRUNCATE chartcode.codes",
        "DROP TABLE chartcode.codes CASCADE",
        "ALTER TABLE chartcode.codes ADD COLUMN x int",
        "SELECT value FROM chartcode.codes",
        "SELECT old_value FROM chartcode.history",
        "INSERT INTO chartcode.history(id, at, actor, action, hash)"
        " VALUES (999, 'x', 'someone', 'set', repeat('0', 64))",
        "INSERT INTO chartcode.codes(coder, record_id, field, value, codebook_hash, updated_at)"
        " SELECT name, 'R1', 'sex', '1', (SELECT hash FROM chartcode.codebooks), 'x' FROM chartcode.coders LIMIT 1",
        "UPDATE chartcode.assignments SET submitted_at = 'x'",
        "UPDATE chartcode.consensus SET value = '1'",
        "UPDATE chartcode.chain_head SET last_id = 0",
        "SELECT chartcode.append_history('set', 'someone', 'R1', '', 'sex', NULL, '1', 'forged')",
        "CREATE TABLE chartcode.mine (x int)",
        "CREATE OR REPLACE FUNCTION chartcode.is_lead(viewer name) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
        "DROP VIEW chartcode.visible_codes",
    ],
)
def test_people_cannot_rewrite_or_forge_the_audit(shared_team: Team, who: str, statement: str):
    team = shared_team
    with connect(team, "lead") as lead:
        before = lead.execute("SELECT last_id, hash FROM chartcode.chain_head").fetchone()
    with connect(team, who) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
    with connect(team, "lead") as lead:
        assert lead.execute("SELECT last_id, hash FROM chartcode.chain_head").fetchone() == before


def test_actor_and_time_come_from_the_server_not_the_caller(team: Team):
    intern = lead_name(team.url("intern"))
    with connect(team, "intern") as i:
        # there is no parameter to name another actor or time: the function stamps session_user and now()
        code(i, "R1", "sex", 9)
        row = i.execute(
            "SELECT actor, coder, at, now() - (at::timestamptz) < interval '1 minute'"
            " FROM chartcode.visible_history ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row[0] == intern and row[1] == intern and row[2].endswith("Z") and row[3]


def test_only_supervisors_and_leads_decide_consensus(team: Team):
    with connect(team, "intern") as i, pytest.raises(psycopg.errors.InsufficientPrivilege):
        i.execute("SELECT * FROM chartcode.set_consensus('R1', '', 'sex', '1', 'agreed')")
    with connect(team, "supervisor") as s:
        assert s.execute("SELECT changed FROM chartcode.set_consensus('R1', '', 'sex', '1', 'agreed')").fetchone() == (
            True,
        )


def test_a_coder_cannot_assign_themselves_to_a_record_others_code(team: Team):
    intern2 = lead_name(team.url("intern2"))
    with connect(team, "intern2") as other, pytest.raises(psycopg.errors.InsufficientPrivilege):
        other.execute("SELECT chartcode.assign(%s, ARRAY['R1'], 'manual')", [intern2])
    with connect(team, "intern2") as other, pytest.raises(psycopg.errors.InsufficientPrivilege):
        other.execute("SELECT chartcode.submit('R1')")  # submitting would assign them


def test_the_history_chain_verifies_in_sql(team: Team):
    from chartcode.store.pg.schema import VERIFY_SQL

    with connect(team, "intern") as i:
        code(i, "R1", "sex", 1)
        code(i, "R1", "sex", 2)
        i.execute("SELECT chartcode.submit('R1')")
    with psycopg.connect(team.admin) as admin:
        rows = admin.execute(VERIFY_SQL).fetchall()
        assert len(rows) > 5 and all(ok and in_order for _, ok, in_order, _ in rows)
        head = admin.execute("SELECT last_id, hash FROM chartcode.chain_head").fetchone()
        assert head == (rows[-1][0], rows[-1][3])
        # an administrator who goes round the triggers is caught by the chain
        admin.execute("ALTER TABLE chartcode.history DISABLE TRIGGER history_is_append_only")
        admin.execute("UPDATE chartcode.history SET new_value = '9' WHERE action = 'change'")
        bad = [hid for hid, ok, _, _ in admin.execute(VERIFY_SQL).fetchall() if not ok]
        assert len(bad) == 1
        admin.rollback()
