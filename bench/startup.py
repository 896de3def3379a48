"""Benchmark: start-up as a user sees it - light commands, and the first usable coding screen.

    python bench/startup.py [--notes 100000] [--runs 3] [--src OTHER/src] [--only quiet|hog]

Wall time from process start, measured from outside the process, each figure the min and median
of ``--runs`` runs, quiet and with a CPU-bound process on the other core (``hog``), next to
baselines measured the same way in the same run:

  cli_s           ``chartcode --help``, ``status DB`` and ``codes DB --coder intern --as intern``
                  on the audit (output to /dev/null), next to ``python -c pass`` and
                  ``python -c "import pandas"`` (what a command that imports pandas pays at least)
  first_screen_s  ``chartcode code DB --coder intern`` in tmux (a private server on its own
                  socket, tests/e2e/tmux.py) until the first record's note is on screen, next to a
                  bare Textual app until its text is on screen; tmux start-up included in both
  first_screen_cpu_s  the CPU seconds (user + system, all threads) the program itself had used when
                  its first screen was seen: from process start, and robust to the load of a shared
                  machine, which stretches the wall figures (10 ms resolution: /proc/PID/stat)
  loadavg         the 1-minute load average before and after each load's runs

The audit has ``--notes`` notes (four per record, all assigned to the intern), made once with
chartcode's own ``init`` + ``import`` (bench/coding_latency.py's build_audit) and cached under
/tmp/chartcode-bench-startup/; every run opens a fresh copy of it. ``--src`` runs chartcode from
another checkout's src/ folder (e.g. ``git archive main src | tar -x -C /tmp/main``), to give
before and after in the same run. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from coding_latency import build_audit  # noqa: E402
from terminal_latency import HELLO, chartcode_argv, fresh_copy  # noqa: E402
from tests.e2e.tmux import Tmux  # noqa: E402

CACHE = Path("/tmp/chartcode-bench-startup")
POLL_S = 0.005


def cached_audit(n_notes: int) -> Path:
    """The audit of n_notes notes, built once (a few minutes for 100k) and kept for later runs."""
    db = CACHE / f"audit-{n_notes}.db"
    if db.exists():
        return db
    work = CACHE / f"build-{n_notes}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    built = build_audit(work, n_notes)
    fresh_copy(built, db)
    shutil.rmtree(work, ignore_errors=True)
    return db


def wall(argv: list[str]) -> float:
    """Seconds from spawn to exit, output discarded; a failing command fails the bench."""
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all its threads (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def program_pid(tmux: Tmux) -> int:
    """The program the pane runs: the child of tmux's wrapper shell (tests/e2e/tmux.py)."""
    shell = int(tmux.display("#{pane_pid}"))
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        with open(f"/proc/{shell}/task/{shell}/children") as f:
            children = f.read().split()
        if children:
            return int(children[0])
        time.sleep(POLL_S)
    raise TimeoutError("the program did not start in tmux")


def first_screen(argv: list[str], expect: str) -> tuple[float, float]:
    """Seconds from starting tmux with ``argv`` until ``expect`` is on its screen (polled every 5 ms),
    and the CPU seconds the program had used by then."""
    tmux = Tmux(timeout=120)
    try:
        t = time.perf_counter()
        tmux.start(argv)
        pid = program_pid(tmux)
        deadline = t + 120
        while expect not in tmux.capture():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{expect!r} not on screen after 120 s:\n{tmux.last_screen}")
            time.sleep(POLL_S)
        took = time.perf_counter() - t
        cpu = cpu_seconds(pid)
        tmux.press("C-q")
        tmux.wait_for_exit()  # a killed coding screen would hold the coder's screen lease for 30 s
        return took, cpu
    finally:
        tmux.kill()


def min_median(xs: list[float]) -> dict[str, float]:
    return {"min": round(min(xs), 3), "median": round(statistics.median(xs), 3)}


def measure(db: Path, runs: int, src: Path | None, tmp: Path) -> dict:
    py = sys.executable
    cli = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import pandas'": [py, "-c", "import pandas"],
        "chartcode --help": chartcode_argv(src, "--help"),
        "chartcode status": chartcode_argv(src, "status", str(db)),
        "chartcode codes": chartcode_argv(src, "codes", str(db), "--coder", "intern", "--as", "intern"),
    }
    out: dict = {
        "loadavg_before": round(os.getloadavg()[0], 2),
        "cli_s": {},
        "first_screen_s": {},
        "first_screen_cpu_s": {},
    }
    for name, argv in cli.items():
        wall(argv)  # warm the page cache and .pyc files; not counted
        out["cli_s"][name] = min_median([wall(argv) for _ in range(runs)])
    first = tmp / "first.db"
    code = chartcode_argv(src, "code", str(first), "--coder", "intern")
    bare = [py, "-c", HELLO]
    for name, argv, expect in (("chartcode code", code, "note 1 of"), ("bare textual", bare, "hello, first screen")):
        took, cpu = [], []
        for _ in range(runs + 1):  # the first is a warm-up, not counted
            fresh_copy(db, first)  # each run opens the audit as a coder does, no screen left from before
            wall_s, cpu_s = first_screen(argv, expect)
            took.append(wall_s)
            cpu.append(cpu_s)
        out["first_screen_s"][name] = min_median(took[1:])
        out["first_screen_cpu_s"][name] = min_median(cpu[1:])
    out["loadavg_after"] = round(os.getloadavg()[0], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--src", type=Path, help="run chartcode from this src/ folder (e.g. an export of main)")
    ap.add_argument("--only", choices=["quiet", "hog"], help="only this load")
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("startup: needs tmux")
    t = time.perf_counter()
    src_db = cached_audit(args.notes)
    result: dict = {"notes": args.notes, "runs": args.runs, "audit_ready_s": round(time.perf_counter() - t, 1)}
    if args.src:
        result["src"] = str(args.src)
    tmp = CACHE / "runs"
    tmp.mkdir(parents=True, exist_ok=True)
    db = fresh_copy(src_db, tmp / "audit.db")
    for load in ("quiet", "hog") if args.only is None else (args.only,):
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load == "hog" else None
        try:
            result[load] = measure(db, args.runs, args.src, tmp)
        finally:
            if hog is not None:
                hog.kill()
                hog.wait()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
