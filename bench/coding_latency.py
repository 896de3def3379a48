"""Benchmark: the coding screen on a 100,000-note audit, driven headless.

    python bench/coding_latency.py [--notes 100000] [--keys 300]

Prints one JSON line:
  first_screen_s     app start -> first record shown with its form (target < 1.5 s;
                     `hello_world_s` is a bare Textual app measured the same way, same process)
  key_to_commit_ms   p50/p99 from a digit key press (sent as the terminal driver sends it) to
                     its transaction committed (target p99 < 50 ms; `bare_commit_ms` is a raw
                     sqlite3 INSERT+COMMIT with the same synchronous=FULL, same process, for scale)
  key_to_saved_shown_ms  the same key until the screen has handled the commit (one frame later)
  peak_rss_mb        of this process while the screen runs (the audit is built by a child process)
  keystrokes_per_record and fields_per_record for the conjoint codebook (target: one per field
                     plus one to finish; typed fields cost their characters and Enter)
  demo_keystrokes    keystrokes per record of the 24 demo records (min/median/max), counted from
                     what the coding screen asks for: the targets that apply given the record's
                     codes (Codebook.form), each a digit for a choice, the characters and Enter
                     for a typed value (none where the value saves itself), Tab past an optional
                     field left blank, and d to finish. "before": the codebook without its show_if
                     and the codes as coded then (a 0 in each follow-up field of a veteran who
                     declined); "after": with the conditions, whose fields the screen skips.

    python bench/coding_latency.py --keystrokes-only   (the demo figures alone, in a second)

    python bench/coding_latency.py --per-key [--keys 300] [--db AUDIT.db] [--compare SRC] [--runs 2]

What each key costs the UI thread, in counts a busy machine does not change: the keys a coder types
(bench/terminal_latency.py's plan: a choice key per choice field, "61"/"50" for the counts, d to
finish) sent as the terminal driver sends them, each followed by a 120 ms pause in which the
screen draws; per key, the UI thread's CPU milliseconds (``time.thread_time``), the screen's layout
passes and paints, and the UI CPU spent in each (a layout pass's own paint counted as paint).
``--compare SRC`` runs the same keys on another checkout's src/ (an export of main) in its own
process, alternating with this one ``--runs`` times each.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from import_notes import WORDS  # noqa: E402


def build_audit(tmp: Path, n_notes: int) -> Path:
    """n_notes notes over n_notes/4 records (one conjoint note and three follow-ups each), all assigned."""
    rng = random.Random(7)
    notes = tmp / "notes.csv"
    with open(notes, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "note_date", "note_type", "author", "text"])
        for i in range(n_notes):
            rec = f"R{i // 4:06d}"
            kind = "conjoint" if i % 4 == 0 else rng.choice(["phone", "individual", "group"])
            w.writerow(
                [
                    rec,
                    f"{rec}-N{i % 4}",
                    f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    kind,
                    "Dr. Example",
                    " ".join(rng.choices(WORDS, k=300)),
                ]
            )
    db = tmp / "bench.db"
    cmd = [sys.executable, "-m", "chartcode"]
    subprocess.run([*cmd, "init", str(db), "--audit", "conjoint-pain"], check=True, capture_output=True)
    subprocess.run([*cmd, "import", str(db), str(notes)], check=True, capture_output=True)
    # assign every record to the intern (a bulk assignment, as `chartcode assign --all` will do)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom chartcode.store import Store\n"
            "s = Store.open(sys.argv[1]); s.assign('intern', s.record_ids()); s.close()",
            str(db),
        ],
        check=True,
    )
    return db


async def coding_screen_up(app: Any, pilot: Any) -> Any:
    """The app's coding screen once it shows its first record (one more pause for its first paint)."""
    screen = app.coding_screen
    while screen is None or screen.view is None:
        await pilot.pause()
        screen = app.coding_screen
    await pilot.pause()
    return screen


async def hello_world_seconds() -> float:
    from textual.app import App
    from textual.widgets import Static

    class Hello(App):
        def compose(self):
            yield Static("hello")

    t0 = time.perf_counter()
    async with Hello().run_test(size=(120, 40)) as pilot:
        await pilot.pause()
    return time.perf_counter() - t0


async def timed_key(app, screen, key: str) -> tuple[float, float]:
    """Send one key as the terminal driver does; seconds until its code is committed, and until
    the screen has handled the commit (shown as saved).

    (Pilot.press is not used for timing: it waits for the screen to go idle, ~60 ms even for a
    hello-world app.)
    """
    from textual import events

    before = len(screen.commit_seconds)
    last = screen.writer.last_job
    event = events.Key(key, key)
    event.set_sender(app)
    t = time.perf_counter()
    app._driver.send_message(event)
    while len(screen.commit_seconds) == before:
        if time.perf_counter() - t > 30:  # a key the screen did not save: say so, never spin forever
            raise RuntimeError(f"key {key!r} on {screen.current_slot.field.name} saved nothing in 30 s")
        await asyncio.sleep(0)
    shown = time.perf_counter() - t
    job = screen.writer.last_job
    assert job is not last and job.committed is not None
    return job.committed - t, shown


