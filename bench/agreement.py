"""Benchmark: `chartcode agreement --bootstrap 1000` on 1,000,008 stored ratings, through the CLI.

    python bench/agreement.py [--records 26316] [--bootstrap 1000] [--runs 3] [--src SRC] [--before SRC]
                              [--rebuild]

The audit is built once with chartcode's own commands, as a user builds one (`chartcode init
--audit conjoint-pain`, `import` of one note per record, `import-codes` for two coders, intern
and supervisor, on every field of every record: 15 record-level fields and the 4 fields of its
note, so each record is submitted; the supervisor agrees with the intern on about 90 % of
values), and kept under /tmp/chartcode-bench-agreement/ (``--rebuild`` makes it again).
26,316 records x 19 fields x 2 coders = 1,000,008 ratings.

Then, alternating within each of ``--runs`` rounds, each as its own process:

  chartcode   ``chartcode agreement DB --json --bootstrap B --seed 1``: wall time from process
              start to exit (every import, the read, every coefficient and its percentile
              interval from B resamples)
  baseline    the same data read and ``krippendorff.alpha`` alone: a process that imports
              numpy and krippendorff, reads the same submitted codes with sqlite3 (one query),
              builds each field's coders x units matrix and calls ``krippendorff.alpha`` once per
              field at the field's level -- one library pass with no bootstrap

and one extra profiled run of chartcode (cProfile, not timed with the others) for the breakdown:
``imports_s`` (cumulative time in the import system, wherever an import happens in the main
thread), ``read_s`` (``chartcode.agreement.collect.collect``: the query and the matrices) and
``statistics_s`` (the coefficients and intervals: ``field_agreement`` / ``set_agreement``), plus the
top functions. cProfile sees the main thread only: the statistics libraries, imported in a thread
beside the database read (chartcode.agreement.read), show as the read's wait for that thread, in
``read_s``.

Prints one JSON document: every run's seconds (wall, and CPU user + system of the process: the
steadier figure on a busy machine), min and median per command, the breakdown, the load average
before and after the runs. ``--src`` runs another checkout's chartcode (before/after).
``--before SRC`` adds a third command to every round, ``chartcode_before``: the same command with
SRC's chartcode (say main's, from ``git archive main src audits codebooks``), run alternately with
this one in the same rounds so both see the same load, and says whether the two printed the same
bytes (``same_output_as_before``).

Goal (issue 16): chartcode < 3 s end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CACHE = Path("/tmp/chartcode-bench-agreement")
VERSION = 1  # bump when the build changes, so a cached audit of another shape is not reused
SRC = Path(__file__).resolve().parents[1] / "src"

BASELINE = r"""
import sqlite3, sys
import numpy as np
import krippendorff
db, levels = sys.argv[1], dict(a.split("=") for a in sys.argv[2:])
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
rows = con.execute(
    "SELECT field, record_id, coder, submitted_value FROM codes WHERE submitted_at IS NOT NULL"
).fetchall()
by_field = {}
for f, r, c, v in rows:
    by_field.setdefault(f, []).append((r, c, v))
for f, items in by_field.items():
    units = {r: i for i, r in enumerate(sorted({r for r, _, _ in items}))}
    coders = {c: i for i, c in enumerate(sorted({c for _, c, _ in items}))}
    values = sorted({v for _, _, v in items}, key=str)
    code = {v: i for i, v in enumerate(values)} if levels[f] in ("nominal", "ordinal") else None
    m = np.full((len(coders), len(units)), np.nan)
    for r, c, v in items:
        m[coders[c], units[r]] = code[v] if code is not None else float(v)
    krippendorff.alpha(reliability_data=m, level_of_measurement=levels[f])
"""

PROFILED = r"""
import cProfile, json, pstats, sys
sys.argv = ["chartcode", *sys.argv[1:]]
prof = cProfile.Profile()
prof.enable()
try:
    from chartcode.cli import main
    main()
except SystemExit:
    pass
prof.disable()
st = pstats.Stats(prof)
def cum(match):
    return max([v[3] for k, v in st.stats.items() if match(k)] or [0.0])
total = sum(v[2] for v in st.stats.values())
sys.stdout.flush()
top = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:12]
print(json.dumps({
    "profiled_total_s": round(total, 3),
    "imports_s": round(cum(lambda k: k[2] == "_find_and_load"), 3),
    "read_s": round(cum(lambda k: k[0].endswith("agreement/collect.py") and k[2] == "collect"), 3),
    "statistics_s": round(
        cum(lambda k: k[0].endswith("agreement/field.py") and k[2] == "agreement_report")
        - cum(lambda k: k[0].endswith("agreement/collect.py") and k[2] == "collect"), 3),
    "top_tottime": [[f"{k[0].rsplit('/', 2)[-1]}:{k[1]}:{k[2]}", round(v[2], 3)] for k, v in top],
}), file=sys.stderr)
"""


def chartcode(*args: str) -> list[str]:
    return [sys.executable, "-m", "chartcode", *args]


def run(argv: list[str], src: Path | None = None) -> tuple[float, str, str, float]:
    """(seconds from process start to exit, stdout, stderr, CPU seconds user + system) of one
    command, with ``src`` (default SRC) as PYTHONPATH. The CPU seconds are the process's own
    (``os.wait4``): on a busy machine they are the steadier figure, wall time also counts the time
    other processes held the cores."""
    env = {**os.environ, "PYTHONPATH": str(src or SRC)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}):\n{stderr[-2000:]}")
    return seconds, stdout, stderr, usage.ru_utime + usage.ru_stime


def write_inputs(folder: Path, records: int) -> None:
    """The notes CSV and the two coders' codes CSVs of the bench audit, in ``folder``."""
    sys.path.insert(0, str(SRC))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from chartcode.audit import load_audit
    from report import _codes_csv, _notes_csv  # the report bench's writers (same audit shape)

    cb = load_audit("conjoint-pain").codebook
    ids = [f"R{i:07d}" for i in range(records)]
    conjoint = _notes_csv(folder / "notes.csv", ids, 1)
    units = [(rid, "", f) for rid in ids for f in cb.record_fields if f.has_choices or f.type == "count"]
    units += [(rid, nid, f) for rid, nid in conjoint for f in cb.note_fields if f.applies_to("conjoint")]
    rng = random.Random(16)
    intern = _codes_csv(folder / "intern.csv", units, rng, None)
    _codes_csv(folder / "sup.csv", units, rng, intern)


