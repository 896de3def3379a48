"""Benchmark: how `chartcode import` and `import-codes` grow with the audit - time and peak memory.

    python bench/scale.py [--sizes 25000,100000,250000] [--notes-per-record 4] [--src SRC]

For each size (records; notes-per-record notes each, as bench/report.py builds its audit), in a
folder of its own: the input files are written by a process of their own, then `chartcode init`,
`chartcode import` of the notes CSV, the raw sqlite3 baseline of bench/import_notes.py on the same
CSV, and `chartcode import-codes` of the intern's codes (every record and note field) are each
run as a process of their own and measured alone: wall seconds, CPU seconds (user + system) and
that process's peak RSS from ``os.wait4`` (as bench/report.py's measured()). Prints one JSON
document: per size, per step, seconds, CPU seconds, MB and seconds per 1,000 rows; then the
ratio of the largest size to the smallest for rows, seconds, CPU seconds and MB. Linear time:
the seconds ratio follows the rows ratio. Bounded memory: the MB ratio stays near 1.

``--src`` runs the chartcode of another src folder (e.g. an export of main) for a before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402  (bench/report.py: measured(), the audit's inputs)

RAW = """
import sys
sys.path.insert(0, sys.argv[3])
from pathlib import Path
from import_notes import raw_baseline
print(raw_baseline(Path(sys.argv[1]), Path(sys.argv[2])))
"""


def lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh) - 1


def one_size(records: int, per_record: int, work: Path, skip_codes: bool = False) -> dict:
    folder = work / f"{records}x{per_record}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    inputs = [sys.executable, str(HERE / "report.py"), "--write-inputs", str(folder), "--records", str(records)]
    subprocess.run([*inputs, "--notes-per-record", str(per_record), "--src", str(report.SRC)], check=True)
    db = folder / "audit.db"
    notes, codes = folder / "notes.csv", folder / "intern.csv"
    got: dict = {"records": records, "notes": lines(notes), "code_rows": lines(codes)}
    steps = {
        "init": (report.chartcode("init", str(db), "--audit", "conjoint-pain"), 0),
        "import": (report.chartcode("import", str(db), str(notes)), got["notes"]),
        "import_raw_sqlite3": (
            [sys.executable, "-c", RAW, str(notes), str(folder / "raw.db"), str(HERE)],
            got["notes"],
        ),
        "import_codes": (report.chartcode("import-codes", str(db), str(codes), "--coder", "intern"), got["code_rows"]),
    }
    if skip_codes:
        del steps["import_codes"]
    for name, (argv, rows) in steps.items():
        s, cpu, mb, out = report.measured_cpu(argv)
        if name == "import_raw_sqlite3":
            s = float(out.strip())  # the baseline's own timing: without the interpreter's start
        got[name] = {"s": round(s, 2), "cpu_s": round(cpu, 2), "peak_mb": round(mb, 1)}
        if rows:
            got[name]["s_per_1k_rows"] = round(1000 * s / rows, 3)
        print(f"{records}: {name}: {s:.2f} s, {mb:.1f} MB, load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    got["db_mb"] = round(db.stat().st_size / 1e6, 1)
    shutil.rmtree(folder, ignore_errors=True)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25000,100000,250000", help="records, comma-separated")
    ap.add_argument("--notes-per-record", type=int, default=4)
    ap.add_argument("--src", type=Path, help="run the chartcode of this src folder (before/after a change)")
    ap.add_argument("--work", type=Path, help="folder for the audits (default: a temporary one)")
    ap.add_argument("--skip-codes", action="store_true", help="measure init and import only (no import-codes)")
    args = ap.parse_args()
    report.SRC = (args.src or report.SRC).resolve()
    sizes = [int(s) for s in args.sizes.split(",")]
    result: dict = {"src": str(report.SRC), "cpus": os.cpu_count(), "load_avg_1m_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="chartcode-scale-", dir=args.work) as tmp:
        result["sizes"] = {str(n): one_size(n, args.notes_per_record, Path(tmp), args.skip_codes) for n in sizes}
    small, large = result["sizes"][str(min(sizes))], result["sizes"][str(max(sizes))]
    growth = {}
    for step, rows in (("import", "notes"), ("import_raw_sqlite3", "notes"), ("import_codes", "code_rows")):
        if step not in small:
            continue
        growth[step] = {
            "rows_x": round(large[rows] / small[rows], 2),
            "s_x": round(large[step]["s"] / max(small[step]["s"], 1e-9), 2),
            "cpu_s_x": round(large[step]["cpu_s"] / max(small[step]["cpu_s"], 1e-9), 2),
            "mb_x": round(large[step]["peak_mb"] / small[step]["peak_mb"], 2),
        }
    result["largest_over_smallest"] = growth
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
