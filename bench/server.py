"""Benchmark: the team server (PostgreSQL over loopback) next to the file and to bare psycopg.

    python bench/server.py [--coders 10] [--changes 100] [--notes 20000] [--runs 3] [--pause-ms 100,400]

Starts a throwaway PostgreSQL 15 cluster (as tests/server/conftest.py does: as the OS user
postgres when run as root; fsync left ON here, as a real server runs) and prints one JSON line:

  key_to_commit_ms   per pass and backend, p50, p99 and max (min and median over the runs) of one
                     coding change, from the call to the committed return, with ``coders`` coders
                     coding at once, each a process of its own with its own login and connection
                     (``changes`` changes each). Two passes:
                       typing    each coder pauses --pause-ms between keys (default 100-400 ms,
                                 uniform: a fast coder keying codes; the issue's "coders typing")
                       flat_out  no pause at all: ten writers back to back (a stress figure; the
                                 history's hash chain makes every change wait for the one before)
                     backends:
                       server  PgStore.set_code (a SECURITY DEFINER function: checks, code, history)
                       server_keyed  the same inside PgStore.request(key), as the coding screens'
                               writer sends it (the key recorded with the write, so a write sent
                               again after a lost COMMIT reply is not applied twice)
                       file    Store.set_code on an audit file (WAL, BEGIN IMMEDIATE)
                       bare    psycopg INSERT + COMMIT of one row into a plain table (the floor)
  import_s           chartcode's note import into the server (``import_notes`` as a lead) next to
                     two COPYs of the same rows: ``copy`` into a plain table with a primary key
                     (the issue's bare COPY), and ``copy_same_schema`` into a table defined as
                     chartcode.notes is (search vector, GIN, unique and by-record indexes, its two
                     foreign keys). Min and median seconds, and the ratios of the medians (goal <= 2).

The report-on-100k-records comparison (server against file) is bench/report.py --server.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pwd
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import psycopg  # noqa: E402

PG_BIN = Path(os.environ.get("CHARTCODE_PG_BIN", "/usr/lib/postgresql/15/bin"))


class Cluster:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="chartcode-bench-pg-"))
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.base, 0o700)
        self.data = self.base / "data"
        self.password = secrets.token_urlsafe(16)
        pwfile = self.base / "pw"
        pwfile.write_text(self.password + "\n")
        if self.run_as:
            os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        subprocess.run(
            [*self.run_as, str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "admin", "--pwfile", str(pwfile)]
            + ["--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8"],
            check=True,
            capture_output=True,
        )
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.base}'\n"
                "max_connections = 100\n"
            )
        self.ctl("start", "-l", str(self.base / "log"))

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
        )

    def url(self, db: str, user: str = "admin", password: str | None = None) -> str:
        return f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        try:
            self.ctl("stop", "-m", "fast")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _concurrent(n: int, work: Callable[[int], list[float]]) -> list[float]:
    """``work(i)`` for each of ``n`` coders at once, each in a process of its own (as ten coders'
    own chartcode processes are: no shared interpreter lock), started together."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    results = ctx.Queue()
    go = ctx.Event()

    def run(i: int) -> None:
        go.wait()
        try:
            results.put((i, work(i), None))
        except BaseException as exc:  # a failed coder must fail the benchmark, not vanish
            results.put((i, [], repr(exc)))

    procs = [ctx.Process(target=run, args=(i,)) for i in range(n)]
    for p in procs:
        p.start()
    go.set()
    out = [results.get() for _ in procs]
    for p in procs:
        p.join()
    errors = [e for _, _, e in out if e]
    if errors:
        raise RuntimeError(errors[0])
    return [x for _, xs, _ in sorted(out, key=lambda o: o[0]) for x in xs]


def _pause(pause_ms: tuple[float, float], rng: random.Random) -> None:
    """A coder's pause between two keys: uniform in ``pause_ms`` (0, 0 = flat out)."""
    if pause_ms[1] > 0:
        time.sleep(rng.uniform(*pause_ms) / 1000)


def _notes_csv(path: Path, n: int, records: int) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "note_date", "note_type", "author", "text"])
        for i in range(n):
            w.writerow(
                [
                    f"R{i % records:06d}",
                    f"N{i:07d}",
                    "2024-01-05",
                    "conjoint",
                    "Dr A",
                    f"Veteran assessed; functional impact on sleep, visit {i}. Taught relaxation and pacing.",
                ]
            )


