"""Benchmark: export + report on a 100,000-record audit.

    python bench/report.py [--records 100000]

Builds (untimed) an audit of N records coded by the intern on every record-level field of
the conjoint codebook, with a 5% blind sample double-coded by the supervisor (about 90%
agreement), then times `chartcode export --format csv`, `--format xlsx` and `chartcode
report` as the user runs them (separate processes), and prints one JSON line: records,
codes, build_s, export_csv_s, export_xlsx_s, report_s, total_s, peak_rss_mb (largest child),
baseline_sqlite_dump_s (raw sqlite3 + csv writing every code: the floor for any export, measured
in the same run so totals from different machines can be read against it).
Target: total < 30 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def codes_csv(path: Path, ids: list[str], fields, rng: random.Random, base: dict | None = None) -> dict:
    out = {}
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "field", "value"])
        for rid in ids:
            for f in fields:
                if base is not None and rng.random() < 0.9:
                    v = base[(rid, f.name)]
                elif f.has_choices:
                    v = rng.choice(f.codes)
                elif f.type == "count":
                    lo = int(f.min or 0)
                    v = rng.randint(lo, lo + 40)
                else:
                    continue
                out[(rid, f.name)] = v
                w.writerow([rid, "", f.name, v])
    return out


def sqlite_dump(db: Path, out: Path) -> float:
    """Seconds for raw sqlite3 + the csv module to write every code (all columns) to a CSV: the
    floor any export of this database stands on, measured on the same machine in the same run."""
    import sqlite3

    t = time.perf_counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        cur = conn.execute("SELECT * FROM codes")
        with open(out, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow([d[0] for d in cur.description])
            w.writerows(cur)
    finally:
        conn.close()
    return time.perf_counter() - t


def run(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "chartcode", *args], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="build the database here and keep it (for profiling)")
    args = ap.parse_args()
    from chartcode.audit import load_audit
    from chartcode.importers.codes import import_codes
    from chartcode.store import Store

    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep or Path(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        audit = load_audit("conjoint-pain")
        db = tmp / "big.db"
        store = Store.create(db, audit.codebook, audit=audit.as_dict(), audit_source=audit.source, coders=audit.coders)
        ids = [f"R{i:06d}" for i in range(args.records)]
        store.add_records(ids)
        fields = audit.codebook.record_fields
        intern = codes_csv(tmp / "intern.csv", ids, fields, rng)
        import_codes(store, tmp / "intern.csv", "intern")
        sample = sorted(random.Random(3).sample(ids, args.records // 20))
        codes_csv(tmp / "sup.csv", sample, fields, rng, base=intern)
        import_codes(store, tmp / "sup.csv", "supervisor")
        n_codes = store.counts()["codes"]
        store.close()
        build_s = time.perf_counter() - t0

        csv_s = run("export", str(db), "--format", "csv", "--out", str(tmp / "out.csv"))
        xlsx_s = run("export", str(db), "--format", "xlsx", "--out", str(tmp / "out.xlsx"))
        report_s = run("report", str(db), "--out", str(tmp / "report.html"))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        dump_s = sqlite_dump(db, tmp / "dump.csv")
        print(
            json.dumps(
                {
                    "records": args.records,
                    "codes": n_codes,
                    "build_s": round(build_s, 1),
                    "export_csv_s": round(csv_s, 2),
                    "export_xlsx_s": round(xlsx_s, 2),
                    "report_s": round(report_s, 2),
                    "total_s": round(csv_s + xlsx_s + report_s, 2),
                    "peak_rss_mb": round(peak, 1),
                    "baseline_sqlite_dump_s": round(dump_s, 2),
                }
            )
        )


if __name__ == "__main__":
    main()
