"""Moving audits: `chartcode migrate FILE URL` copies a whole file audit to a server and
`chartcode snapshot URL --out FILE` writes a server audit to a file, each checked (row counts,
codebook hash, history chain and replay on the receiving end) before it is kept."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import psycopg
import pytest

from chartcode.store import Store
from tests.server.conftest import Cluster


@pytest.fixture
def file_audit(cli, tmp_path: Path) -> Path:
    """The demo with the intern's 24 records coded, the supervisor's codes on three (submitted, one
    disagreement), a consensus value, a memo and a flag."""
    assert cli("demo", "--dir", tmp_path / "demo", "--no-tui", "--complete").code == 0
    db = tmp_path / "demo" / "demo.db"
    with Store.open(db) as s:
        s.add_coder("qi-lead", "lead")  # sees every value in the file, as the administrator does on the server
        rids = s.record_ids()[:3]
        s.assign("supervisor", rids)
        for rid in rids:
            for c in list(s.visible_codes("intern", coder="intern", record_id=rid)):
                s.set_code("supervisor", rid, c["field"], c["value"], note_id=c["note_id"])
        s.set_code("supervisor", rids[0], "sex", 9)
        s.set_memo("supervisor", rids[0], "sex", "not stated in the chart")
        s.flag("supervisor", rids[1], "check the dates")
        for rid in rids:
            s.submit("supervisor", rid)
        s.set_consensus(rids[0], "sex", 9, reason="chart silent", decided_by="supervisor")
    return db


def _lines(cli, *args) -> list[str]:
    r = cli(*args)
    assert r.code == 0, (args, r.err)
    return r.out.splitlines()


def test_migrate_then_snapshot_keep_every_row_and_a_verified_history(
    cli, file_audit: Path, admin_url: str, pg_cluster: Cluster, tmp_path: Path
):
    r = cli("migrate", file_audit, admin_url)
    assert r.code == 0, r.err
    assert "history checked" in r.out and pg_cluster.admin_password not in r.out + r.err
    assert cli("verify", admin_url).code == 0
    # the same final values, long export and disagreements on both ends
    assert _lines(cli, "final", file_audit) == _lines(cli, "final", admin_url)
    out_f, out_s = tmp_path / "f.csv", tmp_path / "s.csv"
    assert cli("export", file_audit, "--long", "--format", "csv", "--out", out_f, "--as", "qi-lead").code == 0
    assert cli("export", admin_url, "--long", "--format", "csv", "--out", out_s).code == 0
    assert out_f.read_text() == out_s.read_text()
    with psycopg.connect(admin_url) as conn:
        flag = conn.execute("SELECT flag_comment FROM chartcode.assignments WHERE flagged").fetchall()
        memo = conn.execute("SELECT memo FROM chartcode.codes WHERE memo IS NOT NULL").fetchall()
        hashes = conn.execute("SELECT hash FROM chartcode.codebooks WHERE active").fetchone()
    with Store.open(file_audit) as s:
        assert hashes == (s.codebook.hash,)
        memos = sorted(c["memo"] for c in s.codes() if c["memo"])
    assert flag == [("check the dates",)] and sorted(m for (m,) in memo) == memos
    assert "not stated in the chart" in memos
    # a server audit that is not empty is never overwritten
    again = cli("migrate", file_audit, admin_url)
    assert again.code == 2 and "already holds a chartcode audit" in again.err
    # the file's coders log in with the same names, and see their own codes
    db = admin_url.rsplit("/", 1)[1]
    pw = tmp_path / "pw"
    pw.write_text("correct-horse-battery\n")
    assert cli("coders", "add", admin_url, "intern", "--role", "coder", "--password-file", pw).code == 0
    try:
        mine = cli("codes", pg_cluster.url(db, "intern", "correct-horse-battery"), "--format", "json")
        assert mine.code == 0, mine.err
        with Store.open(file_audit) as s:
            own = len([c for c in s.codes(coder="intern")])
        assert len([c for c in mine.json if c["coder"] == "intern"]) == own > 0
        # and back to a file
        snap = tmp_path / "snap.db"
        r = cli("snapshot", admin_url, "--out", snap)
        assert r.code == 0, r.err
        assert stat.S_IMODE(snap.stat().st_mode) == 0o600
        assert cli("verify", snap).code == 0
        assert _lines(cli, "final", snap) == _lines(cli, "final", file_audit)
        assert (
            cli("export", snap, "--long", "--format", "csv", "--out", tmp_path / "b.csv", "--as", "qi-lead").code == 0
        )
        assert (tmp_path / "b.csv").read_text() == out_f.read_text()
        with Store.open(snap) as a, Store.open(file_audit) as b:  # the full-text index came along
            assert [n["note_id"] for n in a.search_notes("pain")] == [n["note_id"] for n in b.search_notes("pain")]
            assert a.search_notes("pain")
        refused = cli("snapshot", admin_url, "--out", snap)
        assert refused.code == 2 and "already exists" in refused.err
        coder = cli("snapshot", pg_cluster.url(db, "intern", "correct-horse-battery"), "--out", tmp_path / "c.db")
        assert coder.code == 2 and "only a lead or administrator" in coder.err
        assert not (tmp_path / "c.db").exists()
    finally:
        with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute('DROP ROLE IF EXISTS "intern"')


def test_a_file_whose_history_does_not_check_out_is_not_migrated(cli, file_audit: Path, admin_url: str):
    conn = sqlite3.connect(file_audit)
    conn.execute("DROP TRIGGER history_is_append_only_update")
    conn.execute("UPDATE history SET reason = 'rewritten' WHERE id = 5")
    conn.commit()
    conn.close()
    r = cli("migrate", file_audit, admin_url)
    assert r.code == 2 and "does not check out" in r.err and "Traceback" not in r.err
    with psycopg.connect(admin_url) as pg:
        assert pg.execute("SELECT to_regnamespace('chartcode')").fetchone() == (None,)


def test_bad_targets_are_one_clear_line(cli, file_audit: Path, tmp_path: Path):
    r = cli("migrate", file_audit, tmp_path / "x.db")
    assert r.code == 2 and "not a PostgreSQL URL" in r.err
    r = cli("migrate", tmp_path / "missing.db", "postgresql://a@127.0.0.1:1/x")
    assert r.code == 2 and "no such audit file" in r.err
    r = cli("snapshot", "postgresql://a:b@127.0.0.1:1/x", "--out", tmp_path / "y.db")
    assert r.code == 2 and "cannot reach the server" in r.err and ":b@" not in r.err


def test_fidelity_scores_are_the_same_on_a_migrated_rating_audit(cli, admin_url: str, tmp_path: Path):
    assert cli("demo", "--audit", "ibbis-fidelity", "--dir", tmp_path, "--no-tui").code == 0
    db = tmp_path / "ibbis-demo.db"
    assert cli("migrate", db, admin_url).code == 0
    for args in (("fidelity",), ("fidelity", "--json"), ("agreement",), ("final",)):
        f, s = cli(args[0], db, *args[1:]), cli(args[0], admin_url, *args[1:])
        assert f.code == 0 and s.code == 0, (args, s.err)
        assert f.out.replace(str(db), "AUDIT") == s.out.replace(admin_url.split("@")[0] + "@", "").replace(
            admin_url.split("@")[1], "AUDIT"
        ), args
        assert f.out.strip()
