"""Benchmark: key -> code committed in a real terminal (tmux), next to a raw-mode baseline.

    python bench/terminal_latency.py [--notes 100000] [--keys 1000] [--runs 3] [--db AUDIT.db]

What a coder feels, measured from outside the process: ``chartcode code`` runs in tmux (a
private server on its own socket, tests/e2e/tmux.py) on an audit of ``--notes`` notes made with
chartcode's own ``init`` + ``import`` (bench/coding_latency.py builds it; ``--db`` reuses one).
The bench types the conjoint codebook's fields record after record (a choice key per choice
field, "61" for age, "50" for follow-up sessions, ``d`` to finish) with human-like pauses,
and for each key that saves a code polls the database from another connection until the code
is there: key sent -> code committed, send-keys included. The baseline is a tiny raw-mode
program that INSERTs and COMMITs (WAL, synchronous=FULL) one row per key into a copy of the
same audit, driven and polled the same way: the floor for terminal + tmux + SQLite here.

Both run quiet and with a CPU-bound process on the other core (``hog``). Each figure is the
min and median over ``--runs`` runs. Also: first usable screen (process start -> the first
record's note on screen) next to a bare Textual app. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from coding_latency import build_audit  # noqa: E402
from tests.e2e.tmux import Tmux  # noqa: E402

BASELINE = r"""
import sqlite3, sys, termios, tty, os
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA synchronous = FULL")
conn.execute("CREATE TABLE IF NOT EXISTS bench_keys (id INTEGER PRIMARY KEY, k TEXT)")
fd = sys.stdin.fileno()
old = termios.tcgetattr(fd)
tty.setraw(fd)
try:
    os.write(1, b"baseline ready\r\n")
    while True:
        ch = os.read(fd, 1)
        if not ch or ch == b"\x11":  # Ctrl+Q
            break
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO bench_keys (k) VALUES (?)", (ch.decode(errors="replace"),))
        conn.execute("COMMIT")
        os.write(1, b"saved " + ch + b"\r\n")
finally:
    termios.tcsetattr(fd, termios.TCSADRAIN, old)
"""

HELLO = r"""
from textual.app import App
from textual.widgets import Static
class Hello(App):
    BINDINGS = [("ctrl+q", "quit")]
    def compose(self):
        yield Static("hello, first screen")
Hello().run()
"""

POLL_S = 0.0005


def pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 1),
        "p95": round(pct(ms, 95), 1),
        "p99": round(pct(ms, 99), 1),
        "max": round(max(ms), 1),
        "over_50ms_pct": round(100 * sum(m > 50 for m in ms) / len(ms), 2),
    }


def human_pause(rng: random.Random) -> float:
    """Seconds between keys: a coder reading and pressing, 60 ms to ~0.4 s, mostly ~0.12 s."""
    return min(0.4, max(0.06, rng.lognormvariate(-2.1, 0.45)))


def wait_for_count(conn: sqlite3.Connection, sql: str, above: int, timeout: float = 30.0) -> int:
    deadline = time.perf_counter() + timeout
    while True:
        n = conn.execute(sql).fetchone()[0] or 0
        if n > above:
            return n
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no commit within {timeout} s ({sql})")
        time.sleep(POLL_S)


Plan = list[tuple[str, bool, str | None]]


def plan_keys(db: Path, n_keys: int) -> Plan:
    """(text to type, saves a code?, text the screen shows before the next key) for coding records
    in queue order until n_keys keys have saved a code."""
    from chartcode.coding import CodingSession
    from chartcode.store import Store
    from chartcode.tui.screens.coding import first_work
    from chartcode.tui.widgets.coding_form import choice_keys

    store = Store.open(db)
    session = CodingSession(store, "intern")
    plan: Plan = []
    saving = 0
    rid = session.first_unfinished()
    while saving < n_keys and rid is not None:
        view = session.load(rid)
        values: dict = {}
        notes = [(n["note_id"], n["note_type"]) for n in view.notes]
        assert first_work(view) == 0, "the screen opens a fresh record on its first field"
        for slot in view.slots:
            # the screen skips fields the codes so far make inapplicable (branching logic)
            if not view.codebook.form(notes, values).applies(slot.note_id, slot.field):
                continue
            f = slot.field
            if f.has_choices:
                key, code = next(iter(choice_keys(f).items()))
                plan.append((key, True, None))
                values[slot.key] = code
            else:
                value = "61" if f.name == "age" else "50"  # both complete by themselves (max 110 / 100)
                plan.extend((ch, False, None) for ch in value[:-1])
                plan.append((value[-1], True, None))
                values[slot.key] = int(value)
            saving += 1
        rid = session.neighbour(rid, 1)
        # d submits the record (a commit) and opens the next: a coder sees it before typing on
        plan.append(("d", True, f"{rid} · note 1 of" if rid else None))
    store.close()
    return plan


def drive(
    tmux: Tmux | None, poll: sqlite3.Connection, sql: str, plan: Plan, seed: int, keys: list | None = None
) -> list[float]:
    """Type the plan; ms from each saving key sent to its commit seen (submits not counted).
    ``keys`` gets (sent, seen) monotonic times of each counted key, to line up with a trace, and
    the key's place in the plan and its text."""
    rng = random.Random(seed)
    latencies: list[float] = []
    count = poll.execute(sql).fetchone()[0] or 0
    assert tmux is not None
    for n, (text, saves, expect) in enumerate(plan):
        time.sleep(human_pause(rng))
        t = time.perf_counter()
        tmux.type(text)
        try:
            if saves:
                count = wait_for_count(poll, sql, count)
                seen = time.perf_counter()
                if text != "d":
                    latencies.append((seen - t) * 1000)
                    if keys is not None:
                        keys.append((t, seen, n, text))
            if expect:
                tmux.wait_for(expect)
        except (TimeoutError, AssertionError):
            print(f"key {n} of {len(plan)} ({text!r}) not saved; the screen:\n{tmux.capture()}", file=sys.stderr)
            raise
    return latencies


