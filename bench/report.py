"""Benchmark: `export --format csv`, `export --format xlsx` and `report` on a 100,000-record audit.

    python bench/report.py [--records 100000] [--notes-per-record 1] [--runs 3] [--no-hog]
    python bench/report.py --scale          # 250,000 records / 1,000,000 notes: import, exports, report once
    python bench/report.py --only export_xlsx,report --no-hog   # just these commands

The audit is built once with chartcode's own commands, as a user builds one (`chartcode init
--audit conjoint-pain`, `import` of a notes CSV, `import-codes` for the intern on every record
and note field, then for the supervisor on a 5 % blind sample with about 90 % agreement), and
kept under /tmp/chartcode-bench/ for the next run (``--rebuild`` makes it again). Each build
step is timed and its peak RSS measured too: at ``--scale`` those are the import figures.

Then each command runs ``--runs`` times as its own process, measured alone: wall time, and that
process's own peak RSS from ``os.wait4`` (the child's rusage, not a tree that includes the
build). Next to them, in the same run, the floors: pandas ``to_csv`` of the same final values
(the exported tables, read back untimed in a fresh process; to_csv timed, that process's peak
RSS), and for xlsx the same values written by XlsxWriter alone (its public typed writers,
constant_memory, one process; first cell to closed zip timed). All of it quiet, then again
with a CPU-bound process on the other core (``--no-hog`` skips that pass). Prints one JSON
document: per command and pass, every run's seconds and MB, and their min and median; the load
average before each pass.

Goal (issue 16): each command < 15 s and < 400 MB at 100k records, memory flat in the number
of records (compare the figures at --records 20000, 100000 and --scale).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
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

CACHE = Path("/tmp/chartcode-bench")
VERSION = 1  # bump when the build changes, so a cached audit of another shape is not reused
SRC = Path(__file__).resolve().parents[1] / "src"

FLOOR = """
import sys, time
import pandas as pd
frames = [pd.read_csv(p, low_memory=False) for p in sys.argv[2:]]
t = time.perf_counter()
for i, df in enumerate(frames):
    df.to_csv(f"{sys.argv[1]}.{i}.csv", index=False)
print(time.perf_counter() - t)
"""

# The xlsx floor: the same final values written by XlsxWriter alone (the library chartcode writes
# xlsx with), one process, through its public typed writers (write_string, write_number; a missing
# value is no cell), constant_memory as chartcode's; the time from the first cell to the closed zip.
XLSX_FLOOR = """
import sys, time
import pandas as pd, xlsxwriter
frames = [pd.read_csv(p, low_memory=False) for p in sys.argv[2:]]
t = time.perf_counter()
wb = xlsxwriter.Workbook(sys.argv[1], {"constant_memory": True, "strings_to_numbers": False,
                                       "strings_to_formulas": False, "strings_to_urls": False})
for i, df in enumerate(frames):
    ws = wb.add_worksheet(f"sheet{i}")
    ws.write_row(0, 0, [str(c) for c in df.columns])
    text, number = ws.write_string, ws.write_number
    for r, row in enumerate(zip(*[df[c].tolist() for c in df.columns]), start=1):
        for c, v in enumerate(row):
            if isinstance(v, str):
                text(r, c, v)
            elif v == v:
                number(r, c, v)
wb.close()
print(time.perf_counter() - t)
"""


def measured(argv: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB of this process alone, stdout) of one command: ``os.wait4`` reaps it
    and gives its own rusage (output goes to files, so nothing else waits for the process)."""
    seconds, _cpu, mb, out = measured_cpu(argv)
    return seconds, mb, out


def measured_cpu(argv: list[str], src: Path | None = None) -> tuple[float, float, float, str]:
    """:func:`measured` with the CPU seconds (user + system) of the process too, which move less with
    the load on a shared machine than the wall time does; ``src``: the PYTHONPATH (default SRC)."""
    env = {**os.environ, "PYTHONPATH": str(src or SRC)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}):\n{err.read()[-2000:]}")
        return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read()


def _own_rss_mb() -> float:
    """This process's resident memory (every measured child starts from at least this)."""
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)


def chartcode(*args: str) -> list[str]:
    return [sys.executable, "-m", "chartcode", *args]


def _notes_csv(path: Path, ids: list[str], per_record: int) -> list[tuple[str, str]]:
    """One conjoint note per record, then phone / individual notes; (record, note) of the conjoint ones."""
    conjoint = []
    day0 = dt.date(2023, 1, 1)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "note_date", "note_type", "author", "text"])
        for i, rid in enumerate(ids):
            for k in range(per_record):
                nid = f"{rid}-N{k + 1}"
                kind = "conjoint" if k == 0 else ("phone", "individual")[k % 2]
                when = day0 + dt.timedelta(days=(i % 300) + 7 * k)
                w.writerow([rid, nid, when.isoformat(), kind, "Bench", f"Synthetic bench note {k + 1} of {rid}."])
                if kind == "conjoint":
                    conjoint.append((rid, nid))
    return conjoint


