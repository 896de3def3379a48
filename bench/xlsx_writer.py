"""Benchmark: the XLSX writer, today's (XlsxWriter's typed cell API) against the hand-built sheet XML.

    python bench/xlsx_writer.py [--records 20000] [--runs 3] [--old-rev 44ec022^] [--base SRC]
                                [--new SRC] [--db DB] [--no-e2e] [--no-writer] [--old-db OLD_DB]

The baseline is the chartcode of ``--old-rev`` (the last commit whose xlsx writer built the sheet
XML itself), its files taken with ``git archive`` into a temporary folder (no worktree, no
checkout); "new" is this tree's src (or ``--new``); ``--base`` adds a third src folder (e.g. main's, for a
before/after of a change). All run in the same run, alternating (old, base, new, old, ...), each
as its own process:

- **writer**: the very same sheets (the export's tables, built once by today's code from the audit
  and pickled, untimed) given to each version's ``chartcode.export.writers.write_xlsx``: seconds
  inside the call, the process's peak RSS and its RSS before the call (the difference is the
  writer's own memory), the file's size. Only the writers differ.
- **e2e**: ``chartcode export --format xlsx`` as a user runs it on today's audit (bench/report.py's,
  or ``--db``): wall time, peak RSS (``os.wait4``) and the time inside ``write_xlsx`` of that same
  process. The old commit cannot open today's audit (its codebook format moved on) and its final
  values are not today's (conditions, applicability came since), so its writer is measured inside
  today's export instead: "old_writer" is today's chartcode with the old write_xlsx and xlsx
  module loaded in place of today's. Same audit, same final values: only the writer differs.
- **release** (with ``--old-db``): the issue's own measure, "bench/report.py before/after": the
  whole chartcode of ``--old-rev`` (its final values and its hand-built XML) against the whole of
  today's (and of ``--base``'s), each running ``chartcode export --format xlsx`` on a fresh copy of an audit that
  ``--old-rev``'s own bench/report.py built (``--keep DIR``; today's chartcode opens that older
  file and brings its schema forward, on the copy). What a user of the old release waits for
  against what a user of today's waits for, on the same records and codes.

Prints one JSON document with every run, min / median per figure, the ratios to the old writer
of the minima and of the medians, and the load average around each pass. CPU seconds (``cpu_s``)
are the process's and its children's (the export's writer may fork children for a large sheet's
rows: chartcode.export.xlsx), so they count all the work, wherever it ran; peak RSS is the
largest single process's. The goal (issue 11,
item 9): the export through XlsxWriter's API within 1.5x of the hand-built XML's time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NEW_SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (bench/report.py: measured_cpu())

# Child: the export's sheets, pickled (write_xlsx replaced by a pickler, the CLI run as is).
DUMP = """
import pickle, sys
from chartcode.export import writers
target = sys.argv[1]
def grab(sheets, path):
    sheets = {name: table() if callable(table) else table for name, table in sheets.items()}  # made late: now
    with open(target, "wb") as fh:
        pickle.dump(sheets, fh, protocol=5)
writers.write_xlsx = grab
sys.argv = ["chartcode", "export", sys.argv[2], "--format", "xlsx", "--out", sys.argv[3], "--force"]
from chartcode.cli import main
main()
"""

# Child: this src's write_xlsx on pickled sheets; prints seconds, CPU seconds (its own and its
# children's: a writer may fork) and the RSS before the call.
WRITE = """
import json, pickle, resource, sys, time
from pathlib import Path
from chartcode.export import writers
with open(sys.argv[1], "rb") as fh:
    sheets = pickle.load(fh)
import xlsxwriter  # imported before the clock starts in both versions
def rss():
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
before = rss()
t, c = time.perf_counter(), cpu()
writers.write_xlsx(sheets, Path(sys.argv[2]))
print(json.dumps({"s": time.perf_counter() - t, "cpu_s": cpu() - c, "rss_before_mb": before}))
"""

# Child: `chartcode export` as run by a user, with the time inside write_xlsx written to a file
# (today's export hands it the agreement and analyses as functions, made inside it, while the
# records' rows are written: they count in the writer's time).
# With an old src folder instead of "-", that commit's write_xlsx (and its xlsx module) writes
# the workbook instead of today's: the same audit and the same final values, only the writer
# differs (the old modules are loaded by path; the names they import exist today too).
E2E = """
import importlib.util, sys, time
from chartcode.export import writers
target, old = sys.argv[1], sys.argv[2]
inner = writers.write_xlsx
if old != "-":
    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    old_xlsx = load("old_chartcode_export_xlsx", f"{old}/chartcode/export/xlsx.py")
    old_writers = load("old_chartcode_export_writers", f"{old}/chartcode/export/writers.py")
    def inner(sheets, path):
        sheets = {name: table() if callable(table) else table for name, table in sheets.items()}  # made late
        saved = sys.modules.get("chartcode.export.xlsx")
        sys.modules["chartcode.export.xlsx"] = old_xlsx  # its write_xlsx imports body_rows, splice
        try:
            old_writers.write_xlsx(sheets, path)
        finally:
            if saved is None:
                sys.modules.pop("chartcode.export.xlsx")
            else:
                sys.modules["chartcode.export.xlsx"] = saved
