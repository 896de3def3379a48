"""The branching test audit (tests/data/branching): 8 records coded by intern and supervisor.

    record  intern (accepted, type)   supervisor (accepted, type)
    R1      1, 1                      1, 1
    R2      1, 2                      1, 2
    R3      1, 3                      1, 1        type: a value disagreement
    R4      1, 1                      1, 1
    R5      0, -                      0, -        type: n/a for both
    R6      0, -                      1, 2        type: applicability disagreement
    R7      1, 2                      0, -        type: applicability disagreement
    R8      0, 3 (stale)              0, 2 (stale)  type: n/a for both; stale codes ignored

Dates (intern and supervisor alike): R1 referred 2024-01-01, first visit 2024-01-15 (wait 14
days); R2 referred 2024-02-01, first visit 2024-03-01 (29 days); R5 referred 2024-01-10 and a
stale first visit 2024-01-20 (does not apply: wait n/a).
"""

from __future__ import annotations

from pathlib import Path

from chartcode.codebook import load_codebook
from chartcode.store import Store

CODEBOOK = Path(__file__).parent / "data" / "branching" / "followup.yaml"

CODES = {
    "intern": {
        "R1": (1, 1),
        "R2": (1, 2),
        "R3": (1, 3),
        "R4": (1, 1),
        "R5": (0, None),
        "R6": (0, None),
        "R7": (1, 2),
        "R8": (0, 3),
    },
    "supervisor": {
        "R1": (1, 1),
        "R2": (1, 2),
        "R3": (1, 1),
        "R4": (1, 1),
        "R5": (0, None),
        "R6": (1, 2),
        "R7": (0, None),
        "R8": (0, 2),
    },
}
DATES = {
    "R1": ("2024-01-01", "2024-01-15"),
    "R2": ("2024-02-01", "2024-03-01"),
    "R5": ("2024-01-10", "2024-01-20"),
}


def branching_store(path: Path, *, submit: bool = True) -> Store:
    """The audit above in a new file at ``path`` (every record submitted by both coders)."""
    s = Store.create(path, load_codebook(CODEBOOK), coders=[("intern", "coder"), ("supervisor", "supervisor")])
    ids = [f"R{i}" for i in range(1, 9)]
    s.add_records(ids)
    for coder, codes in CODES.items():
        s.assign(coder, ids)
        for rid, (accepted, ftype) in codes.items():
            s.set_code(coder, rid, "accepted_followup", accepted)
            if ftype is not None:
                s.set_code(coder, rid, "followup_type", ftype)
            if rid in DATES:
                s.set_code(coder, rid, "referral_date", DATES[rid][0])
                s.set_code(coder, rid, "first_visit", DATES[rid][1])
            if submit:
                s.submit(coder, rid)
    return s
