"""The wide csv export as a stream by record: final values span by span of record ids, each span's
rows written as they are made, so memory is bounded by a span (:data:`SPAN_RECORDS` records), not
by the audit.

A span is the store seen through :class:`RecordSpan`: the same reads (submitted codes, notes,
consensus values, record ids) limited to the records whose id lies in the span, and a cache of its
own. The tables are then built by the very functions the whole export uses
(chartcode.export.tables.wide_tables, chartcode.export.options.expand), so each row is the row
they give for the whole audit: final values, branching logic, derived variables and
de-identification all read one record's own codes and notes. Every read runs in one read
transaction (Store.read_snapshot), so a commit during the export changes no span.

Two things can make a span's table differ from its rows in the whole one, and neither is guessed
at: a column's dtype is chosen from its values (a count with a word code in it is text, a
de-identified age column holding "90+" is text), and a rating scale's scores compare a unit's
periods across records. A scale is exported whole; and when a span's columns or dtypes differ from
the first span's, the streamed files are dropped and the export is made whole, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from chartcode.errors import UserError
from chartcode.files import atomic_write
from chartcode.store.api import has_method

if TYPE_CHECKING:
    import pandas as pd

    from chartcode.export.formats import ExportInput
    from chartcode.store.dataset_queries import Span
    from chartcode.store.store import Store

SPAN_RECORDS = 10_000  # records per span: tens of MB of final values, whatever the audit's size
# valid for every span: the memoised answers of the branching logic, the audit's parsed analysis plan
SHARED_CACHE = ("form_answers", "analysis_plan")


class _Uneven(Exception):
    """A span's table has other columns or dtypes than the first span's."""


class RecordSpan:
    """``store`` limited to the records ``ids`` (a slice of its record ids) and ``span`` (the id
    range they cover, so a note or code of an id between two slices is in exactly one span)."""

    def __init__(self, store: Store, ids: list[str], span: Span, open_ids: list[str]) -> None:
        self._store = store
        self._ids = ids
        self._span = span
        lo, hi = span
        self._open = [r for r in open_ids if (lo is None or r >= lo) and (hi is None or r < hi)]
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:  # every other read is the store's own
        return getattr(self._store, name)

    @property
    def codebook(self) -> Any:
        return self._store.codebook

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        if key in SHARED_CACHE:
            return self._store.cached(key, compute)
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def record_ids(self) -> list[str]:
        return list(self._ids)

    def open_record_ids(self) -> list[str]:
        return list(self._open)

    def note_rows(self) -> list[dict[str, Any]]:
        return self._store.note_rows(span=self._span)

    def consensus_units(self) -> list[tuple[Any, ...]]:
        return self._store.consensus_units_in(self._span)

    def submitted_code_chunks(
        self, fields: list[str], coders: list[str], size: int | None = None
    ) -> Iterator[list[tuple[Any, ...]]]:
        return self._store.submitted_code_chunks(fields, coders, size, span=self._span)


def spans(ids: list[str], size: int | None = None) -> Iterator[tuple[list[str], Span]]:
    """(ids, id range) of consecutive slices of ``ids`` (sorted), ``size`` (default
    :data:`SPAN_RECORDS`) at a time; the ranges cover every id once."""
    size = size or SPAN_RECORDS
    for start in range(0, max(len(ids), 1), size):
        end = start + size
        yield ids[start:end], (ids[start] if start else None, ids[end] if end < len(ids) else None)


def streamable(store: Store) -> bool:
    """A store with span reads (SQLite's) and a codebook whose rows are each record's own (no scale)."""
    return store.codebook.scale is None and has_method(store, "read_snapshot")


class _Kinds:
    """The columns of the first span and each column's dtype as far as the text it writes goes; a
    span that could write a value differently than the whole table would raises :class:`_Uneven`.

    Text columns are ``str`` when every value is text and ``object`` otherwise (all blank, say): the
    same cells either way. A whole-number column is ``Int64`` unless a value is not a number (then
    ``object``); an ``Int64`` column of blanks only writes blanks as an ``object`` one would, and a
    span without rows writes no cell, so neither settles anything; any other difference does."""

    def __init__(self) -> None:
        self.columns: list[str] | None = None
        self.dtypes: dict[str, str] = {}

    def check(self, frame: pd.DataFrame) -> None:
        columns = [str(c) for c in frame.columns]
        if self.columns is None:
            self.columns = columns
        elif columns != self.columns:
            raise _Uneven
        if frame.empty:  # no rows: writes no cell (its dtypes are whatever empty lists give)
            return
        for col, dtype in zip(columns, frame.dtypes, strict=True):
            kind = "object" if str(dtype) == "str" else str(dtype)
            if kind == "Int64" and frame[col].isna().all():
                continue
            if self.dtypes.setdefault(col, kind) != kind:
                raise _Uneven


def write_wide_csv(data: ExportInput, files: list[Path], whole: Callable[[], None]) -> None:
    """The wide csv export (records to ``files[0]``, notes to ``files[1]``) span by span; ``whole()``
    writes them the whole way when a span's columns or dtypes differ from the first span's."""
    from chartcode.export import writers
    from chartcode.export.options import expand
    from chartcode.export.tables import wide_tables

    store, cb = data.store, data.codebook
    try:
        with store.read_snapshot():
            ids, open_ids = store.record_ids(), store.open_record_ids()
            counts = {"records": 0, "notes": 0}
            kinds, first = (_Kinds(), _Kinds()), True
            try:
                with (
                    atomic_write(files[0], "w", encoding="utf-8", newline="") as rec_fh,
                    atomic_write(files[1], "w", encoding="utf-8", newline="") as note_fh,
                ):
                    for part_ids, span in spans(ids):
                        part = cast("Store", RecordSpan(store, part_ids, span, open_ids))
                        records, notes = wide_tables(part, deidentify=data.deidentify, dates=data.dates, extras=True)
                        records, notes = expand(records, cb), expand(notes, cb)
                        kinds[0].check(records)
                        kinds[1].check(notes)
                        writers.csv_rows(records, rec_fh, header=first)
                        writers.csv_rows(notes, note_fh, header=first)
                        first = False
                        counts["records"] += len(records)
                        counts["notes"] += len(notes)
                        del records, notes, part
            except _Uneven:
                pass
            else:
                data.rows.update(counts)
                return
    except OSError as exc:
        raise UserError(f"{files[0]}: cannot write the file ({exc.strerror or exc})") from None
    whole()