def server_audit(cluster: Cluster, db: str, coders: int, notes: Path | None) -> dict[str, str]:
    from chartcode.audit import load_audit
    from chartcode.importers.notes import import_notes
    from chartcode.store.pg import admin
    from chartcode.store.pg.store import PgStore

    audit = load_audit("conjoint-pain")
    admin.init_server(cluster.url(db), audit.codebook, audit=audit.as_dict(), audit_source=audit.source)
    urls = {}
    for who, role in [("lead", "lead"), *[(f"c{i}", "coder") for i in range(coders)]]:
        admin.add_coder(cluster.url(db), f"{db}{who}", role, "bench-password")
        urls[who] = cluster.url(db, f"{db}{who}", "bench-password")
    if notes is None:
        return urls
    with PgStore.open(urls["lead"]) as lead:
        import_notes(lead, notes)
        ids = lead.record_ids()
        for i in range(coders):
            lead.assign(f"{db}c{i}", ids[i::coders])
    return urls


def bench_latency(
    cluster: Cluster, coders: int, changes: int, run: int, tmp: Path, pause_ms: tuple[float, float]
) -> dict[str, list[float]]:
    from chartcode.audit import load_audit
    from chartcode.importers.notes import import_notes
    from chartcode.store import Store
    from chartcode.store.pg.store import PgStore

    notes = tmp / f"lat{run}.csv"
    _notes_csv(notes, coders * changes, coders * changes)
    db = f"lat{run}_{int(pause_ms[1])}"
    urls = server_audit(cluster, db, coders, notes)

    def server(i: int, keyed: bool = False) -> list[float]:
        import contextlib
        import uuid

        me = f"{db}c{i}"
        with PgStore.open(urls[f"c{i}"]) as s:
            mine = [a["record_id"] for a in s.assignments(me)]
            times = []
            rng = random.Random(i)
            for k in range(changes):
                _pause(pause_ms, rng)
                t = time.perf_counter()
                with s.request(uuid.uuid4().hex) if keyed else contextlib.nullcontext():
                    # keyed runs second: the other value, so that it too changes every code
                    s.set_code(me, mine[k % len(mine)], "sex", (2 - k % 2) if keyed else (1 + k % 2))
                times.append((time.perf_counter() - t) * 1000)
            return times

    audit = load_audit("conjoint-pain")
    path = tmp / f"{db}.db"
    with Store.create(
        path, audit.codebook, audit=audit.as_dict(), coders=[(f"c{i}", "coder") for i in range(coders)]
    ) as s:
        import_notes(s, notes)
        ids = s.record_ids()
        for i in range(coders):
            s.assign(f"c{i}", ids[i::coders])

    def file(i: int) -> list[float]:
        with Store.open(path) as s:
            mine = [a["record_id"] for a in s.assignments(f"c{i}")]
            times = []
            rng = random.Random(i)
            for k in range(changes):
                _pause(pause_ms, rng)
                t = time.perf_counter()
                s.set_code(f"c{i}", mine[k % len(mine)], "sex", 1 + k % 2)
                times.append((time.perf_counter() - t) * 1000)
            return times

    with psycopg.connect(cluster.url(db), autocommit=True) as conn:
        conn.execute("CREATE TABLE bare (id bigserial PRIMARY KEY, coder text, record_id text, value jsonb)")

    def bare(i: int) -> list[float]:
        with psycopg.connect(cluster.url(db)) as conn:
            times = []
            rng = random.Random(i)
            for k in range(changes):
                _pause(pause_ms, rng)
                t = time.perf_counter()
                conn.execute("INSERT INTO bare(coder, record_id, value) VALUES (%s, %s, %s)", [f"c{i}", f"R{k}", "1"])
                conn.commit()
                times.append((time.perf_counter() - t) * 1000)
            return times

    return {
        "server": _concurrent(coders, server),
        "server_keyed": _concurrent(coders, lambda i: server(i, keyed=True)),
        "file": _concurrent(coders, file),
        "bare": _concurrent(coders, bare),
    }


