"""The analysis dataset: final values as tables (pandas), the input of analyses and exports.

    records_frame(store)  one row per record: record_id, then every record-level field
    notes_frame(store)    one row per note: note_id, record_id, note_date, note_type, then
                          every note-level field that applies to the note

Values are the final values (chartcode.consensus: consensus, else the coders' shared
submitted value); a unit without one is missing (NaN / None). With ``sources=True`` each
field gets a companion column ``<field>__source`` (consensus, single, agreed, unresolved)
saying where the value came from.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from chartcode.codebook import Codebook
from chartcode.codebook.types import field_type as _field_type
from chartcode.store.api import has_method
from chartcode.store.dataset_queries import other_codes
from chartcode.store.store import Store

SOURCE_SUFFIX = "__source"
SOURCES = np.array(["consensus", "single", "agreed", "unresolved"], dtype=object)  # where a final value came from


def distinct(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """(codes, representatives): codes[i] indexes the distinct value of row i (-1: missing).

    A per-row comparison on a 100,000-record audit is the slow part of analyses, so callers
    compare once per distinct value and map back. Values of different Python types stay
    apart (3, 3.0, True and "3" are four values): they can compare differently as text.
    Representatives are the scalars iterating the series would give.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if series.dtype != object:
        reps = list(pd.Series(uniques))
    else:
        values = series.to_numpy()
        types = pd.factorize(np.frompyfunc(type, 1, 1)(values))[0]
        if len(values) == 0 or not (types != types[0]).any():
            reps = list(uniques)
        else:
            codes, first = _refactorize(np.where(codes < 0, -1, codes * (int(types.max()) + 1) + types))
            reps = [values[i] for i in first]
    return _split_signed_zeros(series, codes.astype(np.int64), reps)


