"""Reproducible double-coding samples: the same seed always draws the same records.

population = records assigned to --from CODER (or all records), sorted by id
simple:      random.Random(seed).sample(population, n)
stratified:  the population split by the --from coder's submitted value of FIELD
             (records without one form their own stratum); n allocated in proportion
             to stratum size (largest remainders, at least one per non-empty stratum
             while n allows), then a simple sample in each stratum with Random(f"{seed}:{stratum}")
"""

from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass
from typing import Any

from chartcode.errors import UserError
from chartcode.store.store import Store


@dataclass
class Sample:
    record_ids: list[str]
    population: int
    seed: int
    description: str


def population(store: Store, from_coder: str | None) -> list[str]:
    if from_coder is None:
        return store.record_ids()
    store.require_coder(from_coder)
    return [a["record_id"] for a in store.assignments(from_coder)]


def draw(
    store: Store,
    *,
    n: int | None = None,
    fraction: float | None = None,
    seed: int | None = None,
    from_coder: str | None = None,
    stratify: str | None = None,
) -> Sample:
    pop = sorted(population(store, from_coder))
    if not pop:
        raise UserError(
            "nothing to sample from: "
            + (f"{from_coder} has no assigned records" if from_coder else "the audit has no records")
        )
    if (n is None) == (fraction is None):
        raise UserError("give exactly one of --n N or --sample FRACTION")
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise UserError(f"--sample {fraction}: a fraction between 0 and 1 (e.g. 0.25)")
        n = max(1, round(fraction * len(pop)))
    assert n is not None
    if n < 1:
        raise UserError("--n must be at least 1")
    if n > len(pop):
        raise UserError(f"--n {n} is more than the {len(pop)} records to sample from")
    if seed is None:
        seed = secrets.randbelow(10**9)
    if stratify is None:
        chosen = random.Random(seed).sample(pop, n)
        how = f"simple random sample of {n} from {len(pop)} (seed {seed})"
    else:
        chosen = _stratified(store, pop, n, seed, stratify, from_coder)
        how = f"sample of {n} from {len(pop)} stratified by {stratify} (seed {seed})"
    return Sample(sorted(chosen), len(pop), seed, how)


def _stratified(store: Store, pop: list[str], n: int, seed: int, field: str, from_coder: str | None) -> list[str]:
    fld = store.codebook.get(field)
    if fld is None:
        raise UserError(f"--stratify: unknown field {field!r}")
    if fld.level != "record":
        raise UserError(f"--stratify: {field!r} is coded per note; choose a record-level field")
    values: dict[str, Any] = {}
    for rid, value in store.submitted_record_values(field, coder=from_coder):
        values.setdefault(rid, value)
    strata: dict[str, list[str]] = {}
    for rid in pop:
        v = values.get(rid)
        strata.setdefault("(none)" if v is None else str(v), []).append(rid)
    keys = sorted(strata)
    quotas = {k: n * len(strata[k]) / len(pop) for k in keys}
    alloc = {k: math.floor(q) for k, q in quotas.items()}
    if n >= len(keys):
        for k in keys:
            alloc[k] = max(alloc[k], 1)
    while sum(alloc.values()) > n:  # the at-least-one rule overshot: take from the largest
        k = max(keys, key=lambda k: (alloc[k] - quotas[k], alloc[k]))
        alloc[k] -= 1
    for k in sorted(keys, key=lambda k: (-(quotas[k] - math.floor(quotas[k])), k)):
        if sum(alloc.values()) >= n:
            break
        if alloc[k] < len(strata[k]):
            alloc[k] += 1
    chosen: list[str] = []
    for k in keys:
        take = min(alloc[k], len(strata[k]))
        chosen += random.Random(f"{seed}:{k}").sample(strata[k], take)
    return chosen