def chartcode_argv(src: Path | None, *args: str) -> list[str]:
    """``python -m chartcode ARGS``, or the chartcode package in ``src`` (another checkout's src/,
    to measure before/after in the same run)."""
    if src is None:
        return [sys.executable, "-m", "chartcode", *args]
    boot = (
        f"import sys; sys.path.insert(0, {str(src)!r}); from chartcode.cli import main;"
        " sys.argv[0] = 'chartcode'; main()"
    )
    return [sys.executable, "-c", boot, *args]


def run_chartcode(
    db: Path, plan: Plan, seed: int, src: Path | None = None, trace: Path | None = None
) -> tuple[list[float], dict | None]:
    tmux = Tmux(timeout=120)
    keys: list[tuple[float, float, int, str]] = []
    if trace is not None:
        tmux.env["CHARTCODE_KEY_TRACE"] = str(trace)
    try:
        tmux.start(chartcode_argv(src, "code", str(db), "--coder", "intern"))
        tmux.wait_for("note 1 of")
        time.sleep(1.0)  # let start-up work (queue counts, first paint) finish
        poll = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
        sql = "SELECT max(id) FROM history"  # every saved code appends one history entry
        lat = drive(tmux, poll, sql, plan, seed, keys)
        tmux.press("C-q")
        tmux.wait_for_exit()
        poll.close()
    finally:
        tmux.kill()
    return lat, (breakdown(trace, keys) if trace is not None and trace.exists() else None)


def run_baseline(db: Path, plan: Plan, seed: int) -> list[float]:
    tmux = Tmux(timeout=120)
    try:
        tmux.start([sys.executable, "-c", BASELINE, str(db)])
        tmux.wait_for("baseline ready")
        poll = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
        sql = "SELECT max(id) FROM bench_keys"
        # the baseline commits on every key: drive it with the saving keys only
        lat = drive(tmux, poll, sql, [(t, True, None) for t, saves, _ in plan if saves and t != "d"], seed)
        tmux.press("C-q")
        tmux.wait_for_exit()
        poll.close()
        return lat
    finally:
        tmux.kill()


