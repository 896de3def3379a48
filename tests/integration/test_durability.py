"""Nothing acknowledged is ever lost: a killed coder, two coders at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from chartcode import resources
from chartcode.codebook import load_codebook
from chartcode.store import Store

N_RECORDS = 400


@pytest.fixture
def db(tmp_path):
    cb = load_codebook(resources.resolve("codebooks", "conjoint-pain"))
    path = tmp_path / "audit.db"
    with Store.create(path, cb, coders=[("intern", "coder"), ("supervisor", "supervisor")]) as s:
        ids = [f"R{i:04d}" for i in range(N_RECORDS)]
        s.add_records(ids)
        s.assign("intern", ids)
        s.assign("supervisor", ids)
    return path


CODER = textwrap.dedent("""
    import sys
    from chartcode.store import Store
    path, coder, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store.open(path)
    for i in range(n):
        rid = f"R{i % 400:04d}"
        age = 18 + (i % 90)
        field = "age" if i < 400 else "followup_sessions"
        store.set_code(coder, rid, field, age)
        print(f"ACK {rid} {field} {age}", flush=True)   # acknowledged only after the commit returned
    print("DONE", flush=True)
""")


def test_sigkill_in_the_middle_of_coding_loses_no_acknowledged_code(db, tmp_path):
    script = tmp_path / "coder.py"
    script.write_text(CODER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(db), "intern", "100000"], stdout=subprocess.PIPE, text=True
    )
    acked = []
    deadline = time.monotonic() + 60
    while len(acked) < 250 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ACK"):
            acked.append(line.split()[1:])
    os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
    proc.wait()
    # Whatever it printed after we stopped reading was acknowledged too.
    acked += [line.split()[1:] for line in proc.stdout.read().splitlines() if line.startswith("ACK")]
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 250
    with Store.open(db) as store:
        codes = {(c["record_id"], c["field"]): c["value"] for c in store.codes(coder="intern")}
        history = {(h["record_id"], h["field"], h["new_value"]) for h in store.history(coder="intern")}
        for rid, field, age in acked:
            assert codes[(rid, field)] == int(age)
            assert (rid, field, int(age)) in history
        assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_coders_at_once_lose_nothing_and_never_see_locked(db, tmp_path):
    script = tmp_path / "coder.py"
    script.write_text(CODER)
    n = 300
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(db), who, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("intern", "supervisor")
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err
        assert out.count("ACK") == n and out.rstrip().endswith("DONE")
    with Store.open(db) as store:
        for who in ("intern", "supervisor"):
            assert len(list(store.codes(coder=who))) == n
            assert len([h for h in store.history(coder=who) if h["action"] == "set"]) == n
