"""Benchmark: `chartcode import` of N chart notes (~2 KB each) against a raw sqlite3 baseline.

    python bench/import_notes.py [--notes 100000]

Prints one JSON line: notes, chartcode_s, raw_s, ratio, peak_rss_mb. The baseline, run
in the same process on the same CSV, is what any importer must at least do: parse the
CSV, `executemany` the rows into a table and build an FTS5 index over the text. chartcode
additionally validates every row, checks note ids against the database, hashes content,
registers records and writes history, all in one atomic transaction. Target ratio <= 2.0.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (  # noqa: SIM905 (a word list reads better as one text than as 35 quoted items)
    "pain medication opioid taper relaxation breathing pacing sleep mood function walking veteran reports "
    "assessment intervention coping skills follow-up phone group individual psychology pharmacy clinic "
    "education biopsychosocial goals activity flare stress depression anxiety support plan review"
).split()


def make_csv(path: Path, n: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "note_id", "note_date", "note_type", "author", "text"])
        for i in range(n):
            rec = f"VET-{i // 4:06d}"
            words = rng.choices(WORDS, k=300)  # ~2 KB
            w.writerow(
                [
                    rec,
                    f"{rec}-N{i % 4}",
                    f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    rng.choice(["conjoint", "phone", "individual", "group"]),
                    "Dr. Example",
                    " ".join(words),
                ]
            )
    return path.stat().st_size


def raw_baseline(csv_path: Path, db_path: Path) -> float:
    t0 = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, record_id TEXT, note_id TEXT UNIQUE, note_date TEXT,"
        " note_type TEXT, author TEXT, text TEXT)"
    )
    conn.execute("BEGIN")
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        next(rows)
        conn.executemany(
            "INSERT INTO notes(record_id, note_id, note_date, note_type, author, text) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
    conn.execute("CREATE VIRTUAL TABLE notes_fts USING fts5(text, content='notes', content_rowid='id')")
    conn.execute("INSERT INTO notes_fts(rowid, text) SELECT id, text FROM notes")
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - t0


def chartcode_import(csv_path: Path, db_path: Path) -> float:
    cmd = [sys.executable, "-m", "chartcode"]
    subprocess.run([*cmd, "init", str(db_path), "--audit", "conjoint-pain"], check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run([*cmd, "import", str(db_path), str(csv_path)], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv_path = tmp / "notes.csv"
        size = make_csv(csv_path, args.notes)
        raw_s = raw_baseline(csv_path, tmp / "raw.db")
        cc_s = chartcode_import(csv_path, tmp / "cc.db")
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(
            json.dumps(
                {
                    "notes": args.notes,
                    "csv_mb": round(size / 1e6, 1),
                    "chartcode_s": round(cc_s, 2),
                    "raw_s": round(raw_s, 2),
                    "ratio": round(cc_s / raw_s, 2),
                    "peak_rss_mb": round(peak_kb / 1024, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