def bench_import(cluster: Cluster, n: int, run: int, tmp: Path) -> dict[str, float]:
    from chartcode.importers.notes import import_notes
    from chartcode.store.pg.store import PgStore

    notes = tmp / f"imp{run}.csv"
    _notes_csv(notes, n, max(1, n // 4))
    db = f"imp{run}"
    urls = server_audit(cluster, db, 1, None)
    with PgStore.open(urls["lead"]) as lead:
        t = time.perf_counter()
        import_notes(lead, notes)
        ours = time.perf_counter() - t
    with psycopg.connect(cluster.url(db)) as conn:
        conn.execute(
            "CREATE TABLE bare_notes (id bigserial PRIMARY KEY, note_id text UNIQUE, record_id text,"
            " note_date text, note_type text, author text, text text)"
        )
        conn.commit()
        rows = list(csv.reader(notes.open()))[1:]
        t = time.perf_counter()
        with conn.cursor().copy(
            "COPY bare_notes (record_id, note_id, note_date, note_type, author, text) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row(r)
        conn.commit()
        bare = time.perf_counter() - t
        # the same rows COPY'd into a table defined as chartcode's notes table is, with everything a
        # stored note costs there: the generated search vector, its GIN index, the unique note id,
        # the by-record index and the two foreign keys (the record, and the import it came in with:
        # those of chartcode's import above). The floor for putting these notes into the schema.
        conn.execute(
            "CREATE TABLE schema_notes (LIKE chartcode.notes INCLUDING ALL,"
            " FOREIGN KEY (record_id) REFERENCES chartcode.records(id),"
            " FOREIGN KEY (import_id) REFERENCES chartcode.imports(id))"
        )
        import_id = conn.execute("SELECT max(id) FROM chartcode.imports").fetchone()[0]
        conn.commit()
        t = time.perf_counter()
        with conn.cursor().copy(
            "COPY schema_notes (record_id, note_id, note_date, note_type, author, text, content_sha, import_id,"
            " source_line) FROM STDIN"
        ) as copy:
            for line, r in enumerate(rows, start=2):
                copy.write_row([*r, secrets.token_hex(32), import_id, line])
        conn.commit()
        same_schema = time.perf_counter() - t
    return {"chartcode": ours, "copy": bare, "copy_same_schema": same_schema}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--coders", type=int, default=10)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--notes", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--pause-ms",
        default="100,400",
        help="each coder's pause between keys, uniform LO,HI ms (default 100,400: a fast coder)",
    )
    ap.add_argument("--skip-import", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    lo, hi = (float(x) for x in args.pause_ms.split(","))
    cluster = Cluster()
    tmp = Path(tempfile.mkdtemp(prefix="chartcode-bench-"))
    try:
        passes = {} if args.skip_latency else {"typing": (lo, hi), "flat_out": (0.0, 0.0)}
        lat: dict[str, dict[str, dict[str, list[float]]]] = {p: {} for p in passes}
        imp: dict[str, list[float]] = {"chartcode": [], "copy": [], "copy_same_schema": []}
        for run in range(args.runs):
            for name, pause in passes.items():
                for backend, times in bench_latency(cluster, args.coders, args.changes, run, tmp, pause).items():
                    d = lat[name].setdefault(backend, {"p50": [], "p99": [], "max": []})
                    d["p50"].append(_pct(times, 0.50))
                    d["p99"].append(_pct(times, 0.99))
                    d["max"].append(max(times))
            if not args.skip_import:
                for k, v in bench_import(cluster, args.notes, run, tmp).items():
                    imp[k].append(v)

        def mm(v: list[float], nd: int = 2) -> dict[str, float]:
            return {"min": round(min(v), nd), "median": round(statistics.median(v), nd)}

        out: dict[str, Any] = {
            "coders": args.coders,
            "changes_per_coder": args.changes,
            "pause_ms": [lo, hi],
            "notes": args.notes,
            "runs": args.runs,
            "load_1min": os.getloadavg()[0],
            "key_to_commit_ms": {
                p: {b: {q: mm(v) for q, v in d.items()} for b, d in per.items()} for p, per in lat.items()
            },
        }
        if not args.skip_import:
            out["import_s"] = {
                **{k: mm(v, 3) for k, v in imp.items()},
                "ratio_median": round(statistics.median(imp["chartcode"]) / statistics.median(imp["copy"]), 2),
                "ratio_median_same_schema": round(
                    statistics.median(imp["chartcode"]) / statistics.median(imp["copy_same_schema"]), 2
                ),
            }
        print(json.dumps(out))
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