def _codes_csv(path: Path, units: list[tuple[str, str, object]], rng: random.Random, base: dict | None) -> dict:
    """A codes CSV of (record, note, field) units; with ``base`` about 90 % of values agree with it."""
    out = {}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "field", "value"])
        for rid, nid, f in units:
            if base is not None and rng.random() < 0.9:
                v = base[(rid, nid, f.name)]
            elif f.has_choices:
                v = rng.choice(f.codes)
            else:  # a count
                lo = int(f.min or 0)
                v = rng.randint(lo, min(lo + 40, int(f.max or lo + 40)))
            out[(rid, nid, f.name)] = v
            w.writerow([rid, nid, f.name, v])
    return out


def write_inputs(folder: Path, records: int, per_record: int) -> None:
    """The notes CSV and the two coders' codes CSVs of the bench audit, in ``folder``."""
    sys.path.insert(0, str(SRC))
    from chartcode.audit import load_audit

    rng = random.Random(11)
    cb = load_audit("conjoint-pain").codebook
    ids = [f"R{i:07d}" for i in range(records)]
    conjoint = _notes_csv(folder / "notes.csv", ids, per_record)
    units = [(rid, "", f) for rid in ids for f in cb.record_fields if f.has_choices or f.type == "count"]
    units += [(rid, nid, f) for rid, nid in conjoint for f in cb.note_fields if f.applies_to("conjoint")]
    intern = _codes_csv(folder / "intern.csv", units, rng, None)
    sample = set(random.Random(3).sample(ids, records // 20))
    _codes_csv(folder / "sup.csv", [u for u in units if u[0] in sample], rng, intern)


def codes_csv(path: Path, ids: list[str], fields, rng: random.Random, base: dict | None = None) -> dict:
    """A codes CSV of every record-level field of ``fields`` on ``ids`` (tests build audits with it)."""
    return _codes_csv(
        path, [(rid, "", f) for rid in ids for f in fields if f.has_choices or f.type == "count"], rng, base
    )


def build(records: int, per_record: int, rebuild: bool) -> tuple[Path, dict]:
    """The cached audit database and the build's figures (each step's seconds and peak MB). The
    input files are written by a process of its own, so that this one stays small (see main)."""
    folder = CACHE / f"report-v{VERSION}-{records}x{per_record}"
    db = folder / "audit.db"
    info = folder / "build.json"
    if db.exists() and info.exists() and not rebuild:
        return db, json.loads(info.read_text()) | {"cached": True}
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    inputs = [sys.executable, __file__, "--write-inputs", str(folder), "--records", str(records)]
    subprocess.run([*inputs, "--notes-per-record", str(per_record), "--src", str(SRC)], check=True)
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
        s, mb, _ = measured(argv)
        steps[name] = {"s": round(s, 2), "peak_mb": round(mb, 1)}
    figures = {
        "records": records,
        "notes": records * per_record,
        "code_rows": sum(len((folder / p).read_text().splitlines()) - 1 for p in ("intern.csv", "sup.csv")),
        "steps": steps,
    }
    info.write_text(json.dumps(figures))
    return db, figures


def summary(runs: list[tuple[float, ...]]) -> dict:
    """min/median of the runs' (seconds, MB[, CPU seconds])."""
    secs, mbs = [r[0] for r in runs], [r[1] for r in runs]
    got = {
        "s_min": round(min(secs), 2),
        "s_median": round(statistics.median(secs), 2),
        "mb_min": round(min(mbs), 1),
        "mb_median": round(statistics.median(mbs), 1),
        "runs_s": [round(s, 2) for s in secs],
        "runs_mb": [round(m, 1) for m in mbs],
    }
    if all(len(r) > 2 for r in runs):  # CPU seconds: move less with the load than the wall time
        cpu = [r[2] for r in runs]
        got |= {"cpu_s_median": round(statistics.median(cpu), 2), "runs_cpu_s": [round(c, 2) for c in cpu]}
    return got


def _said(name: str, run: tuple[float, ...]) -> tuple[float, ...]:
    """One run's figures, also on stderr as they come (a long bench that is stopped keeps them)."""
    cpu = f", {run[2]:.2f} CPU s" if len(run) > 2 else ""
    load = os.getloadavg()[0]
    print(f"{name}: {run[0]:.2f} s, {run[1]:.1f} MB{cpu}, load {load:.1f}", file=sys.stderr, flush=True)
    return run


def _run(argv: list[str]) -> tuple[float, float, float]:
    """(seconds, peak MB, CPU seconds) of one command."""
    seconds, cpu, mb, _ = measured_cpu(argv)
    return seconds, mb, cpu


def one_pass(db: Path, work: Path, runs: int, only: list[str] | None = None, floor_too: bool = True) -> dict:
    commands = {
        "export_csv": chartcode("export", str(db), "--format", "csv", "--out", str(work / "out.csv"), "--force"),
        "export_xlsx": chartcode("export", str(db), "--format", "xlsx", "--out", str(work / "out.xlsx"), "--force"),
        "report": chartcode("report", str(db), "--out", str(work / "report.html")),
    }
    if only:
        commands = {name: argv for name, argv in commands.items() if name in only}
    got: dict = {"load_avg_1m_before": round(os.getloadavg()[0], 2)}
    for name, argv in commands.items():
        got[name] = summary([_said(name, _run(argv)) for _ in range(runs)])
    if not floor_too:
        return got
    floor = []
    for _ in range(runs):
        _, mb, out = measured(
            [sys.executable, "-c", FLOOR, str(work / "floor"), str(work / "out.csv"), str(work / "out_notes.csv")]
        )
        floor.append(_said("floor_pandas_to_csv", (float(out.strip()), mb)))
    got["floor_pandas_to_csv"] = summary(floor)
    if not only or "export_xlsx" in only:
        floor = []
        for _ in range(runs):
            _, mb, out = measured(
                [
                    sys.executable,
                    "-c",
                    XLSX_FLOOR,
                    str(work / "floor.xlsx"),
                    str(work / "out.csv"),
                    str(work / "out_notes.csv"),
                ]
            )
            floor.append(_said("floor_xlsxwriter_alone", (float(out.strip()), mb)))
        got["floor_xlsxwriter_alone"] = summary(floor)
    got["three_commands_s_median"] = round(sum(got[k]["s_median"] for k in commands), 2)
    return got


def hog() -> subprocess.Popen:
    """A CPU-bound process (a pure-Python loop) on the other core, for the loaded pass."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--notes-per-record", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-hog", action="store_true", help="skip the pass with a CPU hog on the other core")
    ap.add_argument("--scale", action="store_true", help="250,000 records, 4 notes each (1M notes), one run")
    ap.add_argument("--src", type=Path, help="run the chartcode of this src folder (before/after a change)")
    ap.add_argument("--write-inputs", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--build-only", action="store_true", help="build (or find) the audit, print its figures")
    ap.add_argument("--rebuild", action="store_true", help="build the audit again even if cached")
    ap.add_argument(
        "--only",
        help="comma-separated commands to run (export_csv, export_xlsx, report); the floors run only "
        "with export_csv (they read its files back)",
    )
    args = ap.parse_args()
    only = args.only.split(",") if args.only else None
    if only and set(only) - {"export_csv", "export_xlsx", "report"}:
        ap.error(f"--only: unknown command(s) {sorted(set(only) - {'export_csv', 'export_xlsx', 'report'})}")
    global SRC
    SRC = (args.src or SRC).resolve()
    if args.scale:
        args.records, args.notes_per_record, args.runs = 250_000, 4, 1
    if args.write_inputs:
        write_inputs(args.write_inputs, args.records, args.notes_per_record)
        return
    if args.build_only:
        db, built = build(args.records, args.notes_per_record, args.rebuild)
        print(json.dumps({"db": str(db), "build": built}))
        return
    # The build runs in a process of its own: a child's peak RSS (wait4) starts from what the process
    # that forks it had (Linux carries the old memory's high-water mark across exec), so the process
    # that starts the measured commands must never have held the build's hundreds of MB.
    argv = [sys.executable, __file__, "--build-only", "--records", str(args.records)]
    argv += ["--notes-per-record", str(args.notes_per_record), "--src", str(SRC)] + ["--rebuild"] * args.rebuild
    # (its stderr is this one's: a build that fails says why, instead of a bare CalledProcessError)
    got = json.loads(subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout)
    db, built = Path(got["db"]), got["build"]
    result: dict = {"build": built, "cpus": os.cpu_count(), "src": str(SRC), "bench_rss_mb": _own_rss_mb()}
    with tempfile.TemporaryDirectory(prefix="chartcode-bench-") as tmp:
        floor_too = not only or "export_csv" in only  # the floor reads back the csv export's files
        result["quiet"] = one_pass(db, Path(tmp), args.runs, only, floor_too)
        if not args.no_hog:
            busy = hog()
            try:
                result["cpu_hog"] = one_pass(db, Path(tmp), args.runs, only, floor_too)
            finally:
                busy.kill()
                busy.wait()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