async def drive(db: Path, n_keys: int) -> dict:
    from chartcode.store import Store
    from chartcode.tui.app import ChartcodeApp

    t0 = time.perf_counter()
    app = ChartcodeApp(Store.open(db), "intern", frozen_clock=True)
    result: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await coding_screen_up(app, pilot)
        result["first_screen_s"] = time.perf_counter() - t0
        result["queue_rows"] = screen.query_one("#queue").row_count

        async def settled() -> None:
            while screen.writer.pending() or screen.pending:
                await asyncio.sleep(0.0002)
            await pilot.pause()

        latencies = []
        shown = []
        keystrokes = 0
        records = 0
        fields = 0
        while len(latencies) < n_keys:
            view = screen.view
            fields = len(view.slots)
            strokes = 0
            for index, slot in enumerate(view.slots):
                f = slot.field
                if not screen.applies(index):  # n/a (show_if false for the codes so far): the screen skips it
                    continue
                if f.has_choices:
                    from chartcode.tui.widgets.coding_form import choice_keys

                    if not f.required:
                        await pilot.press("tab")
                        strokes += 1
                        continue
                    key = next(iter(choice_keys(f)))
                    commit_s, shown_s = await timed_key(app, screen, key)
                    latencies.append(commit_s)
                    shown.append(shown_s)
                    await pilot.pause()
                    strokes += 1
                else:
                    value = "61" if f.name == "age" else "0"
                    slot_index = screen.cursor
                    await pilot.press(*value)
                    await settled()
                    strokes += len(value)
                    if screen.cursor == slot_index:  # the field still waits for Enter
                        await pilot.press("enter")
                        await settled()
                        strokes += 1
            await pilot.press("d")
            await settled()
            strokes += 1
            records += 1
            keystrokes = strokes
        await pilot.press("ctrl+q")
    result.update(
        key_to_commit_ms={
            "p50": round(statistics.median(latencies) * 1000, 2),
            "p99": round(statistics.quantiles(latencies, n=100)[98] * 1000, 2),
            "n": len(latencies),
        },
        key_to_saved_shown_ms={
            "p50": round(statistics.median(shown) * 1000, 2),
            "p99": round(statistics.quantiles(shown, n=100)[98] * 1000, 2),
        },
        keystrokes_per_record=keystrokes,
        fields_per_record=fields,
        records_coded=records,
    )
    return result


def _strokes(cb, notes: list, values: dict) -> int:
    from chartcode.tui.widgets.coding_form import key_for

    n = 1  # d: done
    for nid, f in cb.form(notes, values).applicable():
        v = values.get((nid, f.name))
        if v is None:
            n += 1  # Tab past an optional field left blank
        elif f.has_choices:
            n += len(key_for(f, v))
        else:
            text = str(v)
            n += len(text) + (0 if f.kind.saves_itself(f, text) else 1)
    return n


def demo_keystrokes() -> dict:
    """Keystrokes per demo record before and after the conjoint codebook's conditions."""
    from dataclasses import replace

    from chartcode import demo
    from chartcode.codebook import load_codebook

    cb = load_codebook(Path(__file__).resolve().parents[1] / "codebooks" / "conjoint-pain.yaml")
    plain = replace(cb, fields=tuple(replace(f, show_if="") for f in cb.fields))
    counts: dict[str, list[int]] = {"before": [], "after": []}
    for record in demo.make_records():
        notes = [(n.note_id, n.note_type) for n in record.notes]
        for key, book, conditions in (("before", plain, False), ("after", cb, True)):
            values = {(nid or None, f): v for _, nid, f, v, _ in demo.truth_codes(record, conditions)}
            counts[key].append(_strokes(book, notes, values))
    return {
        k: {"min": min(v), "median": statistics.median(v), "max": max(v), "total": sum(v), "records": len(v)}
        for k, v in counts.items()
    }


def bare_commit_ms(tmp: Path, n: int = 300) -> float:
    conn = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    times = []
    for i in range(n):
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?, ?)", (i, "x"))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t)
    conn.close()
    return round(statistics.median(times) * 1000, 3)


