"""A throwaway PostgreSQL 15 cluster for the team-server tests (session scope).

initdb and pg_ctl refuse to run as root, so when the tests run as root the cluster belongs to an
unprivileged OS user (``postgres``, from Debian's package) and runs under ``runuser``; the data
directory lives in a private temporary folder that user owns. The server listens on a unix socket
in that folder and on a free localhost port, trusts nobody (scram-sha-256 for every role, the
admin included), and is stopped and deleted after the session.

Skips on a machine without PostgreSQL (saying why) but FAILS on CI (CI=true), where .ci/run
installs it.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_NOTES

PG_BIN = Path(os.environ.get("CHARTCODE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster: its admin (superuser) and how to reach it."""

    host: str
    port: int
    admin: str
    admin_password: str
    data: Path
    run_as: list[str]

    def url(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        user = user or self.admin
        password = self.admin_password if password is None and user == self.admin else password
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
        )

    @property
    def log(self) -> Path:
        return self.data.parent / "log"

    def start(self) -> None:
        # -l: the server's output goes to the log, not to the pipe pg_ctl would otherwise leave open
        self.pg_ctl("start", "-l", str(self.log))

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast", "-l", str(self.log))


def _require_postgres() -> None:
    if not (PG_BIN / "initdb").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL 15 is required on CI ({PG_BIN}/initdb missing; .ci/run installs postgresql)")
        pytest.skip(f"PostgreSQL 15 is not installed here ({PG_BIN}/initdb missing; apt-get install postgresql)")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    _require_postgres()
    run_as: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="chartcode-pg-"))
    if os.geteuid() == 0:  # postgres refuses root: the cluster belongs to the unprivileged postgres user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            if os.environ.get("CI") == "true":
                pytest.fail("running as root and no 'postgres' OS user to own the test cluster")
            pytest.skip("running as root and no 'postgres' OS user to own the test cluster")
        os.chown(base, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    os.chmod(base, 0o700)
    data = base / "data"
    pwfile = base / "pw"
    admin_password = secrets.token_urlsafe(16)
    pwfile.write_text(admin_password + "\n")
    if run_as:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    port = _free_port()
    subprocess.run(
        [
            *run_as,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "admin",
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "-E",
            "UTF8",
            "--locale",
            "C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    pwfile.unlink()
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
            "fsync = off\nmax_connections = 100\nlog_min_messages = warning\n"
        )
    cluster = Cluster("127.0.0.1", port, "admin", admin_password, data, run_as)
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def admin_url(pg_cluster: Cluster) -> Iterator[str]:
    """The admin URL of a fresh, empty database of its own (dropped after the test) on the session cluster."""
    yield from _database(pg_cluster)


def _database(pg_cluster: Cluster) -> Iterator[str]:
    import psycopg

    name = f"t{secrets.token_hex(4)}"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_cluster.url(name)
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        # the persons' login roles (members of this audit's groups), then the audit's own roles
        people = conn.execute(
            "SELECT DISTINCT m.rolname FROM pg_auth_members am JOIN pg_roles g ON g.oid = am.roleid"
            " JOIN pg_roles m ON m.oid = am.member WHERE g.rolname LIKE %s AND m.rolname <> current_user",
            [f"{name}\\_%"],
        ).fetchall()
        own = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", [f"{name}\\_%"]).fetchall()
        for (role,) in [*people, *own]:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@dataclass
class Team:
    """An audit on the server with three people: intern (coder), supervisor and lead; their URLs."""

    admin: str
    urls: dict[str, str]
    password: str

    def url(self, who: str) -> str:
        return self.urls[who]


@pytest.fixture
def team(admin_url: str, pg_cluster: Cluster, tmp_path: Path) -> Team:
    """conjoint-pain on the server; R1-R3 imported by the lead and assigned to intern and supervisor."""
    return make_team(admin_url, pg_cluster, tmp_path)


@pytest.fixture(scope="module")
def shared_team(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """One team audit for a module's tests that change nothing (refusals)."""
    for url in _database(pg_cluster):
        yield make_team(url, pg_cluster, tmp_path_factory.mktemp("team"))


def make_team(admin_url: str, pg_cluster: Cluster, tmp_path: Path) -> Team:
    from chartcode.audit import load_audit
    from chartcode.store.pg import admin
    from chartcode.store.pg.store import PgStore

    audit = load_audit("conjoint-pain")
    admin.init_server(admin_url, audit.codebook, audit=audit.as_dict(), audit_source=audit.source)
    password = secrets.token_urlsafe(12)
    db = admin_url.rsplit("/", 1)[1]
    urls = {}
    for who, role in (("intern", "coder"), ("supervisor", "supervisor"), ("lead", "lead"), ("intern2", "coder")):
        name = f"{db}{who}"  # login roles are cluster-wide: one set per test database
        admin.add_coder(admin_url, name, role, password)
        urls[who] = pg_cluster.url(db, name, password)
    csv = tmp_path / "notes.csv"
    csv.write_text(SAMPLE_NOTES)
    from chartcode.importers.notes import import_notes

    with PgStore.open(urls["lead"]) as lead:
        import_notes(lead, csv)
        for who in ("intern", "supervisor"):
            lead.assign(lead_name(urls[who]), ["R1", "R2", "R3"])
    return Team(admin_url, urls, password)


def lead_name(url: str) -> str:
    """The role name in a URL."""
    return url.split("//", 1)[1].split(":", 1)[0]
