"""Agreement's read of a SQLite store: every field's matrix from one aggregate query, no Python object per code.

:func:`collect_packed` is what :func:`chartcode.agreement.collect.collect` runs on a SQLite store;
it gives the same :class:`Ratings` as the frame read (chartcode.dataset.submitted_codes; tests
compare them), at a fraction of the cost on a large audit:

* The store sends the submitted codes with an integer value as three comma-separated strings
  built inside SQLite while it scans (field and coder positions, unit, value:
  ``Store.packed_codes``), which numpy parses; only codes with another type of value
  (text, real) come as rows. Units are numbered by the rowid of their record or note, and ranked in
  (record_id, note_key) order from the records and notes tables.
* While SQLite scans (the sqlite3 module releases the GIL while it steps), a thread imports the
  statistics libraries the coefficients need (chartcode.agreement.libraries: statsmodels, which
  brings pandas, without the scipy.stats it does not need here; scipy.sparse; krippendorff): on two
  cores the import no longer adds to the scan.
* Values are encoded once per distinct value (``_encode_column`` on the distinct values), not once
  per code.
* A conditional field's applicability (chartcode.applicability) is asked once per distinct
  combination of what its condition reads, of a real coder's Form
  (:class:`~chartcode.applicability.SharedForm` through the store's memoised
  :class:`~chartcode.applicability.Answers`), instead of once per unit and coder.

Data this read does not take (a code whose note is not a note of its record, a coder the store does
not list, a condition that reads itself through a cycle) makes :func:`collect_packed` return None,
and collect reads the frame instead.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np

from chartcode.agreement.collect import Ratings, _calc_ratings, _encode_column, _through_logic
from chartcode.agreement.libraries import LIBRARIES, import_libraries
from chartcode.codebook import Field
from chartcode.store.dataset_queries import unpack_ints


def _second_cpu() -> bool:
    """This process may run on a second CPU: the store scans half the codes on it."""
    try:
        return len(os.sched_getaffinity(0)) >= 2
    except (AttributeError, OSError):  # (no sched_getaffinity: macOS, Windows)
        return (os.cpu_count() or 1) >= 2


@dataclass
class _Codes:
    """Every submitted code on a closed record, one entry per code (codebook fields only)."""

    field: np.ndarray  # position in the codebook's fields
    coder: np.ndarray  # position in store.coders()
    unit: np.ndarray  # unit code: 2 * record rowid, or 2 * note id + 1
    vid: np.ndarray  # index into values
    values: list[Any]  # the distinct integer values, then each other value
    coders: list[str]
    rank: np.ndarray  # unit code -> rank in (record_id, note_key) order (-1: no such unit)
    names: list[tuple[str, str]]  # by rank: (record_id, note_key)
    code_by_rank: np.ndarray  # rank -> unit code
    record_of: np.ndarray  # unit code -> unit code of its record
    note_of: dict[int, tuple[str, str | None]]  # note unit code -> (note_id, note_type)
    notes_of: dict[int, list[int]]  # record unit code -> its notes' unit codes
    # what every conditional field's applicability starts from, worked out once (_shared)
    memo: dict[Any, Any] = dc_field(default_factory=dict)


def _read(store) -> _Codes | None:
    cb = store.codebook
    names = [f.name for f in cb.fields]
    coders = [c["name"] for c in store.coders()]
    nc = len(coders) + 1
    packed = store.packed_codes(names, coders, split=_second_cpu())
    fc, unit, value = unpack_ints(packed.field_coder), unpack_ints(packed.unit), unpack_ints(packed.value)
    records, notes, other_rows = packed.records, packed.notes, packed.other
    del packed
    keep = fc >= 0  # fields of the codebook
    fc, unit, value = fc[keep], unit[keep], value[keep]
    field, coder = fc // nc, fc % nc
    if (coder == len(coders)).any() or (unit < 0).any():
        return None
    # units: codes and names
    rowid = {rid: int(r) for r, rid in records}
    code_names: dict[int, tuple[str, str]] = {2 * r: (rid, "") for rid, r in rowid.items()}
    note_of: dict[int, tuple[str, str | None]] = {}
    notes_of: dict[int, list[int]] = {}
    note_code: dict[tuple[str, str], int] = {}
    for nid, note_id, rid, ntype in notes:
        code = 2 * int(nid) + 1
        code_names[code] = (rid, note_id)
        note_of[code] = (note_id, ntype)
        note_code[(rid, note_id)] = code
        if rid in rowid:
            notes_of.setdefault(2 * rowid[rid], []).append(code)
    # the other values, row by row
    values: list[Any]
    low = int(value.min()) if len(value) else 0
    if len(value) and int(value.max()) - low < 2 * len(value):  # codes: a few small integers (no sort)
        distinct, vid = _unique_below(value - low, int(value.max()) - low + 1)
        distinct += low
    else:
        distinct, vid = np.unique(value, return_inverse=True)
    values = distinct.tolist()
    if other_rows:
        field_at = {n: i for i, n in enumerate(names)}
        coder_at = {n: i for i, n in enumerate(coders)}
        extra = []
        for fname, rid, nkey, cname, v in other_rows:
            i = field_at.get(fname)
            if i is None:
                continue
            place = note_code.get((rid, nkey)) if nkey else (2 * rowid[rid] if rid in rowid else None)
            if place is None or cname not in coder_at:
                return None
            extra.append((i, coder_at[cname], place, len(values)))
            values.append(v)
        if extra:
            e = np.array(extra, dtype=np.int64)
            field = np.concatenate([field, e[:, 0]])
            coder = np.concatenate([coder, e[:, 1]])
            unit = np.concatenate([unit, e[:, 2]])
            vid = np.concatenate([vid.ravel(), e[:, 3]])
    size = max([*code_names, -1]) + 1
    if len(unit) and unit.max() >= size:
        return None
    ordered = sorted(code_names, key=code_names.__getitem__)
    rank = np.full(size, -1, dtype=np.int64)
    rank[np.array(ordered, dtype=np.int64)] = np.arange(len(ordered))
    if len(unit) and (rank[unit] < 0).any():
        return None
    record_of = np.full(size, -1, dtype=np.int64)
    for code, (rid, _) in code_names.items():
        record_of[code] = 2 * rowid[rid] if rid in rowid else -1
    return _Codes(
        field,
        coder,
        unit,
        vid.ravel(),
        values,
        coders,
        rank,
        [code_names[c] for c in ordered],
        np.array(ordered, dtype=np.int64),
        record_of,
        note_of,
        notes_of,
    )


def collect_packed(store, fields: list[Field]) -> list[Ratings] | None:
    """:func:`chartcode.agreement.collect.collect` for ``fields`` (None: data this read does not take)."""
    warm = None
    if any(name not in sys.modules for name in LIBRARIES):
        warm = threading.Thread(target=import_libraries, name="chartcode-agreement-imports", daemon=True)
        warm.start()
    try:
        codes = _read(store)  # the SQL and numpy only: nothing imported here while the thread imports
    finally:
        if warm is not None:
            warm.join()
    if codes is None:
        return None
    import pandas as pd

    cb = store.codebook
    position = {f.name: i for i, f in enumerate(cb.fields)}
    # (small integers: numpy's stable sort of them is a radix sort, the same order as of int64)
    by_field = np.argsort(codes.field.astype(np.int16 if len(cb.fields) < 2**15 else np.int64), kind="stable")
    bounds = np.searchsorted(codes.field[by_field], np.arange(len(cb.fields) + 1))
    order = {c: i for i, c in enumerate(codes.coders)}
    out: list[Ratings] = []
    logic = cb.has_logic
    for fld in fields:
        if logic and fld.is_calc:
            out.append(_through_logic(store, _calc_ratings(store, fld, order)))
            continue
        i = position[fld.name]
        rows = by_field[bounds[i] : bounds[i + 1]]
        present = np.nonzero(np.bincount(codes.coder[rows], minlength=len(codes.coders)))[0]
        coders = [codes.coders[j] for j in present]
        ukeys, u = _unique_below(codes.rank[codes.unit[rows]], len(codes.names))
        units = [codes.names[k] for k in ukeys.tolist()]
        matrix = np.full((len(units), len(coders)), np.nan)
        categories: list[str] = []
        unreadable = 0
        if len(rows):
            column = np.full(len(codes.coders) + 1, -1, dtype=np.int64)
            column[present] = np.arange(len(present))
            c = column[codes.coder[rows]]
            vids, inverse = _unique_below(codes.vid[rows], len(codes.values))
            g = pd.Series([codes.values[j] for j in vids.tolist()], dtype=object)
            xs, categories = _encode_column(fld, g)
            x = xs[inverse]
            ok = ~np.isnan(x)
            unreadable = int((~ok).sum())
            if fld.missing_codes:  # a scale's "cannot rate" is a missing rating, not an unreadable one
                unreadable -= int(g.isin(fld.missing_codes).to_numpy()[inverse].sum())
            matrix[u[ok], c[ok]] = x[ok]
        rt = Ratings(fld, units, coders, matrix, categories, unreadable)
        if logic and fld.show_if and not _applicability(store, codes, rt, ukeys):
            rt = _through_logic(store, rt)
        out.append(rt)
    return out


def _applicability(store, codes: _Codes, rt: Ratings, ukeys: np.ndarray) -> bool:
    """:func:`chartcode.agreement.collect._through_logic` for a conditional field, asking the
    condition once per distinct combination of what it reads (False: not for this codebook)."""
    from chartcode.applicability import SharedForm, answers, logic_fields

    cb = store.codebook
    fld = rt.field
    shared = answers(store)
    reads = shared.reads(fld.name)
    if reads is None:  # a cycle: the answer depends on the order of the questions
        return False
    position = {f.name: i for i, f in enumerate(cb.fields)}
    nc = len(codes.coders) + 1
    lrows, rec, coder = _shared(
        codes, "logic", lambda: _logic_pairs(codes, [position[n] for n in logic_fields(cb, shared)])
    )
    # the field's places on each record, for each of those coders
    if fld.level == "note":
        place_list, pair_list = [], []
        for k, r in enumerate(rec.tolist()):
            for n in codes.notes_of.get(r, []):
                if fld.applies_to(codes.note_of[n][1]):
                    place_list.append(n)
                    pair_list.append(k)
        place = np.array(place_list, dtype=np.int64)
        at = np.array(pair_list, dtype=np.int64)
    else:
        place, at = rec, np.arange(len(rec))
    pcoder = coder[at]
    # what the answer reads: the note's type, the coder's value of each field read there
    columns = []
    if fld.level == "note":
        types = {t: i for i, t in enumerate(sorted({codes.note_of[n][1] or "" for n in place.tolist()}))}
        columns.append(np.array([types[codes.note_of[n][1] or ""] for n in place.tolist()], dtype=np.int64))
    for name, note_level in reads:
        key, gv = _shared(codes, ("values", name), lambda name=name: _values_by_place(codes, position[name]))
        where = (place if note_level else codes.record_of[place]) * nc + pcoder
        j = np.minimum(np.searchsorted(key, where), max(len(key) - 1, 0))
        hit = (key[j] == where) if len(key) else np.zeros(len(where), dtype=bool)
        columns.append(np.where(hit, gv[j] if len(key) else 0, -1))
    applies = np.ones(len(place), dtype=bool)
    if len(place):
        table = np.stack(columns, axis=1) if columns else np.zeros((len(place), 1), dtype=np.int64)
        first, inverse = _distinct_rows(table)
        answer = np.array(
            [_ask(store, codes, shared, SharedForm, lrows, int(place[i]), int(pcoder[i]), fld) for i in first],
            dtype=bool,
        )
        applies = answer[inverse]
    # per place: coders, and coders for whom it applies
    places, which = np.unique(place, return_inverse=True)
    which = which.ravel()
    n_coders = np.bincount(which, minlength=len(places))
    n_apply = np.bincount(which, weights=applies, minlength=len(places)).astype(np.int64)
    rt.applicability_disagreements = int(((n_apply > 0) & (n_apply < n_coders)).sum())
    rt.not_applicable = int((n_apply == 0).sum())
    unit_codes = codes.code_by_rank[ukeys]
    j = np.minimum(np.searchsorted(places, unit_codes), max(len(places) - 1, 0))
    found = (places[j] == unit_codes) if len(places) else np.zeros(len(unit_codes), dtype=bool)
    keep = ~found | (n_apply[j] == n_coders[j]) if len(places) else np.ones(len(unit_codes), dtype=bool)
    if len(keep) and not keep.all():
        rt.matrix[~keep, :] = np.nan
    return True


def _unique_below(a: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_inverse=True)`` of integers 0 .. size - 1, by marking them in an array of
    ``size`` (no sort; the same arrays)."""
    seen = np.zeros(size, dtype=bool)
    seen[a] = True
    return np.nonzero(seen)[0], (np.cumsum(seen) - 1)[a]


