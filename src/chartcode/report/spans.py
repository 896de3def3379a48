"""The report's data read record span by record span, so its memory is bounded by a span, not by the audit.

    read_spans(store) -> SpanData | None     (None: the report reads the whole audit, as before)

One pass over the audit's record ids, :data:`chartcode.export.stream.SPAN_RECORDS` at a time, inside
one read transaction (Store.read_snapshot), through the export's :class:`RecordSpan` (the store's
reads limited to the span's records, with a cache of its own). Each span gives, by the very
functions the whole report calls:

* agreement: every field's units x coders matrix (chartcode.agreement.collect), joined across
  spans in the whole read's unit order, (record_id, note_key); every unit stays in, the ones coded
  once too, since Gwet's AC1 chance term and the bootstrap read them (chartcode.agreement.field);
* distributions: each record-level choice field's counts per choice and of records with no final
  value (additive over spans);
* analyses: the analysis frame (records with their derived variables), concatenated; only the
  model inputs stay, as numbers, not the final values of every unit;
* open disagreements: the first :data:`chartcode.report.sections.DISAGREEMENT_ROWS` units and how
  many there are.

Every one of them reads one record's own codes and notes, so a span's part is that record's part
of the whole (tests compare them). What could differ is not guessed at: a column's dtype comes from
its values, so when a span's analysis frame has other columns or dtypes than the first span's, the
analyses use the whole audit's frame; a rating scale (whose scores compare periods across records)
or a store without span reads (the team server) reads the whole audit. Warnings a library raises
while a part is read are kept with that part and become notes of its section, as in the whole read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from chartcode.analysis.readings import notes_from_libraries
from chartcode.codebook.model import checkbox_codes
from chartcode.errors import UserError
from chartcode.export.stream import RecordSpan, spans, streamable

if TYPE_CHECKING:
    import pandas as pd

    from chartcode.agreement.collect import Ratings
    from chartcode.analysis.models import Variable
    from chartcode.store.store import Store


class ReportSpan(RecordSpan):
    """The export's record span plus the read the disagreements take (set-based, in SQLite)."""

    def disagreement_units(self) -> list[tuple[Any, ...]]:
        return self._store.disagreement_units_in(self._span)


@dataclass
class Counts:
    """A choice field's final values: records per choice (codebook order) and without a final value."""

    counts: list[int]
    missing: int


@dataclass
class SpanData:
    """What the report's sections read, from one pass (see the module docstring)."""

    ratings: list[Ratings] = field(default_factory=list)
    distributions: dict[str, Counts] = field(default_factory=dict)
    # (frame, variables) of chartcode.analysis.analysis_frame; None: the analyses read the whole audit
    analysis: tuple[pd.DataFrame, dict[str, Variable]] | None = None
    open_units: list[Any] = field(default_factory=list)  # the first ``keep`` open units, in order
    n_open: int = 0
    notes: dict[str, list[str]] = field(default_factory=dict)  # part -> library notes while it was read


def choice_counts(store: Store, frame: pd.DataFrame) -> dict[str, Counts]:
    """Per record-level choice field of ``frame`` (chartcode.dataset.records_frame): its :class:`Counts`."""
    out = {}
    for f in store.codebook.record_fields:
        if not f.has_choices:
            continue
        col = frame[f.name]
        if f.kind.multiple:  # check all that apply: records with each option ticked
            ticked = [checkbox_codes(v) for v in col if isinstance(v, str)]
            counts = [sum(str(c.code) in t for t in ticked) for c in f.choices]
        else:
            counts = [int((col == c.code).sum()) for c in f.choices]
        out[f.name] = Counts(counts, int(col.isna().sum()))
    return out


def _add_counts(into: dict[str, Counts], more: dict[str, Counts]) -> None:
    for name, c in more.items():
        if name not in into:
            into[name] = Counts(list(c.counts), c.missing)
        else:
            have = into[name]
            have.counts = [a + b for a, b in zip(have.counts, c.counts, strict=True)]
            have.missing += c.missing