async def per_key_costs(db: Path, n_keys: int) -> dict:
    """UI CPU ms, layout passes and paints per key over ``n_keys`` saving keys (see the docstring)."""
    from textual import events

    from chartcode.store import Store
    from chartcode.tui.app import ChartcodeApp
    from terminal_latency import plan_keys

    plan = plan_keys(db, n_keys)
    app = ChartcodeApp(Store.open(db), "intern", frozen_clock=True)
    counts = {"layout": 0, "paint": 0}
    cpu_in = {"layout": 0.0, "paint": 0.0}  # UI CPU seconds inside each (a layout's own paint: paint)
    inside: list[str] = []

    def counted(screen: Any, method: str) -> None:
        inner = getattr(screen, method)
        name = "layout" if method == "_refresh_layout" else "paint"

        def call(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            inside.append(name)
            t = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                took = time.thread_time() - t
                inside.pop()
                cpu_in[name] += took
                if inside:  # a paint run by a layout pass: counted once, as paint
                    cpu_in[inside[-1]] -= took

        setattr(screen, method, call)

    async with app.run_test(size=(120, 40)) as pilot:
        screen = await coding_screen_up(app, pilot)
        await asyncio.sleep(0.5)  # start-up's own redraws
        counted(screen, "_refresh_layout")
        counted(screen, "_compositor_refresh")
        keys = 0
        cpu = time.thread_time()
        for text, saves, _expect in plan:
            before = screen.writer.last_job
            event = events.Key(text, text)
            event.set_sender(app)
            app._driver.send_message(event)
            keys += 1
            t = time.perf_counter()
            while saves and (screen.writer.last_job is before or screen.writer.pending() or screen.pending):
                if time.perf_counter() - t > 30:
                    raise RuntimeError(f"key {text!r} saved nothing in 30 s")
                await asyncio.sleep(0.0005)
            await asyncio.sleep(0.12)  # a coder's pause: the screen draws meanwhile
        cpu = time.thread_time() - cpu
        await pilot.press("ctrl+q")
    return {
        "keys": keys,
        "ui_cpu_ms_per_key": round(cpu * 1000 / keys, 2),
        "layouts_per_key": round(counts["layout"] / keys, 3),
        "paints_per_key": round(counts["paint"] / keys, 3),
        "layout_cpu_ms_per_key": round(cpu_in["layout"] * 1000 / keys, 2),
        "paint_cpu_ms_per_key": round(cpu_in["paint"] * 1000 / keys, 2),
    }


def per_key_main(args: argparse.Namespace) -> None:
    from terminal_latency import fresh_copy

    if args.child:  # one measurement in this process, of whichever chartcode is first on the path
        print(json.dumps(asyncio.run(per_key_costs(args.db, args.keys))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or build_audit(Path(tmp), args.notes)
        here = str(Path(__file__).resolve().parents[1] / "src")
        runs: dict[str, list[dict]] = {"chartcode": [], "compare": []}
        for _ in range(args.runs):
            for name, src in (("chartcode", here), ("compare", args.compare)):
                if src is None:
                    continue
                # every run codes the same records from the same start: a fresh copy of the audit
                run_db = fresh_copy(db, Path(tmp) / "run.db")
                boot = (
                    f"import runpy, sys; sys.path.insert(0, {str(src)!r}); sys.argv[0] = {__file__!r};"
                    f" runpy.run_path({__file__!r}, run_name='__main__')"
                )
                child = [
                    sys.executable,
                    "-c",
                    boot,
                    "--per-key",
                    "--child",
                    "--db",
                    str(run_db),
                    "--keys",
                    str(args.keys),
                ]
                out = subprocess.run(child, check=True, capture_output=True, text=True).stdout
                runs[name].append(json.loads(out.strip().splitlines()[-1]))
        result: dict = {
            "notes": args.notes,
            "keys_per_run": args.keys,
            "load_avg": [round(x, 2) for x in os.getloadavg()],
        }
        for name, got in runs.items():
            if got:
                result[name] = {
                    "runs": got,
                    "median": {k: round(statistics.median(r[k] for r in got), 3) for k in got[0] if k != "keys"},
                }
        print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=100_000)
    ap.add_argument("--keys", type=int, default=300)
    ap.add_argument("--keystrokes-only", action="store_true", help="print only the demo keystroke figures")
    ap.add_argument("--per-key", action="store_true", help="UI CPU, layouts and paints per key (see above)")
    ap.add_argument("--db", type=Path, help="--per-key: an audit built by build_audit, to reuse")
    ap.add_argument("--compare", type=Path, help="--per-key: also run this checkout's src/, alternating")
    ap.add_argument("--runs", type=int, default=2, help="--per-key: runs of each")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.per_key:
        per_key_main(args)
        return
    if args.keystrokes_only:
        print(json.dumps({"demo_keystrokes": demo_keystrokes()}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        db = build_audit(tmp, args.notes)
        build_s = time.perf_counter() - t
        hello = asyncio.run(hello_world_seconds())
        result = asyncio.run(drive(db, args.keys))
        out = {
            "notes": args.notes,
            "build_s": round(build_s, 1),
            "first_screen_s": round(result["first_screen_s"], 3),
            "hello_world_s": round(hello, 3),
            "key_to_commit_ms": result["key_to_commit_ms"],
            "key_to_saved_shown_ms": result["key_to_saved_shown_ms"],
            "bare_commit_ms": bare_commit_ms(tmp),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "keystrokes_per_record": result["keystrokes_per_record"],
            "fields_per_record": result["fields_per_record"],
            "records_coded": result["records_coded"],
            "queue_rows": result["queue_rows"],
            "demo_keystrokes": demo_keystrokes(),
        }
        print(json.dumps(out))


if __name__ == "__main__":
    main()
