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

import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from chartcode.agreement.collect import Ratings, _calc_ratings, _encode_column, _through_logic
from chartcode.agreement.libraries import LIBRARIES, import_libraries
from chartcode.codebook import Field


def _numbers(text: str) -> np.ndarray:
    """The comma-separated integers SQLite wrote (numpy parses them in C, no Python object each)."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


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


def _read(store) -> _Codes | None:
    cb = store.codebook
    names = [f.name for f in cb.fields]
    coders = [c["name"] for c in store.coders()]
    nc = len(coders) + 1
    packed = store.packed_codes(names, coders)
    fc, unit, value = _numbers(packed.field_coder), _numbers(packed.unit), _numbers(packed.value)
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
    by_field = np.argsort(codes.field, kind="stable")
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
        present = np.unique(codes.coder[rows])
        coders = [codes.coders[j] for j in present]
        ukeys, u = np.unique(codes.rank[codes.unit[rows]], return_inverse=True)
        u = u.ravel()
        units = [codes.names[k] for k in ukeys.tolist()]
        matrix = np.full((len(units), len(coders)), np.nan)
        categories: list[str] = []
        unreadable = 0
        if len(rows):
            column = np.full(len(codes.coders) + 1, -1, dtype=np.int64)
            column[present] = np.arange(len(present))
            c = column[codes.coder[rows]]
            vids, inverse = np.unique(codes.vid[rows], return_inverse=True)
            inverse = inverse.ravel()
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
    logic = np.isin(codes.field, [position[n] for n in logic_fields(cb, shared)])
    lrows = np.nonzero(logic)[0]
    # the coders who submitted each record, as coder_values has them: a code on a logic field
    pair = np.unique(codes.record_of[codes.unit[lrows]] * nc + codes.coder[lrows])
    rec, coder = pair // nc, pair % nc
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
        g = np.nonzero(codes.field == position[name])[0]
        key = codes.unit[g] * nc + codes.coder[g]
        sort = np.argsort(key)
        key, gv = key[sort], codes.vid[g][sort]
        where = (place if note_level else codes.record_of[place]) * nc + pcoder
        j = np.minimum(np.searchsorted(key, where), max(len(key) - 1, 0))
        hit = (key[j] == where) if len(key) else np.zeros(len(where), dtype=bool)
        columns.append(np.where(hit, gv[j] if len(key) else 0, -1))
    applies = np.ones(len(place), dtype=bool)
    if len(place):
        table = np.stack(columns, axis=1) if columns else np.zeros((len(place), 1), dtype=np.int64)
        distinct, first, inverse = np.unique(table, axis=0, return_index=True, return_inverse=True)
        answer = np.array(
            [_ask(store, codes, shared, SharedForm, lrows, int(place[i]), int(pcoder[i]), fld) for i in first],
            dtype=bool,
        )
        applies = answer[inverse.ravel()]
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


def _ask(store, codes: _Codes, shared, shared_form, lrows: np.ndarray, place: int, coder: int, fld: Field) -> bool:
    """Does ``fld`` apply at ``place`` for ``coder``: that coder's Form of the record (their values of
    the fields the branching logic reads), through the memoised answers."""
    record = int(codes.record_of[place])
    mine = lrows[(codes.record_of[codes.unit[lrows]] == record) & (codes.coder[lrows] == coder)]
    names = [f.name for f in store.codebook.fields]
    values: dict[tuple[str | None, str], Any] = {}
    for f, u, v in zip(codes.field[mine].tolist(), codes.unit[mine].tolist(), codes.vid[mine].tolist(), strict=True):
        nid = codes.note_of[u][0] if u % 2 else None
        values[(nid, names[f])] = codes.values[v]
    notes = [codes.note_of[n] for n in codes.notes_of.get(record, [])]
    nid = codes.note_of[place][0] if place % 2 else None
    return bool(shared_form(shared, notes, values).applies(nid, fld))
