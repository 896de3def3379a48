"""The report's data read record span by record span, so its memory is bounded by a span, not by the audit.

    read_spans(store) -> SpanData | None     (None: the report reads the whole audit, as before)

One pass over the audit's record ids, :data:`SPAN_RECORDS` at a time, inside
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

import contextlib
import json
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from chartcode.analysis.readings import notes_from_libraries
from chartcode.codebook.model import checkbox_codes
from chartcode.errors import UserError
from chartcode.export import stream
from chartcode.export.stream import RecordSpan, _Child, _second_cpu, child_snapshot, spans, streamable
from chartcode.forked import give_back_freed_memory
from chartcode.store.api import has_method

if TYPE_CHECKING:
    import pandas as pd

    from chartcode.agreement.collect import Ratings
    from chartcode.analysis.models import Variable
    from chartcode.store.store import Store


class ReportSpan(RecordSpan):
    """The export's record span plus the read the disagreements take."""

    def disagreement_units(self) -> list[tuple[Any, ...]]:
        """What the store's :meth:`disagreement_units_in` gives for this span -- (record_id, note_key,
        field, consensus value, consensus reason) of the units two or more coders submitted with
        different values, in (record_id, note_key, field) order -- from the span's submitted codes,
        read already for agreement and the final values (chartcode.dataset.submitted_codes: the
        same rows, submitted values of closed records), not from a second scan of the codes in
        SQLite (its GROUP BY ... HAVING was a tenth of a span's read)."""
        from chartcode.dataset import submitted_codes

        codes = submitted_codes(cast("Store", self))
        if not len(codes):
            return []
        cats = [codes[c].cat for c in ("record_id", "note_key", "field")]
        sizes = [max(len(c.categories), 1) for c in cats]
        key = (cats[0].codes.to_numpy(np.int64) * sizes[1] + cats[1].codes.to_numpy(np.int64)) * sizes[2] + cats[
            2
        ].codes.to_numpy(np.int64)
        # categories are sorted (Python's order of str: SQLite's BINARY order of the UTF-8 text), so
        # the key's order is the ORDER BY's
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        n = np.diff(np.r_[starts, len(key)])
        values = codes["value"].to_numpy(dtype=object)[order]
        consensus = {(r[0], r[1], r[2]): (r[3], r[4]) for r in self._store.consensus_units_in(self._span)}
        names = [np.asarray(c.categories, dtype=object) for c in cats]
        out = []
        for at in np.flatnonzero(n >= 2):
            start, stop = starts[at], starts[at] + n[at]
            # count(DISTINCT v) > 1: SQLite's equality of stored values is Python's (1 = 1.0, '1' <> 1)
            if len(set(values[start:stop].tolist())) < 2:
                continue
            k = int(key[start])
            unit = (
                names[0][k // (sizes[1] * sizes[2])],
                names[1][(k // sizes[2]) % sizes[1]],
                names[2][k % sizes[2]],
            )
            out.append((*unit, *consensus.get(unit, (None, None))))
        return out


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


@dataclass
class SpanPart:
    """One span's share of :class:`SpanData`, as :func:`_read_part` makes it (here or in the child).
    ``analysis``: the span's analysis frame; None when the plan cannot be read, "failed" when the
    frame could not be made (UserError: the whole read says why)."""

    bounds: list[str | None]
    ratings: list[Ratings]
    counts: dict[str, Counts]
    analysis: Any
    open_units: list[Any]
    n_open: int
    notes: dict[str, list[str]]


def _bounds(part_ids: list[str]) -> list[str | None]:
    return [part_ids[0] if part_ids else None, part_ids[-1] if part_ids else None]


def _read_part(store: Store, part_ids: list[str], span: Any, open_ids: list[str], plan: Any, keep: int) -> SpanPart:
    """One span's reads, by the functions the whole report calls (see the module docstring)."""
    from chartcode.agreement.collect import span_ratings
    from chartcode.analysis import analysis_frame
    from chartcode.dataset import open_disagreements, records_frame

    notes: dict[str, list[str]] = {k: [] for k in PARTS}
    part = cast("Store", ReportSpan(store, part_ids, span, open_ids))
    with notes_from_libraries(notes["agreement"]):
        got = span_ratings(part)
    with notes_from_libraries(notes["distributions"]):
        counts = choice_counts(store, records_frame(part))
    frame: Any = None
    if plan is not None:
        with notes_from_libraries(notes["analyses"]):
            try:
                frame, _known = analysis_frame(part, plan)
            except UserError:  # the whole read gives the message the analyses section shows
                frame = "failed"
    with notes_from_libraries(notes["disagreements"]):
        units = open_disagreements(part)
    return SpanPart(_bounds(part_ids), got, counts, frame, units[:keep], len(units), notes)


PARTS = ("agreement", "distributions", "analyses", "disagreements")
# Records per span: half the csv export's (chartcode.export.stream.SPAN_RECORDS). A span's reads hold
# about 11 MB per 1,000 records while they run (submitted codes, final values, the branching logic's
# tables), in each of the two processes; at 10,000 records that was most of the report's peak, and
# 5,000 costs no measurable time (100k records, one process: 213 MB against 252 MB at the read's
# peak, 21-25 CPU s against 24 s).
SPAN_RECORDS = 5_000
# A second process reads every second span where the audit has at least this many records: below,
# its start (a fresh interpreter importing pandas, a second or so) costs more than the spans it reads.
CHILD_MIN_RECORDS = 20_000


def _plan(store: Store) -> Any:
    from chartcode.analysis import load_plan

    try:
        return load_plan(store)
    except UserError:  # the analyses section says so, from the whole read
        return None


class _SpanChild(_Child):
    """A second chartcode process (see :class:`chartcode.export.stream._Child`, whose protocol it
    speaks) that reads spans 1, 3, 5, ... of the report on the same snapshot as this one and leaves
    each span's :class:`SpanPart` pickled in a private folder (0700, the files 0600)."""

    def __init__(self, path: Path, size: int, keep: int) -> None:  # noqa: D107 - not _Child's request
        self.folder = Path(tempfile.mkdtemp(prefix=".chartcode-report-", dir=path.parent))
        self.size, self.keep = size, keep
        request = {"path": str(path), "size": size, "keep": keep, "folder": str(self.folder)}
        self._spawn("chartcode.report.spans", request)

    def part(self, index: int, part_ids: list[str]) -> SpanPart | None:
        """The child's part of span ``index``, or None (the child is then stopped; this process reads
        the span): it failed, or read other record ids."""
        if not self.alive:
            return None
        said = self.take(index)
        if said is None or said.get("bounds") != _bounds(part_ids):
            self.stop()
            return None
        path = self.folder / f"{index}.pickle"
        try:
            with open(path, "rb") as fh:
                got = pickle.load(fh)  # noqa: S301 - written by our own child, in our private folder
            path.unlink()
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            self.stop()
            return None
        if not isinstance(got, SpanPart) or got.bounds != _bounds(part_ids):
            self.stop()
            return None
        return got


def child_main() -> None:
    """The second process of :class:`_SpanChild`: read the request (one JSON line on stdin), open the
    audit, say "waiting"; on "go" (the parent holds the write lock, its own snapshot open) open a
    read snapshot and say "ready"; then read spans 1, 3, 5, ... and say each. Any failure just ends
    it: the parent reads those spans itself."""
    from chartcode.store.store import Store

    out = sys.stdout
    try:
        request = json.loads(input())
        size, keep, folder = int(request["size"]), int(request["keep"]), Path(request["folder"])
        store = Store.open(request["path"])
        store.codebook  # noqa: B018 - read now, not under the parent's write lock
        plan = _plan(store)
        import chartcode.agreement.collect  # noqa: F401 - imported now, not under the parent's write lock
        import chartcode.dataset  # noqa: F401

        with child_snapshot(store, out) as (ids, open_ids):
            every = list(spans(ids, size))
            for index in range(1, len(every), 2):
                part_ids, span = every[index]
                got = _read_part(store, part_ids, span, open_ids, plan, keep)
                for rt in got.ratings:  # the parent's own fields take their place (its first span's)
                    rt.field = None  # type: ignore[assignment]
                fd = os.open(folder / f"{index}.pickle", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with open(fd, "wb") as fh:
                    pickle.dump(got, fh, protocol=pickle.HIGHEST_PROTOCOL)
                del got
                out.write(json.dumps({"span": index, "bounds": _bounds(part_ids)}) + "\n")
                out.flush()
    except (Exception, KeyboardInterrupt):  # noqa: BLE001 - the parent reads these spans itself
        raise SystemExit(1) from None


def start_child(store: Store, *, keep: int, size: int | None = None) -> _SpanChild | None:
    """The second process :func:`read_spans` shares its spans with, started now so that its start
    (an interpreter importing pandas) overlaps what the caller does before the read; None where it
    does not pay: a small audit, one CPU, or a store without span reads. The caller passes it to
    :func:`read_spans` (which closes it) and closes it if it never gets there."""
    size = size or SPAN_RECORDS
    if not streamable(store) or not has_method(store, "writes_held"):
        return None
    n = len(store.record_ids())
    if n < CHILD_MIN_RECORDS or not _second_cpu(-(-n // size)):
        return None
    try:
        return _SpanChild(Path(store.path), size, keep)
    except OSError:  # no folder or no process to be had: one process reads every span
        return None


@contextlib.contextmanager
def _snapshot_with_child(
    store: Store, size: int, keep: int, child: bool | _SpanChild | None
) -> Iterator[tuple[list[str], list[str], _SpanChild | None]]:
    """This connection's read snapshot (record ids, open record ids) and, where it pays, a second
    process on the very same snapshot, lined up as the csv export's is
    (chartcode.export.stream._snapshot_with_child): the child starts and opens the audit first, then,
    for one round trip, the write lock is held while both snapshots are opened."""
    proc = child if isinstance(child, _SpanChild) else None
    try:
        if proc is not None and (proc.size, proc.keep) != (size, keep):  # started for another read
            proc.close()
            proc = None
        elif child is None:
            proc = start_child(store, keep=keep, size=size)
        elif child is True and has_method(store, "writes_held"):
            with contextlib.suppress(OSError):
                proc = _SpanChild(Path(store.path), size, keep)
        if proc is not None and not proc.waiting():
            proc.close()
            proc = None
        with store.read_snapshot():
            lock = store.writes_held(stream.LOCK_WAIT_S) if proc is not None else contextlib.nullcontext(False)
            with lock as held:
                ids, open_ids = store.record_ids(), store.open_record_ids()  # opens this snapshot
                if proc is not None and not (held and proc.go()):
                    proc.close()
                    proc = None
            yield ids, open_ids, proc
    finally:
        if proc is not None:
            proc.close()


def read_spans(
    store: Store, *, keep: int, size: int | None = None, child: bool | _SpanChild | None = None
) -> SpanData | None:
    """The report's data in one pass over the audit's record spans (``size`` records each); None
    where the report reads the whole audit instead (see the module docstring).

    Every second span is read by a second process on the same snapshot (``child``: None where the
    audit is large enough for it to pay and there is a second CPU; True, False: always, never; or
    the one :func:`start_child` started, closed here); a span it does not give, this process reads.
    The data are the same either way."""
    if not streamable(store) or store.codebook.scale is not None:
        if isinstance(child, _SpanChild):
            child.close()
        return None
    size = size or SPAN_RECORDS
    data = SpanData(notes={k: [] for k in PARTS})
    plan = _plan(store)
    ratings: list[list[Ratings]] = []
    frames: list[pd.DataFrame] = []
    known: dict[str, Variable] | None = None
    even = plan is not None
    with _snapshot_with_child(store, size, keep, child) as (ids, open_ids, proc):
        coder_order = [c["name"] for c in store.coders()]
        for index, (part_ids, span) in enumerate(spans(ids, size)):
            got = proc.part(index, part_ids) if proc is not None and index % 2 else None
            if got is None:
                got = _read_part(store, part_ids, span, open_ids, plan, keep)
            ratings.append(got.ratings)
            for name in ("agreement", "distributions", "disagreements"):
                _add_notes(data.notes[name], got.notes[name])
            _add_counts(data.distributions, got.counts)
            if even:
                _add_notes(data.notes["analyses"], got.notes["analyses"])
                if isinstance(got.analysis, str):  # failed: the whole read gives the section's message
                    even = False
                    frames.clear()
                else:
                    frames.append(got.analysis)
                    if known is None:
                        from chartcode.analysis import variables

                        known = variables(store.codebook, plan.derived)
            data.n_open += got.n_open
            data.open_units += got.open_units[: max(keep - len(data.open_units), 0)]
            del got
    from chartcode.agreement.collect import join_ratings

    data.ratings = join_ratings(ratings, coder_order)
    if even and known is not None:
        whole = join_frames(frames)
        del frames
        data.analysis = None if whole is None else (whole, known)
    give_back_freed_memory()  # the report forks its analyses' child next (chartcode.forked)
    return data


def _add_notes(into: list[str], more: list[str]) -> None:
    """As chartcode.analysis.readings.notes_from_libraries adds them: each note once, in order."""
    into.extend(n for n in more if n not in into)