def _shared(codes: _Codes, key: Any, compute):
    """A result every conditional field's applicability uses, computed for the first and kept."""
    if key not in codes.memo:
        codes.memo[key] = compute()
    return codes.memo[key]


def _logic_pairs(codes: _Codes, logic_positions: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The codes on fields the branching logic reads (their rows), and the (record, coder) pairs that
    submitted each record, as coder_values has them: a code on a logic field (record unit codes,
    coders, in (record, coder) order)."""
    nc = len(codes.coders) + 1
    lrows = np.nonzero(np.isin(codes.field, logic_positions))[0]
    pair = np.unique(codes.record_of[codes.unit[lrows]] * nc + codes.coder[lrows])
    return lrows, pair // nc, pair % nc


def _values_by_place(codes: _Codes, position: int) -> tuple[np.ndarray, np.ndarray]:
    """One field's codes keyed by place and coder (unit code * (coders + 1) + coder, sorted), with
    their value ids."""
    nc = len(codes.coders) + 1
    g = np.nonzero(codes.field == position)[0]
    key = codes.unit[g] * nc + codes.coder[g]
    sort = np.argsort(key)
    return key[sort], codes.vid[g][sort]


def _distinct_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the first row of each distinct row of ``table``, which distinct row each row is): what
    ``np.unique(table, axis=0, return_index=True, return_inverse=True)`` gives but the order of the
    distinct rows, through one integer per row where the rows fit in one (the rows' bytes sorted as
    strings cost ten times as much)."""
    low = table.min(axis=0)
    span = table.max(axis=0) - low + 1
    if float(np.prod(span.astype(float))) < 2**62:
        weights = np.cumprod(np.concatenate([[1], span[:-1]])).astype(np.int64)
        _, first, inverse = np.unique((table - low) @ weights, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
    return first, inverse.ravel()


def _ask(store, codes: _Codes, shared, shared_form, lrows: np.ndarray, place: int, coder: int, fld: Field) -> bool:
    """Does ``fld`` apply at ``place`` for ``coder``: that coder's Form of the record (their values of
    the fields the branching logic reads), through the memoised answers."""
    record = int(codes.record_of[place])
    lrecord, lcoder = _shared(codes, "logic rows", lambda: (codes.record_of[codes.unit[lrows]], codes.coder[lrows]))
    mine = lrows[(lrecord == record) & (lcoder == coder)]
    names = [f.name for f in store.codebook.fields]
    values: dict[tuple[str | None, str], Any] = {}
    for f, u, v in zip(codes.field[mine].tolist(), codes.unit[mine].tolist(), codes.vid[mine].tolist(), strict=True):
        nid = codes.note_of[u][0] if u % 2 else None
        values[(nid, names[f])] = codes.values[v]
    notes = [codes.note_of[n] for n in codes.notes_of.get(record, [])]
    nid = codes.note_of[place][0] if place % 2 else None
    return bool(shared_form(shared, notes, values).applies(nid, fld))