# The stages of a key, from the trace (tui/keytrace.py): each is the time from the previous mark to
# the first of these marks after it, in order.
STAGES = ("key", "dispatch", "submit", "begin", "commit")
# Marks that are intervals: (start, end) names, summed where they overlap a key's time.
SPANS = {
    "gc": "gc_end",
    "paint": "paint_end",
    "layout": "layout_end",
    "checkpoint": "checkpoint_end",
    "commit_wait": "commit_wait_end",
}
# What each step between two marks is, in a coder's words: where a slow key lost its time.
PHASES = {
    "sent->parsed": "input",  # tmux, the terminal, Textual's input thread
    "parsed->key": "input",  # the input thread's message to the app's queue
    "sent->key": "input",
    "key->dispatch": "router",  # waiting for the key before it to settle
    "dispatch->submit": "handler",  # the key's action up to queueing its save
    "submit->begin": "save queue",  # the writer thread picking the job up
    "begin->commit": "commit",  # the transaction, fsync included
    "commit->seen": "seen",  # the bench's poller noticing it
}
SLOW_MS = 50.0


def phase_of(key: dict[str, Any]) -> dict:
    """The phase of a key that took most of its time, and what overlapped it (redraw = layout +
    paint on the UI thread, gc, a checkpoint) where that was 5 ms or more."""
    steps: dict[str, float] = {k: v for k, v in key.items() if "->" in k}
    if not steps:
        return {"phase": "untraced"}
    worst = max(steps, key=lambda k: steps[k])
    during = {"redraw": key.get("paint", 0.0) + key.get("layout", 0.0)}
    during.update({name: key.get(name, 0.0) for name in ("gc", "checkpoint", "commit_wait")})
    return {
        "phase": PHASES.get(worst, worst),
        "phase_ms": steps[worst],
        "during": {k: round(v, 1) for k, v in during.items() if v >= 5.0},
    }


def breakdown(trace: Path, keys: list[tuple[float, float, int, str]]) -> dict:
    """Where each counted key's time went: send -> parsed by Textual's input thread -> received by
    the app -> dispatched by the key router -> write queued -> transaction begun -> committed -> seen
    by the poller; and the GC, layout, paint and checkpoint time overlapping the key's interval.
    Percentiles per stage, and the full breakdown of the 10 slowest keys."""
    rows = []
    for line in trace.read_text().splitlines():
        t, name, _thread, _cpu, *extra = line.split("\t")
        rows.append((float(t), name, extra))
    rows.sort(key=lambda r: r[0])
    intervals: dict[str, list[tuple[float, float]]] = {name: [] for name in SPANS}
    opened: dict[str, float] = {}
    for t, name, _extra in rows:
        if name in SPANS:
            opened[name] = t
        elif name.endswith("_end") and name[:-4] in opened:
            intervals[name[:-4]].append((opened.pop(name[:-4]), t))
    per_key = []
    j = 0
    for sent, seen, n, text in keys:
        while j < len(rows) and rows[j][0] < sent:
            j += 1
        marks: dict[str, float] = {}
        want = iter(STAGES)
        stage = next(want, None)
        k = j
        while stage is not None and k < len(rows) and rows[k][0] <= seen:
            t, name, extra = rows[k]
            if name == stage and not (name == "submit" and extra[1:2] == ["position"]):
                if name == "key":
                    marks["parsed"] = float(extra[0])
                marks[name] = t
                stage = next(want, None)
            k += 1
        points = [("sent", sent)]
        points += [(name, marks[name]) for name in ("parsed", *STAGES) if name in marks]
        points.append(("seen", seen))
        key: dict[str, Any] = {"total": round((seen - sent) * 1000, 1), "plan_index": n, "text": text}
        key.update({f"{a}->{b}": round((tb - ta) * 1000, 2) for (a, ta), (b, tb) in itertools.pairwise(points)})
        for name, spans in intervals.items():
            overlap = sum(max(0.0, min(e, seen) - max(s, sent)) for s, e in spans if e > sent and s < seen)
            key[name] = round(overlap * 1000, 1)
        per_key.append(key)
    stages: dict[str, dict] = {}
    for name in sorted({g for p in per_key for g in p} - {"plan_index", "text"}):
        vals = [p[name] for p in per_key if name in p]
        stages[name] = {"p50": round(statistics.median(vals), 2), "p99": round(pct(vals, 99), 2), "max": max(vals)}
    worst = sorted(per_key, key=lambda p: -p["total"])[:10]
    for key in worst:
        key.update(phase_of(key))
    slow = [phase_of(p)["phase"] for p in per_key if p["total"] > SLOW_MS]
    return {
        "stages_ms": stages,
        "slow_keys_by_phase": {name: slow.count(name) for name in sorted(set(slow))},
        "slowest_keys_ms": worst,
    }


