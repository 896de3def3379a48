"""Benchmark: `chartcode report` on a 100,000-record audit from the team server, next to the same
audit in a file, in the same run.

    python bench/server_report.py [--records 100000] [--runs 3]

The file audit is bench/report.py's (built with chartcode's own commands and cached; see there).
A throwaway PostgreSQL 15 cluster is started as bench/server.py does (fsync on), the file is copied
into it with `chartcode migrate` (timed once), and then `report` runs ``--runs`` times on each,
alternating file and server, each a process of its own measured alone (wall time and its own peak
RSS from os.wait4). The server report reads through the same security-barrier views a lead's
does (as the administrator, who sees everything, as a lead does). Prints one JSON document: per
backend, every run's seconds and MB and their min and median, the ratio of the medians, and the
load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report as file_bench  # noqa: E402  (bench/report.py: the cached audit, measured(), summary())
import server as server_bench  # noqa: E402  (bench/server.py: the throwaway cluster)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    built = subprocess.run(
        [sys.executable, str(HERE / "report.py"), "--build-only", "--records", str(args.records)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    db = Path(json.loads(built)["db"])
    cluster = server_bench.Cluster()
    try:
        url = cluster.url("bench_report")
        migrate_s, migrate_mb, _ = file_bench.measured(file_bench.chartcode("migrate", str(db), url))
        out: dict = {
            "records": args.records,
            "runs": args.runs,
            "load_avg_1m_before": round(os.getloadavg()[0], 2),
            "migrate": {"s": round(migrate_s, 2), "peak_mb": round(migrate_mb, 1)},
        }
        runs: dict[str, list[tuple[float, float]]] = {"file": [], "server": []}
        with tempfile.TemporaryDirectory(prefix="chartcode-bench-") as tmp:
            for i in range(args.runs):
                for backend, target in (("file", str(db)), ("server", url)):
                    html = Path(tmp) / f"{backend}{i}.html"
                    s, mb, _ = file_bench.measured(file_bench.chartcode("report", target, "--out", str(html)))
                    runs[backend].append(file_bench._said(f"report {backend}", (s, mb)))
                    out.setdefault("html_bytes", {})[backend] = html.stat().st_size
        for backend, got in runs.items():
            out[backend] = file_bench.summary(got)
        out["ratio_median_server_to_file"] = round(out["server"]["s_median"] / out["file"]["s_median"], 2)
        out["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        print(json.dumps(out, indent=1))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