def join_ratings(parts: list[list[Ratings]], coder_order: list[str]) -> list[Ratings]:
    """Each field's :class:`Ratings` of consecutive record spans as one: rows in span order (the
    whole read's (record_id, note_key) order, since spans follow the record ids), the coders of
    every span in the whole read's order, text categories re-numbered on their union, counts added.
    ``units`` is left empty (:func:`read_spans` empties each span's already): agreement reads the
    matrix, and a tuple per unit and field is most of what a whole read of them holds."""
    from chartcode.agreement.collect import Ratings

    order = {c: i for i, c in enumerate(coder_order)}
    out = []
    for pieces in zip(*parts, strict=True):
        fld = pieces[0].field
        coders = sorted({c for p in pieces for c in p.coders}, key=lambda c: (order.get(c, len(order)), c))
        at = {c: j for j, c in enumerate(coders)}
        categories = sorted({c for p in pieces for c in p.categories})
        number = {c: float(i) for i, c in enumerate(categories)}
        blocks = []
        for p in pieces:
            block = np.full((p.matrix.shape[0], len(coders)), np.nan)
            if p.matrix.size:
                m = p.matrix
                if p.categories:  # text: indices into this span's categories -> into the union's
                    remap = np.array([number[c] for c in p.categories], dtype=float)
                    ok = ~np.isnan(m)
                    m = m.copy()
                    m[ok] = remap[m[ok].astype(np.int64)]
                block[:, [at[c] for c in p.coders]] = m
            blocks.append(block)
        applicability = [p.applicability_disagreements for p in pieces]
        out.append(
            Ratings(
                fld,
                [],
                coders,
                np.concatenate(blocks) if blocks else np.full((0, len(coders)), np.nan),
                categories,
                sum(p.unreadable for p in pieces),
                None if all(a is None for a in applicability) else sum(a or 0 for a in applicability),
                sum(p.not_applicable for p in pieces),
            )
        )
    return out


def join_frames(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """The spans' analysis frames as the whole audit's (None: they cannot be joined as it).

    A column's dtype comes from its values (chartcode.dataset._column): whole numbers are ``Int64``
    unless a value is not a number (then ``object``, None where missing). So a span where a column
    has no value at all has it ``Int64`` while the whole audit may have it ``object``: such a
    column takes the dtype the spans with values agree on (``object``: None in every cell). Any
    other difference of columns or dtypes: None."""
    import pandas as pd

    frames = [f for f in frames if len(f)] or frames[:1]
    if not frames:
        return None
    columns = list(frames[0].columns)
    if any(list(f.columns) != columns for f in frames):
        return None
    for c in columns:
        kinds = {str(f[c].dtype) for f in frames if not f[c].isna().all()}
        if len(kinds) > 1:
            return None
        if kinds == {"object"}:
            for i, f in enumerate(frames):
                if str(f[c].dtype) == "Int64":  # no value in this span
                    frames[i] = f = f.copy()
                    f[c] = pd.Series([None] * len(f), index=f.index, dtype=object)
        if len({str(f[c].dtype) for f in frames}) > 1:
            return None
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_spans(store: Store, *, keep: int, size: int | None = None) -> SpanData | None:
    """The report's data in one pass over the audit's record spans (``size`` records each); None
    where the report reads the whole audit instead (see the module docstring)."""
    if not streamable(store) or store.codebook.scale is not None:
        return None
    from chartcode.agreement.collect import collect
    from chartcode.analysis import analysis_frame, load_plan
    from chartcode.dataset import open_disagreements, records_frame

    data = SpanData(notes={k: [] for k in ("agreement", "distributions", "analyses", "disagreements")})
    try:
        plan = load_plan(store)
    except UserError:  # the analyses section says so, from the whole read
        plan = None
    ratings: list[list[Ratings]] = []
    frames: list[pd.DataFrame] = []
    known: dict[str, Variable] | None = None
    even = plan is not None
    with store.read_snapshot():
        ids, open_ids = store.record_ids(), store.open_record_ids()
        coder_order = [c["name"] for c in store.coders()]
        for part_ids, span in spans(ids, size):
            part = cast("Store", ReportSpan(store, part_ids, span, open_ids))
            with notes_from_libraries(data.notes["agreement"]):
                got = collect(part)
            for rt in got:  # a tuple per unit and field, which agreement does not read: not kept
                rt.units = []
            ratings.append(got)
            with notes_from_libraries(data.notes["distributions"]):
                _add_counts(data.distributions, choice_counts(store, records_frame(part)))
            if even:
                with notes_from_libraries(data.notes["analyses"]):
                    try:
                        frame, known = analysis_frame(part, plan)
                    except UserError:  # the whole read gives the message the analyses section shows
                        even = False
                        frames.clear()
                    else:
                        frames.append(frame)
            with notes_from_libraries(data.notes["disagreements"]):
                units = open_disagreements(part)
            data.n_open += len(units)
            data.open_units += units[: max(keep - len(data.open_units), 0)]
            del part
    data.ratings = join_ratings(ratings, coder_order)
    if even and known is not None:
        whole = join_frames(frames)
        del frames
        data.analysis = None if whole is None else (whole, known)
    return data