def first_screen(argv: list[str], expect: str) -> float:
    tmux = Tmux(timeout=120)
    try:
        t = time.perf_counter()
        tmux.start(argv)
        tmux.wait_until(lambda: expect in tmux.capture(), expect)
        took = time.perf_counter() - t
        tmux.press("C-q")
        return took
    finally:
        tmux.kill()


def fresh_copy(src: Path, dst: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{dst}{suffix}")
        if p.exists():
            p.unlink()
    # a consistent copy through SQLite itself (the source may have a WAL)
    with sqlite3.connect(src) as s, sqlite3.connect(dst) as d:
        s.backup(d)
    d = sqlite3.connect(dst)
    d.execute("PRAGMA journal_mode = WAL")
    d.close()
    dst.chmod(0o600)
    return dst


def stats_over_runs(runs: list[dict]) -> dict:
    out: dict = {}
    for key in runs[0]:
        vals = [r[key] for r in runs]
        out[key] = {"min": min(vals), "median": round(statistics.median(vals), 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--keys", type=int, default=1000, help="keys that save a code, per run (>= 1000 for the goal)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", type=Path, help="an audit built by bench/coding_latency.py's build_audit, to reuse")
    ap.add_argument("--only", choices=["quiet", "hog"], help="only this load")
    ap.add_argument("--skip-first-screen", action="store_true")
    ap.add_argument("--src", type=Path, help="run chartcode from this src/ folder (e.g. an export of main)")
    ap.add_argument(
        "--trace", type=Path, help="folder: record a per-key trace (CHARTCODE_KEY_TRACE) and report where time goes"
    )
    ap.add_argument(
        "--compare", type=Path, help="also run chartcode from this src/ folder (e.g. main's), alternating, same keys"
    )
    ap.add_argument("--no-baseline", action="store_true", help="skip the raw-mode baseline")
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("terminal_latency: needs tmux")
    if args.trace:
        args.trace.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chartcode-bench-") as tmp_s:
        tmp = Path(tmp_s)
        t = time.perf_counter()
        src = args.db or build_audit(tmp, args.notes)
        build_s = time.perf_counter() - t
        plan = plan_keys(src, args.keys)
        result: dict = {"notes": args.notes, "build_s": round(build_s, 1), "keys_per_run": args.keys}
        for load in ("quiet", "hog") if args.only is None else (args.only,):
            hog = None
            if load == "hog":
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                per: dict[str, list[dict]] = {"chartcode": [], "compare": [], "baseline": []}
                for i in range(args.runs):
                    # chartcode, the --compare checkout, the baseline: alternating, so each run of
                    # one has the same machine as the others
                    for name, src_dir in (("chartcode", args.src), ("compare", args.compare)):
                        if name == "compare" and args.compare is None:
                            continue
                        db = fresh_copy(src, tmp / "run.db")
                        trace = args.trace / f"{name}-{load}-{i}.tsv" if args.trace else None
                        lat, parts = run_chartcode(db, plan, seed=i, src=src_dir, trace=trace)
                        per[name].append(summary(lat))
                        if parts is not None:
                            result.setdefault("trace", {})[f"{name}-{load}-{i}"] = parts
                    if not args.no_baseline:
                        db = fresh_copy(src, tmp / "base.db")
                        per["baseline"].append(summary(run_baseline(db, plan, seed=i)))
                result[load] = {
                    name: {"runs": runs, "over_runs": stats_over_runs(runs)} for name, runs in per.items() if runs
                }
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
        if not args.skip_first_screen:
            try:
                cc = []
                for i in range(args.runs):
                    # a copy per run: the last run's coding-screen claim is not this one's to meet
                    db = fresh_copy(src, tmp / f"first-{i}.db")
                    cc.append(first_screen(chartcode_argv(args.src, "code", str(db), "--coder", "intern"), "note 1 of"))
                bare = [first_screen([sys.executable, "-c", HELLO], "hello, first screen") for _ in range(args.runs)]
                result["first_screen_s"] = {
                    "chartcode": {"min": round(min(cc), 3), "median": round(statistics.median(cc), 3)},
                    "bare_textual": {"min": round(min(bare), 3), "median": round(statistics.median(bare), 3)},
                }
            except AssertionError as exc:  # the latency figures above are still printed
                result["first_screen_s"] = {"error": str(exc).splitlines()[0]}
        print(json.dumps(result))


if __name__ == "__main__":
    main()