def _split_signed_zeros(series: pd.Series, codes: np.ndarray, reps: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """0.0 and -0.0 are equal (one distinct value) but read differently as text: keep them apart."""
    for i, rep in enumerate(list(reps)):
        if isinstance(rep, (float, np.floating)) and rep == 0:
            rows = np.flatnonzero(codes == i)
            cells = series.iloc[rows].tolist()
            other = np.array([np.signbit(float(v)) != np.signbit(float(rep)) for v in cells], dtype=bool)
            if other.any():
                codes[rows[other]] = len(reps)
                reps.append(cells[int(np.flatnonzero(other)[0])])
    return codes, reps


def _refactorize(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes for integer keys (-1 stays -1) and the first row of each code."""
    present = keys >= 0
    uniq, first, inverse = np.unique(keys[present], return_index=True, return_inverse=True)
    codes = np.full(len(keys), -1, dtype=np.int64)
    codes[present] = inverse.ravel()
    return codes, np.flatnonzero(present)[first]


def _categorical(values: np.ndarray, names: list[str], missing: str | None = None) -> pd.Categorical:
    """Values read through chartcode.store.dataset_queries._named (or NULL for ``missing``) as a
    Categorical of the names, categories sorted."""
    codes, uniques = pd.factorize(values)
    return _categorical_codes(codes, list(uniques), names, missing)


def _categorical_codes(codes: np.ndarray, uniques: list[Any], names: list[str], missing: str | None) -> pd.Categorical:
    """:func:`_categorical` of values already factorized: ``codes`` index ``uniques`` (-1: NULL)."""
    labels = [names[u] if isinstance(u, int) else u for u in uniques]
    if missing is not None and (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(missing)
    categories = sorted(set(labels))
    at = pd.Index(categories, dtype=object).get_indexer(labels)
    return pd.Categorical.from_codes(at[codes] if len(codes) else codes, pd.Index(categories, dtype=object))


class _Interned:
    """One column read chunk by chunk as small integer codes into the distinct values seen so far, so
    that a million rows of the same few record ids hold ints, not a million copies of the text."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.parts: list[np.ndarray] = []

    def add(self, values: np.ndarray) -> None:
        codes, uniques = pd.factorize(values)
        index = self.index
        known = np.array([index.setdefault(u, len(index)) for u in uniques] + [-1], dtype=np.int64)
        self.parts.append(known[codes].astype(np.int32 if len(index) < 2**31 else np.int64))  # -1: NULL

    def codes(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=np.int64)

    def uniques(self) -> list[Any]:
        return list(self.index)


def submitted_codes(store: Store) -> pd.DataFrame:
    """Every submitted code: field, record_id, note_key, coder (Categoricals, categories sorted)
    and value (object), in rowid order (a record span's, chartcode.export.stream: unit by unit,
    rowid order within a unit); read once per state of the database.

    Final values and agreement both start from these rows; one full scan in rowid order (about
    2 s for 1.5 million codes) is cheaper than SQLite's GROUP BY through the index (about 5 s).
    A record span's codes are read packed instead (:func:`_span_frame`): the same rows, with no
    Python object per code.
    """

    def compute() -> pd.DataFrame:
        fields = [f.name for f in store.codebook.fields]
        coders = [c["name"] for c in store.coders()]
        if fields and coders and has_method(store, "submitted_span_codes"):  # a record span: packed
            return _span_frame(cast("Any", store).submitted_span_codes(fields, coders), fields, coders)
        # chunk by chunk: one chunk of Python tuples at a time, the ids as small ints
        columns = [_Interned() for _ in range(4)]  # field, record_id, note_key, coder
        values: list[np.ndarray] = []
        for rows in store.submitted_code_chunks(fields, coders):
            table = np.empty((len(rows), 5), dtype=object)
            table[:] = rows
            for i, column in enumerate(columns):
                column.add(table[:, i])
            values.append(table[:, 4].copy())
            del table, rows
        field, record, note, coder = ((c.codes(), c.uniques()) for c in columns)
        return pd.DataFrame(
            {
                "field": _categorical_codes(*field, fields, None),
                "record_id": _categorical_codes(*record, [], None),
                "note_key": _categorical_codes(*note, [], ""),
                "coder": _categorical_codes(*coder, coders, None),
                "value": pd.Series(np.concatenate(values) if values else np.empty(0, dtype=object), dtype=object),
            }
        )

    return store.cached("submitted_codes", compute)


def _span_frame(packed: Any, fields: list[str], coders: list[str]) -> pd.DataFrame:
    """:func:`submitted_codes`' frame from a record span's packed codes (chartcode.store.dataset_queries.
    SpanCodes): the same rows, in the same order, with no Python object per code but the values."""
    groups = packed.groups
    sizes = np.fromiter((g[2] for g in groups), dtype=np.int64, count=len(groups))
    at = np.repeat(np.arange(len(groups)), sizes)
    rec_codes, rec_uniques = pd.factorize(np.array([g[0] for g in groups], dtype=object))
    note_codes, note_uniques = pd.factorize(np.array([g[1] for g in groups], dtype=object))  # None: -1
    fc, ints = packed.field_coder, packed.value
    n = len(coders) + 1
    other = other_codes(fc, len(coders))
    if len(fc) != len(at) or len(ints) != len(fc) or int(other.sum()) != len(packed.other):
        raise RuntimeError("the packed codes of a record span do not line up")  # never: one snapshot
    field, coder = fc // n, fc % n
    value = ints.astype(object)
    field_uniques: list[Any] = list(range(len(fields)))
    coder_uniques: list[Any] = list(range(len(coders)))
    if len(packed.other):
        slots = np.flatnonzero(other)
        f_at = {u: i for i, u in enumerate(field_uniques)}
        c_at = {u: i for i, u in enumerate(coder_uniques)}
        field[slots] = [f_at.setdefault(r[0], len(f_at)) for r in packed.other]
        coder[slots] = [c_at.setdefault(r[1], len(c_at)) for r in packed.other]
        value[slots] = [r[2] for r in packed.other]
        field_uniques, coder_uniques = list(f_at), list(c_at)
    # the categories are the values present, as the rows' read gives them
    field, seen_fields = pd.factorize(field)
    coder, seen_coders = pd.factorize(coder)
    return pd.DataFrame(
        {
            "field": _categorical_codes(field, [field_uniques[i] for i in seen_fields], fields, None),
            "record_id": _categorical_codes(rec_codes[at], list(rec_uniques), [], None),
            "note_key": _categorical_codes(note_codes[at], list(note_uniques), [], ""),
            "coder": _categorical_codes(coder, [coder_uniques[i] for i in seen_coders], coders, None),
            "value": pd.Series(value, dtype=object),
        }
    )


def _sqlite_key(value: Any) -> tuple:
    """SQLite's order of values (numbers by value < text < blob): what min() and max() compare."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return (2, bytes(value))
    if isinstance(value, str):
        return (1, value)
    return (0, value)


def _min_max(values: list[Any]) -> tuple[Any, Any]:
    """SQLite's min() and max() of one group, in scan order (the first of equal values wins)."""
    lo = hi = values[0]
    lo_key = hi_key = _sqlite_key(lo)
    for v in values[1:]:
        key = _sqlite_key(v)
        if key < lo_key:
            lo, lo_key = v, key
        if key > hi_key:
            hi, hi_key = v, key
    return lo, hi


def _group_min_max(values: np.ndarray, starts: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SQLite's min() and max() of each group of ``values`` (groups start at ``starts``, ``n`` long).

    A group of one is its value. Groups of whole numbers only (Python ints: equal ones are
    interchangeable) take numpy's min/max; any other group goes through :func:`_min_max`.
    """
    lo = values[starts].copy()
    hi = lo.copy()
    multi = np.flatnonzero(n > 1)
    if not len(multi):
        return lo, hi
    counts = n[multi]
    group = np.repeat(np.arange(len(multi)), counts)
    cells = values[starts[multi][group] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)]
    ints = np.ones(len(multi), dtype=bool)
    np.logical_and.at(ints, group, np.frompyfunc(lambda v: type(v) is int, 1, 1)(cells).astype(bool))
    if ints.any():
        try:
            x = cells[ints[group]].astype(np.int64)
        except OverflowError:  # beyond 64 bits (not from SQLite): the general path
            ints[:] = False
        else:
            first = np.cumsum(counts[ints]) - counts[ints]
            lo[multi[ints]] = np.minimum.reduceat(x, first).tolist()
            hi[multi[ints]] = np.maximum.reduceat(x, first).tolist()
    for i in multi[~ints]:
        lo[i], hi[i] = _min_max(list(values[starts[i] : starts[i] + n[i]]))
    return lo, hi


def _final_units(store: Store) -> pd.DataFrame:
    """What chartcode.store.consensus.FINAL_SQL gives (record_id, note_key, field, n, lo, hi, consensus),
    from :func:`submitted_codes` with pandas: same units, same order, same min/max."""
    codes = submitted_codes(store)
    blocked = store.open_record_ids()
    if blocked:
        codes = codes[~codes["record_id"].isin(blocked).to_numpy()]
    cats = [codes[c].cat for c in ("record_id", "note_key", "field")]
    sizes = [max(len(c.categories), 1) for c in cats]
    key = (cats[0].codes.to_numpy(np.int64) * sizes[1] + cats[1].codes.to_numpy(np.int64)) * sizes[2] + cats[
        2
    ].codes.to_numpy(np.int64)
    order = np.argsort(key, kind="stable")  # unit order of the GROUP BY, rowid order within a unit
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    n = np.diff(np.r_[starts, len(key)])
    values = codes["value"].to_numpy()[order]
    lo, hi = _group_min_max(values, starts, n)
    ukey = key[starts]
    parts = [ukey // (sizes[1] * sizes[2]), (ukey // sizes[2]) % sizes[1], ukey % sizes[2]]
    out = pd.DataFrame(
        {
            name: np.asarray(c.categories, dtype=object)[p] if len(p) else np.zeros(0, dtype=object)
            for name, c, p in zip(("record_id", "note_key", "field"), cats, parts, strict=True)
        },
        dtype=object,
    )
    out["n"] = pd.Series(n.tolist(), dtype=object)
    out["lo"], out["hi"] = pd.Series(lo, dtype=object), pd.Series(hi, dtype=object)
    out["consensus"] = _consensus_values(store, cats, sizes, ukey)
    return out


def _consensus_values(store: Store, cats: list, sizes: list[int], ukey: np.ndarray) -> pd.Series:
    """The consensus value of each unit (None where none was decided): FINAL_SQL's LEFT JOIN.

    ``ukey`` holds the units' sorted keys, built from the category codes of ``cats`` as in
    :func:`_final_units`; a consensus row whose unit has no submitted code matches nothing.
    """
    found = pd.Series([None] * len(ukey), dtype=object)
    rows = store.consensus_units()
    if not rows or not len(ukey):
        return found
    at = [c.categories.get_indexer([r[i] for r in rows]) for i, c in enumerate(cats)]
    known = (at[0] >= 0) & (at[1] >= 0) & (at[2] >= 0)
    key = (at[0].astype(np.int64) * sizes[1] + at[1]) * sizes[2] + at[2]
    pos = np.minimum(np.searchsorted(ukey, key), len(ukey) - 1)
    hit = known & (ukey[pos] == key)
    found.iloc[pos[hit]] = [r[3] for r, h in zip(rows, hit, strict=True) if h]
    return found


def finals(store: Store) -> pd.DataFrame:
    """Every unit's final value (columns record_id, note_key, field, value, source), computed once per
    state of the database and vectorised: the rule of chartcode.consensus, applied by pandas."""

    return store.cached("finals", lambda: final_table(store)[["record_id", "note_key", "field", "value", "source"]])


def final_table(store: Store) -> pd.DataFrame:
    """:func:`finals` with ``n`` (how many coders submitted the unit) and the ``consensus`` value."""

    def compute() -> pd.DataFrame:
        df = _final_units(store)
        has_consensus = df["consensus"].notna().to_numpy(dtype=bool)
        same = (df["lo"] == df["hi"]).to_numpy(dtype=bool)
        single = (df["n"] == 1).to_numpy(dtype=bool)
        df["value"] = np.where(has_consensus, df["consensus"], np.where(same, df["lo"], None))
        which = np.select([has_consensus, same & single, same], [0, 1, 2], 3)
        # four shared str objects, not one new str per unit; as text, the dtype pandas gives text
        # (object before pandas 3, str from it: what a column of numpy strings became)
        source = pd.Series(SOURCES[which], index=df.index)
        if store.codebook.has_logic:  # its table is all object: keep the four shared objects
            df["source"] = source
            return _through_logic(store, df[["record_id", "note_key", "field", "n", "consensus", "value", "source"]])
        df["source"] = source.astype(pd.Series(np.array([""])).dtype)
        return df[["record_id", "note_key", "field", "n", "consensus", "value", "source"]]

    result: pd.DataFrame = store.cached("final_table", compute)
    return result


def final_sources(store: Store, record_ids: set[str]) -> dict[tuple[str, str, str], str]:
    """(record_id, note_key, field) -> the source of its final value, for the units of ``record_ids``."""
    fin = finals(store)
    fin = fin[fin["record_id"].isin(record_ids).to_numpy(dtype=bool)]
    keys = zip(*(fin[c].astype(object).tolist() for c in ("record_id", "note_key", "field")), strict=True)
    return dict(zip(keys, fin["source"].tolist(), strict=True))


def _through_logic(store: Store, df: pd.DataFrame) -> pd.DataFrame:
    """The final values of a codebook with branching logic or calculations.

    A conditional field's unit (chartcode.applicability) is n/a (value None, source
    ``not_applicable``) when its show_if is false on the final values of its controlling fields,
    whatever any coder stored there; a coder's code on a unit where the field does not apply for
    them is left out of the rule (consensus, else the shared value). While a controlling field is
    still unresolved, a unit the coders disagree on applying is unresolved too. Calculated fields
    get their value from the record's final values (Form.calculated; source ``calculated``).
    """
    from chartcode.applicability import (
        CALCULATED,
        NOT_APPLICABLE,
        SharedForm,
        answers,
        coder_forms,
        conditional_fields,
        controlling,
        logic_fields,
        record_notes,
        unit_places,
    )

    cb = store.codebook
    conds = [f for f in conditional_fields(cb) if not f.is_calc]
    calcs = list(cb.calc_fields)
    shared = answers(store)
    # Only the conditional and calculated fields' units change, and the final Forms read only the
    # fields their answers read: those units go through the rule below, every other row is kept.
    relevant = logic_fields(cb, shared)
    ctls = {f.name: [(name, cb.field(name).level == "note") for name in controlling(cb, f.name)] for f in conds}
    notes = record_notes(store)
    forms = coder_forms(store)
    blocked = set(store.open_record_ids())
    cols = ["record_id", "note_key", "field", "n", "consensus", "value", "source"]
    mine = df["field"].astype(object).isin(relevant).to_numpy(dtype=bool)
    kept, logic_rows = df[~mine], df[mine]
    columns = [logic_rows[c].astype(object).tolist() for c in cols]
    table: dict[tuple[str, str, str], list[Any]] = dict(
        zip(zip(*columns[:3], strict=True), map(list, zip(*columns, strict=True)), strict=True)
    )
    by_record: dict[str, dict[tuple[str | None, str], Any]] = {}
    for rid, nkey, fname, value in zip(columns[0], columns[1], columns[2], columns[5], strict=True):
        by_record.setdefault(rid, {})[(nkey or None, fname)] = value

    def put(rid: str, nid: str | None, fname: str, n: int, value: Any, source: str) -> None:
        unit = table.setdefault((rid, nid or "", fname), [rid, nid or "", fname, n, None, None, None])
        unit[5], unit[6] = value, source
        by_record.setdefault(rid, {})[(nid, fname)] = value

    none7: list[Any] = [None] * 7
    # Field by field, controlling fields first (each record's questions in the order a per-record pass
    # asks them: a record's answers read only that record's values), so that the answers for every
    # unit of a field are asked in one batch (Answers.applies_many). A field's units read only the
    # values of the fields before it, except through a cycle (a field reading itself): there each
    # unit's final answer is asked in turn, after the puts of the units before it.
    order = [rid for rid in forms if rid not in blocked]
    finals_of = {rid: SharedForm(shared, notes.get(rid, []), by_record.setdefault(rid, {})) for rid in order}
    sequential = any(shared.reads(f.name) is None for f in (*conds, *calcs))
    for fld in conds:
        name, ctl = fld.name, ctls[fld.name]
        units = [(rid, nid) for rid in order for nid in unit_places(fld, notes.get(rid, []))]
        pending = [
            any((table.get((rid, (nid or "") if note else "", c)) or none7)[6] == "unresolved" for c, note in ctl)
            for rid, nid in units
        ]
        stored_of = [table.get((rid, nid or "", name)) for rid, nid in units]
        if sequential:
            final_ok: list[bool] | None = None
            need = [True] * len(units)
        else:
            asked = [(finals_of[rid], nid) for (rid, nid), p in zip(units, pending, strict=True) if not p]
            final_ok = shared.applies_many(asked, fld)
            ok = iter(final_ok)
            need = [
                p or (next(ok) and st is not None and st[4] is None) for p, st in zip(pending, stored_of, strict=True)
            ]
        pairs = [
            (form, nid)
            for (rid, nid), wanted in zip(units, need, strict=True)
            if wanted
            for form in forms[rid].values()
        ]
        coder_ok = iter(shared.applies_many(pairs, fld))
        final_iter = iter(final_ok or ())
        for (rid, nid), p, stored, wanted in zip(units, pending, stored_of, need, strict=True):
            coders = forms[rid]
            applies = [next(coder_ok) for _ in coders] if wanted else []
            if p:
                if not any(applies):
                    put(rid, nid, name, len(coders), None, NOT_APPLICABLE)
                elif not all(applies):
                    put(rid, nid, name, len(coders), None, "unresolved")
                continue
            fine = next(final_iter) if final_ok is not None else finals_of[rid].applies(nid, fld)
            if not fine:
                put(rid, nid, name, len(coders), None, NOT_APPLICABLE)
            elif stored is not None and not all(applies) and stored[4] is None:
                coded = [
                    v
                    for form, a in zip(coders.values(), applies, strict=True)
                    if a and (v := form.values.get((nid, name))) is not None
                ]
                if not coded:
                    del table[(rid, nid or "", name)]
                    by_record[rid].pop((nid, name), None)
                    continue
                lo, hi = _min_max(coded)
                if lo == hi:
                    put(rid, nid, name, len(coded), lo, "single" if len(coded) == 1 else "agreed")
                else:
                    put(rid, nid, name, len(coded), None, "unresolved")
    for fld in calcs:
        for rid in order:
            final = finals_of[rid]
            for nid in unit_places(fld, notes.get(rid, [])):
                if final.applies(nid, fld):
                    put(rid, nid, fld.name, len(forms[rid]), final.calculated(nid, fld), CALCULATED)
                else:
                    put(rid, nid, fld.name, len(forms[rid]), None, NOT_APPLICABLE)
    changed = pd.DataFrame(list(table.values()), columns=cols, dtype=object)
    out = pd.concat([kept.astype(object), changed], ignore_index=True)
    out = out.iloc[_text_order(out, ("record_id", "note_key", "field"))]
    out = out.astype(object)
    out["n"] = out["n"].astype(object)
    return out.reset_index(drop=True)


def _text_order(df: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """The row order that sorts ``df`` by the text of ``columns`` (first column first, stable): each
    column ranked through its distinct values, then one integer lexsort - no per-row text keys."""
    ranks = []
    for c in columns:
        values = df[c].to_numpy(dtype=object)
        at, uniq = pd.factorize(values)  # one hash pass: each row's distinct value and the values
        if (at < 0).any():  # a missing value (factorize leaves it out): ranked with the others as text
            uniq = pd.unique(values)
            at = pd.Index(uniq).get_indexer(values)
        by_text = sorted(range(len(uniq)), key=lambda i: str(uniq[i]))
        rank = np.empty(len(uniq), dtype=np.int64)
        text = [str(uniq[i]) for i in by_text]
        # equal text, equal rank (as the tuple of texts compares): runs of the same text share one
        rank[np.array(by_text, dtype=np.int64)] = np.cumsum(
            [0] + [a != b for a, b in zip(text, text[1:], strict=False)]
        )
        ranks.append(rank[at] if len(values) else np.zeros(0, dtype=np.int64))
    return np.lexsort(ranks[::-1]) if ranks and len(ranks[0]) else np.zeros(0, dtype=np.int64)


def open_disagreements(store: Store) -> list:
    """What chartcode.consensus.disagreements(store) returns -- the open units (two or more coders,
    different values, no consensus value), in its order, with the same values, memos and consensus
    reason -- from the rows already read for the final values (an open unit is an "unresolved"
    one). Its GROUP BY ... HAVING plus one query per unit take seconds on a large audit.
    """
    from chartcode.consensus import Unit

    if store.codebook.has_logic:  # applicability disagreements are read per coder's Form, not from SQL groups
        from chartcode.consensus import disagreements

        return disagreements(store)
    fin = finals(store)
    rows = np.flatnonzero((fin["source"] == "unresolved").to_numpy(dtype=bool))
    if not len(rows):
        return []
    keys = list(
        zip(*(fin[c].to_numpy(dtype=object)[rows].tolist() for c in ("record_id", "note_key", "field")), strict=True)
    )
    at = {k: i for i, k in enumerate(keys)}
    rids = sorted({k[0] for k in keys})
    codes = submitted_codes(store)
    codes = codes[codes["record_id"].isin(rids).to_numpy()]
    found: list[tuple[int, str, Any]] = []
    columns = [codes[c].astype(object).tolist() for c in ("record_id", "note_key", "field", "coder")]
    for rid, nkey, fname, coder, value in zip(*columns, codes["value"].tolist(), strict=True):
        i = at.get((rid, nkey, fname))
        if i is not None:
            found.append((i, coder, value))
    found.sort(key=lambda t: (t[0], t[1]))  # ORDER BY coder within a unit
    reasons = {tuple(r[:3]): r[4] for r in store.consensus_units()}
    units = [
        Unit(rid, nkey or None, fname, {}, consensus=None, consensus_reason=reasons.get((rid, nkey, fname)))
        for rid, nkey, fname in keys
    ]
    for i, coder, value in found:
        units[i].values[coder] = value
    for i, coder, memo in sorted(_memos(store, rids, at), key=lambda t: (t[0], t[1])):
        units[i].memos[coder] = memo
    return units


def _memos(store: Store, rids: list[str], at: dict) -> list[tuple[int, str, str]]:
    """(unit, coder, memo) of the submitted codes of ``at``'s units that carry a memo; by record, through
    the codes_by_record index."""
    out = []
    for rid, nkey, fname, coder, memo in store.submitted_memo_rows(rids):
        i = at.get((rid, nkey, fname))
        if i is not None:
            out.append((i, coder, memo))
    return out


def _column(values: list[Any], field_type: str) -> pd.Series:
    """A column of the type's pandas dtype; whole-number (Int64) types fall back to object when a
    value is not a number (a nominal field with word codes)."""
    dtype = _field_type(field_type).pandas_dtype
    if dtype == "Int64":
        numbers = all(t is type(None) or issubclass(t, (int, float)) for t in set(map(type, values)))
        return pd.Series(values, dtype="Float64").astype("Int64") if numbers else pd.Series(values, dtype="object")
    return pd.Series(values, dtype=dtype)


def _grid(rec: pd.DataFrame, row: np.ndarray, col: np.ndarray, shape: tuple[int, int], column: str) -> np.ndarray:
    """records x fields object array of ``rec[column]`` (None where a record has no value): what
    pivot + reindex + _cells gave, by position instead of per cell. ``row``/``col``: each rec
    row's position (-1: not in the table)."""
    grid = np.full(shape, None, dtype=object)
    ok = (row >= 0) & (col >= 0)
    if ok.any():
        cells = rec[column].to_numpy(dtype=object)[ok]
        cells[pd.isna(cells)] = None
        grid[row[ok], col[ok]] = cells
    return grid


def _cached_frame(store: Store, name: str, sources: bool, build: Any) -> pd.DataFrame:
    """A copy of ``build(store, sources, finals(store))``, computed once per state of the database.
    The frame with sources also stands in for the one without (an export asks for both: its tables
    carry the sources, the derived variables read the values): the same columns less the
    ``__source`` ones, which is what the build without them gives."""

    def compute() -> pd.DataFrame:
        frame: pd.DataFrame = build(store, sources, finals(store))
        if sources:
            added = [c for c in frame.columns if c.endswith(SOURCE_SUFFIX)]
            names = [f.name for f in store.codebook.fields]
            # only when every __source column is a field's own (no field is named like one)
            if not any(n.endswith(SOURCE_SUFFIX) for n in names) and len(set(names)) == len(names):
                store.cached(f"{name}:False", lambda: frame.drop(columns=added))
        return frame

    result: pd.DataFrame = store.cached(f"{name}:{sources}", compute)
    return result.copy()


def records_frame(store: Store, *, sources: bool = False, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per record of final values (see the module docstring); a copy of a frame computed once per
    state of the database when ``values`` is not given (the report, exports and analyses all ask)."""
    if values is not None:
        return _records_frame(store, sources, values)
    return _cached_frame(store, "records_frame", sources, _records_frame)


def _records_frame(store: Store, sources: bool, values: pd.DataFrame) -> pd.DataFrame:
    cb: Codebook = store.codebook
    ids = store.record_ids()
    rec = values[(values["note_key"] == "").to_numpy(dtype=bool)]
    names = list(dict.fromkeys(f.name for f in cb.record_fields))
    row = pd.Index(ids).get_indexer(rec["record_id"]) if ids else np.full(len(rec), -1)
    col = pd.Index(names).get_indexer(rec["field"]) if names else np.full(len(rec), -1)
    val = _grid(rec, row, col, (len(ids), len(names)), "value")
    src = _grid(rec, row, col, (len(ids), len(names)), "source") if sources else None
    data: dict[str, Any] = {"record_id": ids}
    for f in cb.record_fields:
        j = names.index(f.name)
        data[f.name] = _column(val[:, j].tolist(), f.type)
        if src is not None:
            data[f.name + SOURCE_SUFFIX] = src[:, j].tolist()
    return pd.DataFrame(data)


def notes_frame(store: Store, *, sources: bool = False, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per note of final values (see the module docstring); like :func:`records_frame`, a copy
    of a frame computed once per state of the database when ``values`` is not given (an export
    with derived variables asks twice: for its notes table and for the derived counts)."""
    if values is not None:
        return _notes_frame(store, sources, values)
    return _cached_frame(store, "notes_frame", sources, _notes_frame)


def _notes_frame(store: Store, sources: bool, values: pd.DataFrame) -> pd.DataFrame:
    cb: Codebook = store.codebook
    rows = store.note_rows()
    nts = values[(values["note_key"] != "").to_numpy(dtype=bool)]
    names = list(dict.fromkeys(f.name for f in cb.note_fields))
    # each unit's note by (record_id, note_id), as a pivot on both reindexed by the notes gave
    at = {(r["record_id"], r["note_id"]): i for i, r in enumerate(rows)}
    pairs = zip(nts["record_id"].astype(object).tolist(), nts["note_key"].astype(object).tolist(), strict=True)
    row = np.fromiter((at.get(k, -1) for k in pairs), dtype=np.int64, count=len(nts))
    col = pd.Index(names).get_indexer(nts["field"]) if names else np.full(len(nts), -1)
    val = _grid(nts, row, col, (len(rows), len(names)), "value")
    src = _grid(nts, row, col, (len(rows), len(names)), "source") if sources else None
    data: dict[str, Any] = {k: [r[k] for r in rows] for k in ("note_id", "record_id", "note_date", "note_type")}
    for f in cb.note_fields:
        j = names.index(f.name)
        applies = [f.applies_to(r["note_type"]) for r in rows]
        cells = val[:, j].tolist()
        data[f.name] = _column([c if ok else None for c, ok in zip(cells, applies, strict=True)], f.type)
        if src is not None:
            scells = src[:, j].tolist()
            data[f.name + SOURCE_SUFFIX] = [c if ok else None for c, ok in zip(scells, applies, strict=True)]
    return pd.DataFrame(data)