def build(records: int, rebuild: bool) -> tuple[Path, dict]:
    folder = CACHE / f"v{VERSION}-{records}"
    db, info = folder / "audit.db", folder / "build.json"
    if db.exists() and info.exists() and not rebuild:
        return db, json.loads(info.read_text()) | {"cached": True}
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    subprocess.run(
        [sys.executable, __file__, "--write-inputs", str(folder), "--records", str(records), "--src", str(SRC)],
        check=True,
    )
    steps = {}
    for name, argv in (
        ("init", chartcode("init", str(db), "--audit", "conjoint-pain")),
        ("import_notes", chartcode("import", str(db), str(folder / "notes.csv"))),
        ("import_codes_intern", chartcode("import-codes", str(db), str(folder / "intern.csv"), "--coder", "intern")),
        (
            "import_codes_supervisor",
            chartcode("import-codes", str(db), str(folder / "sup.csv"), "--coder", "supervisor"),
        ),
    ):
        steps[name] = round(run(argv)[0], 2)
    import sqlite3

    con = sqlite3.connect(db)
    ratings = con.execute("SELECT count(*) FROM codes WHERE submitted_at IS NOT NULL").fetchone()[0]
    con.close()
    figures = {"records": records, "ratings": ratings, "build_s": steps}
    info.write_text(json.dumps(figures))
    return db, figures


def summary(secs: list[float]) -> dict:
    return {
        "s_min": round(min(secs), 3),
        "s_median": round(statistics.median(secs), 3),
        "runs_s": [round(s, 3) for s in secs],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=26_316)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--src", type=Path, help="run the chartcode of this src folder (before/after a change)")
    ap.add_argument("--before", type=Path, help="also run this src folder's chartcode in every round (before)")
    ap.add_argument("--rebuild", action="store_true", help="build the audit again even if cached")
    ap.add_argument("--write-inputs", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    global SRC
    SRC = (args.src or SRC).resolve()
    if args.write_inputs:
        write_inputs(args.write_inputs, args.records)
        return
    db, built = build(args.records, args.rebuild)
    if args.runs == 0:  # build (or find) the audit only
        print(json.dumps({"db": str(db), "build": built}))
        return
    sys.path.insert(0, str(SRC))
    from chartcode.audit import load_audit

    levels = [f"{f.name}={f.kind.agreement_level}" for f in load_audit("conjoint-pain").codebook.fields]
    command = chartcode("agreement", str(db), "--json", "--bootstrap", str(args.bootstrap), "--seed", "1")
    baseline = [sys.executable, "-c", BASELINE, str(db), *levels]
    result: dict = {"build": built, "src": str(SRC), "bootstrap": args.bootstrap, "cpus": os.cpu_count()}
    result["load_avg_1m_before"] = round(os.getloadavg()[0], 2)
    names = ("chartcode", "baseline_read_and_krippendorff_alpha", *(["chartcode_before"] if args.before else []))
    times: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    out = ""
    same: list[bool] = []
    if args.before:
        result["before_src"] = str(args.before.resolve())
    for _ in range(args.runs):
        if args.before:
            s_before, out_before, _, c_before = run(command, args.before.resolve())
            times["chartcode_before"].append(s_before)
            cpu["chartcode_before"].append(c_before)
        s, out, _, c = run(command)
        if args.before:
            same.append(out == out_before)
        times["chartcode"].append(s)
        cpu["chartcode"].append(c)
        s_base, _, _, c_base = run(baseline)
        times["baseline_read_and_krippendorff_alpha"].append(s_base)
        cpu["baseline_read_and_krippendorff_alpha"].append(c_base)
        print(
            f"chartcode {s:.2f} s, baseline {times['baseline_read_and_krippendorff_alpha'][-1]:.2f} s", file=sys.stderr
        )
    for name, secs in times.items():
        result[name] = summary(secs) | {f"cpu_{k}": v for k, v in summary(cpu[name]).items()}
    if args.before:
        result["same_output_as_before"] = all(same)
    report = json.loads(out)
    result["fields"] = len(report["fields"])
    result["intervals"] = sum(len(f["ci"]) for f in report["fields"])
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "profiled.py"
        script.write_text(PROFILED)
        _, _, err, _ = run([sys.executable, str(script), *command[3:]])
    result["breakdown_profiled_run"] = json.loads(err.strip().splitlines()[-1])
    result["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