def timed(sheets, path):
    t = time.perf_counter()
    try:
        inner(sheets, path)
    finally:
        with open(target, "w") as fh:
            fh.write(str(time.perf_counter() - t))
writers.write_xlsx = timed
sys.argv = ["chartcode", "export", *sys.argv[3:]]
from chartcode.cli import main
main()
"""


def run(argv: list[str], src: Path) -> tuple[float, float, str]:
    """(wall seconds, this process's own peak RSS in MB, stdout) of one child, PYTHONPATH=src."""
    seconds, _cpu, mb, out = report.measured_cpu(argv, src)
    return seconds, mb, out


def stats(values: list[float]) -> dict:
    return {
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "runs": [round(v, 2) for v in values],
    }


def ratios(old: dict, new: dict, key: str) -> dict:
    return {
        "min": round(new[key]["min"] / old[key]["min"], 2),
        "median": round(new[key]["median"] / old[key]["median"], 2),
    }


def old_src(rev: str, into: Path) -> Path:
    """``rev``'s src folder, taken out of this repository with git archive (no worktree, no checkout)."""
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", rev, "src", "bench", "audits", "codebooks"],
        check=True,
        capture_output=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def _ratios(summary: dict, key: str, baseline: str) -> dict:
    """new / baseline of ``key``'s min and median (and base / baseline when there is a base)."""
    out = {}
    for name in summary:
        if name != baseline:
            out[f"{name}_over_{baseline}"] = ratios(summary[baseline], summary[name], key)
    return out


def writer_pass(srcs: dict[str, Path], pickled: Path, work: Path, runs: int) -> dict:
    got: dict = {name: {"s": [], "cpu_s": [], "peak_mb": [], "rss_before_mb": [], "file_mb": []} for name in srcs}
    for i in range(runs):
        for name, src in srcs.items():
            out = work / f"w-{name}.xlsx"
            _, mb, stdout = run([sys.executable, "-c", WRITE, str(pickled), str(out)], src)
            inner = json.loads(stdout)
            row = got[name]
            row["s"].append(inner["s"])
            row["cpu_s"].append(inner["cpu_s"])
            row["peak_mb"].append(mb)
            row["rss_before_mb"].append(inner["rss_before_mb"])
            row["file_mb"].append(out.stat().st_size / 2**20)
            print(
                f"writer {name} run {i + 1}: {inner['s']:.2f} s ({inner['cpu_s']:.2f} s CPU), peak {mb:.0f} MB"
                f" (before the call {inner['rss_before_mb']:.0f}), load {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
    summary = {name: {k: stats(v) for k, v in row.items()} for name, row in got.items()}
    return {**summary, "ratios_s": _ratios(summary, "s", "old"), "ratios_cpu_s": _ratios(summary, "cpu_s", "old")}


def e2e_pass(cases: dict[str, tuple[Path, str]], db: Path, work: Path, runs: int) -> dict:
    got: dict = {name: {"s": [], "writer_s": [], "rest_s": [], "peak_mb": []} for name in cases}
    for i in range(runs):
        for name, (src, writer) in cases.items():
            timing = work / f"t-{name}"
            out = work / f"e-{name}.xlsx"
            argv = [sys.executable, "-c", E2E, str(timing), writer, str(db), "--format", "xlsx", "--out", str(out)]
            seconds, mb, _ = run([*argv, "--force"], src)
            inner = float(timing.read_text())
            row = got[name]
            row["s"].append(seconds)
            row["writer_s"].append(inner)
            row["rest_s"].append(seconds - inner)
            row["peak_mb"].append(mb)
            print(
                f"e2e {name} run {i + 1}: {seconds:.2f} s (writer {inner:.2f} s), peak {mb:.0f} MB,"
                f" load {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
    summary = {name: {k: stats(v) for k, v in row.items()} for name, row in got.items()}
    return {
        **summary,
        "ratios_s": _ratios(summary, "s", "old_writer"),
        "ratios_writer_s": _ratios(summary, "writer_s", "old_writer"),
    }


def _sqlite_copy(db: Path, into: Path) -> None:
    """A consistent copy of the audit at ``db`` (its WAL included) as one file at ``into``."""
    import sqlite3

    for suffix in ("", "-wal", "-shm"):
        Path(f"{into}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    target = sqlite3.connect(into)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def release_pass(srcs: dict[str, Path], db: Path, work: Path, runs: int) -> dict:
    """Each src's whole ``chartcode export --format xlsx`` on a fresh copy of ``db``, alternating."""

    # Today's chartcode brings an older file's schema forward once, on first open (m004 chains the
    # whole history by hash: a minute at 20k records); that is not the export's time, so each
    # version exports a copy of the file as it would find it on its second run.
    start = {name: work / f"r-{name}-start.db" for name in srcs}
    for name, src in srcs.items():
        _sqlite_copy(db, start[name])
        opened = "import sys; from chartcode.store import Store; Store.open(sys.argv[1]).close()"
        report.measured_cpu([sys.executable, "-c", opened, str(start[name])], src)
    got: dict = {name: {"s": [], "cpu_s": [], "peak_mb": [], "file_mb": []} for name in srcs}
    for i in range(runs):
        for name, src in srcs.items():
            copy = work / f"r-{name}.db"
            _sqlite_copy(start[name], copy)
            out = work / f"r-{name}.xlsx"
            argv = [sys.executable, "-m", "chartcode", "export", str(copy), "--format", "xlsx", "--out", str(out)]
            seconds, cpu, mb, _ = report.measured_cpu([*argv, "--force"], src)
            row = got[name]
            row["s"].append(seconds)
            row["cpu_s"].append(cpu)
            row["peak_mb"].append(mb)
            row["file_mb"].append(out.stat().st_size / 2**20)
            print(
                f"release {name} run {i + 1}: {seconds:.2f} s ({cpu:.2f} s CPU), peak {mb:.0f} MB,"
                f" load {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
    summary = {name: {k: stats(v) for k, v in row.items()} for name, row in got.items()}
    return {**summary, "ratios_s": _ratios(summary, "s", "old"), "ratios_cpu_s": _ratios(summary, "cpu_s", "old")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--old-rev", default="44ec022^", help="the baseline commit (hand-built sheet XML)")
    ap.add_argument("--base", type=Path, help="another src folder to run alongside (before/after a change)")
    ap.add_argument("--new", type=Path, default=NEW_SRC, help="the src folder measured as new (default: this tree's)")
    ap.add_argument("--db", type=Path, help="today's audit to export (default: bench/report.py's, built if missing)")
    ap.add_argument("--no-e2e", action="store_true", help="only the writer on the same sheets")
    ap.add_argument("--no-writer", action="store_true", help="no writer pass (e.g. only the release pass)")
    ap.add_argument(
        "--old-db", type=Path, help="an audit made by --old-rev's bench/report.py --keep (adds the release pass)"
    )
    args = ap.parse_args()
    result: dict = {"records": args.records, "old_rev": args.old_rev, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="chartcode-xlsx-bench-") as tmp:
        work = Path(tmp)
        old = old_src(args.old_rev, work)
        db = args.db
        if db is None:  # built by a process of its own, as bench/report.py does (its RSS stays out of ours)
            argv = [sys.executable, str(HERE / "report.py"), "--build-only", "--records", str(args.records)]
            db = Path(json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)["db"])
        result["db"] = str(db)
        pickled = work / "sheets.pkl"
        new = args.new.resolve()
        result["new_src"] = str(new)
        if not args.no_writer:  # the writer pass's sheets
            run([sys.executable, "-c", DUMP, str(pickled), str(db), str(work / "unused.xlsx")], new)
        srcs = {"old": old, **({"base": args.base.resolve()} if args.base else {}), "new": new}
        if not args.no_writer:
            result["load_avg_1m_before_writer"] = round(os.getloadavg()[0], 2)
            result["writer"] = writer_pass(srcs, pickled, work, args.runs)
            result["load_avg_1m_after_writer"] = round(os.getloadavg()[0], 2)
        if not args.no_e2e:
            cases = {"old_writer": (new, str(old)), **({"base": (args.base.resolve(), "-")} if args.base else {})}
            cases["new"] = (new, "-")
            result["e2e"] = e2e_pass(cases, db, work, args.runs)
            result["load_avg_1m_after_e2e"] = round(os.getloadavg()[0], 2)
        if args.old_db:
            srcs = {"old": old, **({"base": args.base.resolve()} if args.base else {}), "new": new}
            result["release"] = release_pass(srcs, args.old_db, work, args.runs)
            result["load_avg_1m_after_release"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
