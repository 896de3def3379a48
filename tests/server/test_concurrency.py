"""Concurrency on the team server: a stale change is refused with the current value, and ten coders
coding at once (each their own login, one thread each) lose nothing."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from chartcode.store.pg import PgStore, StaleChange
from chartcode.store.pg import admin as pgadmin
from tests.server.conftest import Cluster, Team, lead_name


def test_a_change_made_against_an_old_version_is_refused_with_the_current_value(team: Team):
    me = lead_name(team.url("intern"))
    with PgStore.open(team.url("intern")) as window1, PgStore.open(team.url("intern")) as window2:
        window1.set_code(me, "R1", "sex", 1)
        seen = window1.code_version(me, "R1", "sex")
        window2.set_code(me, "R1", "sex", 2, expected_version=window2.code_version(me, "R1", "sex"))
        with pytest.raises(StaleChange) as stale:
            window1.set_code(me, "R1", "sex", 9, expected_version=seen)
        assert stale.value.current == 2 and "now 2" in str(stale.value)
        assert [c["value"] for c in window1.codes(coder=me, record_id="R1")] == [2]
        # a first code raced by another window is stale too (both saw version 0)
        with pytest.raises(StaleChange):
            window2.set_code(me, "R2", "sex", 1, expected_version=0)
            window1.set_code(me, "R2", "sex", 2, expected_version=0)


@pytest.mark.slow
def test_ten_coders_at_once_lose_no_write(admin_url: str, pg_cluster: Cluster):
    from chartcode.audit import load_audit

    audit = load_audit("conjoint-pain")
    pgadmin.init_server(admin_url, audit.codebook, audit=audit.as_dict(), audit_source=audit.source)
    db = admin_url.rsplit("/", 1)[1]
    names = [f"{db}c{i}" for i in range(10)]
    for name in names:
        pgadmin.add_coder(admin_url, name, "coder", "pw-" + name)
    pgadmin.add_coder(admin_url, f"{db}lead", "lead", "pw-lead")
    records = [f"R{i:04d}" for i in range(1000)]
    with PgStore.open(pg_cluster.url(db, f"{db}lead", "pw-lead")) as lead:
        lead.add_records(records)
    errors: list[BaseException] = []
    start = threading.Barrier(len(names))
    latencies: list[float] = []

    def code_all(name: str, n: int) -> None:
        try:
            with PgStore.open(pg_cluster.url(db, name, "pw-" + name)) as store:
                start.wait()
                for k, rid in enumerate(records):
                    t = time.perf_counter()
                    store.set_code(name, rid, "sex", (1, 2, 9)[(k + n) % 3])
                    latencies.append(time.perf_counter() - t)
        except BaseException as exc:  # collected, the test fails on it below
            errors.append(exc)

    threads = [threading.Thread(target=code_all, args=(name, n)) for n, name in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(admin_url) as conn:
        got = dict(
            ((c, r), v) for c, r, v in conn.execute("SELECT coder, record_id, value FROM chartcode.codes").fetchall()
        )
        n_history = conn.execute("SELECT count(*) FROM chartcode.history WHERE action = 'set'").fetchone()[0]
    want = {(name, rid): (1, 2, 9)[(k + n) % 3] for n, name in enumerate(names) for k, rid in enumerate(records)}
    assert got == want  # 10,000 writes, none lost
    assert n_history == 10_000
    latencies.sort()
    print(f"10 coders x 1000 records: p50 {latencies[5000] * 1000:.1f} ms, p99 {latencies[9900] * 1000:.1f} ms")
