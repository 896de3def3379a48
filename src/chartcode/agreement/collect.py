"""Reading the store: one field's submitted values as a units x coders matrix."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np

from chartcode.agreement.kinds import kind_of
from chartcode.codebook import Field
from chartcode.errors import UserError
from chartcode.store.api import has_method


@dataclass
class Ratings:
    """One field's submitted values as a units x coders matrix (NaN = no submitted value).

    Choice fields hold positions on the codebook's choice list (0 .. K-1); count and numeric fields
    their values; date fields day numbers; text fields indices into ``categories``.
    """

    field: Field
    units: list[tuple[str, str]]  # (record_id, note_key); note_key '' for record-level fields
    coders: list[str]
    matrix: np.ndarray  # float64; joined from spans, the narrowest float holding it exactly (join_ratings)
    categories: list[str] = dc_field(default_factory=list)  # text fields only
    unreadable: int = 0  # stored values that no longer fit the field (left out)
    # a field with show_if (chartcode.applicability): units where the coders who submitted the record
    # disagree on whether it applies (left out of the matrix), and units where it applies for nobody
    applicability_disagreements: int | None = None
    not_applicable: int = 0


def _num(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def encode_value(fld: Field, value: Any) -> float | None:
    """A stored code as the number the agreement matrix holds (None if it does not fit the field).

    Text fields are not encoded here (see :func:`collect`).
    """
    return fld.kind.encode(fld, value)  # each field type declares it (chartcode.codebook.types)


def _encode_column(fld: Field, g) -> tuple[np.ndarray, list[str]]:
    """A field's stored values (a pandas object Series) as matrix numbers, NaN where they do not fit;
    with the categories for text fields. The vectorised :func:`encode_value`."""
    import pandas as pd

    encoding = kind_of(fld).encoding
    if encoding == "observed":
        text = g.map(str)
        categories = sorted(set(text))
        return text.map({k: float(i) for i, k in enumerate(categories)}).to_numpy(dtype=float), categories
    if encoding == "position":  # positions on the codebook's list (3 and 3.0 are the same key)
        return g.map({code: float(i) for i, code in enumerate(fld.rating_codes)}).to_numpy(dtype=float), []
    if encoding == "number":
        x = np.array(pd.to_numeric(g, errors="coerce"), dtype=float)  # a copy: pandas' may be read-only
        x[~np.isfinite(x)] = np.nan
        return x, []
    # dates: few, per value
    return np.array([np.nan if (e := encode_value(fld, v)) is None else e for v in g], dtype=float), []


def collect(store, field_name: str | None = None, *, units: bool = True) -> list[Ratings]:
    """Submitted values per codebook field (all fields, or ``field_name``), as :class:`Ratings`.
    ``units=False``: a caller that reads only the matrices (:func:`span_ratings`) gets ``units``
    empty where the branching logic does not read them (a tuple per unit and field, for nothing).

    Raises UserError naming an unknown field.
    """
    cb = store.codebook
    if field_name is not None:
        fld = cb.get(field_name)
        if fld is None:
            raise UserError(
                f"unknown field {field_name!r} (codebook {cb.id} has: {', '.join(f.name for f in cb.fields)})"
            )
        fields = [fld]
    else:
        fields = list(cb.fields)
    # the SQLite store (chartcode.agreement.read), unless the frame is read already (final values)
    if has_method(store, "packed_codes") and store.cached_now("submitted_codes") is None:
        from chartcode.agreement.read import collect_packed

        got = collect_packed(store, fields)
        if got is not None:
            return got
    return _collect_frame(store, fields, units=units)


def _collect_frame(store, fields: list[Field], *, units: bool = True) -> list[Ratings]:
    """:func:`collect` from the submitted-codes frame (chartcode.dataset.submitted_codes): for a
    store without the packed read, or data it does not take."""
    cb = store.codebook
    order = {c["name"]: i for i, c in enumerate(store.coders())}
    import pandas as pd

    from chartcode.dataset import submitted_codes

    # one read of the submitted codes per process, shared with the final values (chartcode.dataset);
    # units are numbered by sorted category codes of record_id and note_key, i.e. in sorted
    # (record_id, note_key) order
    frame = submitted_codes(store)
    rid, nkey = frame["record_id"].cat, frame["note_key"].cat
    n_keys = max(len(nkey.categories), 1)
    unit_key = rid.codes.to_numpy(np.int64) * n_keys + nkey.codes.to_numpy(np.int64)
    field_pos = frame["field"].cat.codes.to_numpy(np.int64)
    by_field = np.argsort(field_pos, kind="stable")  # rowid order within a field
    bounds = np.searchsorted(field_pos[by_field], np.arange(len(frame["field"].cat.categories) + 1))
    field_at = {name: i for i, name in enumerate(frame["field"].cat.categories)}
    rid_names = np.asarray(rid.categories, dtype=object)
    key_names = np.asarray(nkey.categories, dtype=object)
    coder_names = np.asarray(frame["coder"].cat.categories, dtype=object)
    coder_pos = frame["coder"].cat.codes.to_numpy(np.int64)
    values = frame["value"].to_numpy()
    out = []
    logic = cb.has_logic
    for fld in fields:
        if logic and fld.is_calc:
            out.append(_through_logic(store, _calc_ratings(store, fld, order)))
            continue
        i = field_at.get(fld.name)
        rows = by_field[bounds[i] : bounds[i + 1]] if i is not None else np.zeros(0, dtype=np.int64)
        present = np.unique(coder_pos[rows])
        coders = sorted(coder_names[present].tolist(), key=lambda c: (order.get(c, len(order)), c))
        ukeys, u = np.unique(unit_key[rows], return_inverse=True)
        places: list[tuple[str, str]] = []  # the units, where asked for or read by _through_logic
        if units or (logic and fld.show_if):
            places = list(zip(rid_names[ukeys // n_keys].tolist(), key_names[ukeys % n_keys].tolist(), strict=True))
        matrix = np.full((len(ukeys), len(coders)), np.nan)
        categories: list[str] = []
        unreadable = 0
        if len(rows):
            u = u.ravel()
            c = pd.Index(coders).get_indexer(coder_names)[coder_pos[rows]]
            g = pd.Series(values[rows], dtype=object)
            x, categories = _encode_column(fld, g)
            ok = ~np.isnan(x)
            unreadable = int((~ok).sum())
            if fld.missing_codes:  # a scale's "cannot rate" is a missing rating, not an unreadable one
                unreadable -= int(g.isin(fld.missing_codes).sum())
            matrix[u[ok], c[ok]] = x[ok]
        rt = Ratings(fld, places, coders, matrix, categories, unreadable)
        out.append(_through_logic(store, rt) if logic and fld.show_if else rt)
    return out


def _through_logic(store, rt: Ratings) -> Ratings:
    """A conditional field's units are those where it applies for every coder who submitted the
    record (chartcode.applicability): the other rows are emptied (a code stored where the field
    does not apply is not a value), and the units where coders disagree on applying it counted."""
    if not rt.field.show_if:
        return rt
    from chartcode.applicability import unit_answers

    got = unit_answers(store, rt.field)
    rt.applicability_disagreements = int(((got.applies > 0) & (got.applies < got.coders)).sum())
    rt.not_applicable = int(((got.coders > 0) & (got.applies == 0)).sum())
    everyone = dict(zip(got.units, (got.applies == got.coders).tolist(), strict=True))
    keep = np.array([everyone.get(u, True) for u in rt.units], dtype=bool)  # no entry: all([]), kept
    if len(keep) and not keep.all():
        rt.matrix[~keep, :] = np.nan
    return rt


def _calc_ratings(store, fld: Field, order: dict[str, int]) -> Ratings:
    """A calculated field as each coder's codes compute it (Form.calculated), one unit per record
    (per note for note-level ones) of the closed records."""
    from chartcode.applicability import coder_forms, record_notes, unit_places

    notes = record_notes(store)
    forms = coder_forms(store)
    coders = sorted({c for by in forms.values() for c in by}, key=lambda c: (order.get(c, len(order)), c))
    at = {c: i for i, c in enumerate(coders)}
    units: list[tuple[str, str]] = []
    cells: list[tuple[int, int, float]] = []
    for rid in sorted(forms):
        for nid in unit_places(fld, notes.get(rid, [])):
            for coder, form in forms[rid].items():
                v = form.calculated(nid, fld)
                if v is not None:
                    cells.append((len(units), at[coder], float(v)))
            units.append((rid, nid or ""))
    matrix = np.full((len(units), len(coders)), np.nan)
    for i, j, x in cells:
        matrix[i, j] = x
    return Ratings(fld, units, coders, matrix)


def join_ratings(parts: list[list[Ratings]], coder_order: list[str]) -> list[Ratings]:
    """Each field's :class:`Ratings` of consecutive record spans as one: rows in span order (the
    whole read's (record_id, note_key) order, since spans follow the record ids), the coders of
    every span in the whole read's order, text categories re-numbered on their union, counts added.
    ``units`` is left empty (:func:`span_ratings` empties each span's already): agreement reads the
    matrix, and a tuple per unit and field is most of what a whole read of them holds. Each field's
    matrix is filled in place, one span's block at a time, and a span's matrix is let go once
    copied (no second copy of every block for a concatenation).

    The joined matrix is the narrowest float type that holds every value exactly (float16 for choice
    positions and small counts: a quarter of float64's memory on a large audit);
    :func:`chartcode.agreement.agreement_report` widens one field's at a time to float64 before any
    statistic reads it, so every coefficient is computed as on the float64 matrix."""
    order = {c: i for i, c in enumerate(coder_order)}
    out = []
    for pieces in zip(*parts, strict=True):
        fld = pieces[0].field
        coders = sorted({c for p in pieces for c in p.coders}, key=lambda c: (order.get(c, len(order)), c))
        at = {c: j for j, c in enumerate(coders)}
        categories = sorted({c for p in pieces for c in p.categories})
        number = {c: float(i) for i, c in enumerate(categories)}
        dtype = _narrowest([p.matrix for p in pieces])
        matrix = np.full((sum(p.matrix.shape[0] for p in pieces), len(coders)), np.nan, dtype=dtype)
        row = 0
        for p in pieces:
            m = p.matrix
            if m.size:
                if p.categories:  # text: indices into this span's categories -> into the union's
                    remap = np.array([number[c] for c in p.categories], dtype=float)
                    ok = ~np.isnan(m)
                    m = m.copy()
                    m[ok] = remap[m[ok].astype(np.int64)]
                    if dtype != np.float64 and not _exact(m, dtype):  # the union's indices are larger
                        matrix = matrix.astype(np.float64)
                        dtype = np.float64
                matrix[row : row + m.shape[0], [at[c] for c in p.coders]] = m
            row += p.matrix.shape[0]
            p.matrix = np.empty((0, 0))
        applicability = [p.applicability_disagreements for p in pieces]
        out.append(
            Ratings(
                fld,
                [],
                coders,
                matrix,
                categories,
                sum(p.unreadable for p in pieces),
                None if all(a is None for a in applicability) else sum(a or 0 for a in applicability),
                sum(p.not_applicable for p in pieces),
            )
        )
    return out


_NARROW = (np.float16, np.float32)


def span_ratings(span) -> list[Ratings]:
    """:func:`collect` of a record span (chartcode.export.stream.RecordSpan), as :func:`join_ratings`
    takes it: no ``units`` (a tuple per unit and field, which agreement does not read) and each
    matrix in the narrowest float holding it exactly, so the spans' matrices kept until the join
    (and pickled by the report's second process) take a quarter of float64's memory."""
    got = collect(span, units=False)
    for rt in got:
        rt.units = []
        rt.matrix = rt.matrix.astype(_narrowest([rt.matrix]), copy=False)
    return got


def _exact(m: np.ndarray, dtype: Any) -> bool:
    """``m``'s values (NaN included) are the same in ``dtype``."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.array_equal(m.astype(dtype).astype(np.float64), m, equal_nan=True))


def _narrowest(matrices: list[np.ndarray]) -> Any:
    """The narrowest float type of :data:`_NARROW` (else float64) holding every value of ``matrices``."""
    for dtype in _NARROW:
        if all(_exact(m, dtype) for m in matrices):
            return dtype
    return np.float64
