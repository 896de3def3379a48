"""How many real REDCap data dictionaries round-trip each column unchanged.

    python bench/redcap_roundtrip.py [DICTIONARY.csv ...]   (default: tests/data/redcap/*.csv)

Each dictionary goes through ``chartcode codebook import-redcap`` and ``chartcode codebook
export --format redcap``; pandas reads both files as text and compares them column by column
(a column counts as unchanged when every row's cell is the same, rows matched by position).
Dictionaries chartcode refuses (exit 2) are listed and not counted.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "redcap"


def read(path: Path) -> pd.DataFrame:
    """A dictionary as pandas reads it (every cell text, blanks as ''), columns by REDCap label."""
    from chartcode.codebook.redcap import API

    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    df.columns = [c.strip() for c in df.columns]
    by_api = {v: k for k, v in API.items()}
    return df.rename(columns={c: by_api[c.lower()] for c in df.columns if c.lower() in by_api})


def round_trip(src: Path, work: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(original, exported, warnings) for one dictionary."""
    from chartcode.codebook import load_codebook
    from chartcode.codebook.redcap import codebook_to_redcap, redcap_to_yaml

    text, warnings = redcap_to_yaml(src)
    yaml_path = work / f"{src.stem}.yaml"
    yaml_path.write_text(text, encoding="utf-8")
    out = work / f"{src.stem}.csv"
    codebook_to_redcap(load_codebook(yaml_path), out)
    original = read(src)  # an API header is compared under the same labels
    original = original[[c for c in original.columns if c]]
    # the original's blank rows are not rows of the dictionary
    original = original[(original != "").any(axis=1)].reset_index(drop=True)
    return original, read(out), warnings


def unchanged_columns(original: pd.DataFrame, exported: pd.DataFrame) -> dict[str, bool]:
    """Column of the original -> whether the export has it with the same cells in the same rows."""
    out = {}
    for col in original.columns:
        if col not in exported.columns or len(exported) != len(original):
            out[col] = False
            continue
        a = original[col].str.replace("\r\n", "\n").reset_index(drop=True)
        b = exported[col].str.replace("\r\n", "\n").reset_index(drop=True)
        out[col] = bool((a == b).all())
    return out


def main(argv: list[str]) -> int:
    from chartcode.codebook.redcap import COLUMNS
    from chartcode.errors import UserError

    paths = [Path(a) for a in argv] or sorted(DATA.glob("*.csv"))
    counts = {c: [0, 0] for c in COLUMNS}  # unchanged, had the column
    refused = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in paths:
            try:
                original, exported, _ = round_trip(p, Path(tmp))
            except UserError as e:
                refused.append(f"{p.name}: {e}")
                continue
            for col, same in unchanged_columns(original, exported).items():
                if col in counts:
                    counts[col][1] += 1
                    counts[col][0] += same
    n = len(paths) - len(refused)
    print(f"{n} dictionaries round-tripped through import-redcap and export --format redcap")
    width = max(len(c) for c in COLUMNS)
    for col, (same, had) in counts.items():
        print(f"  {col:<{width}}  {same:>3} of {had:>3} unchanged")
    for r in refused:
        print(f"refused: {r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
