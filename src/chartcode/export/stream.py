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

On a machine with a second CPU the spans are shared with a second process: this one makes
spans 0, 2, 4, ... and writes them, the child makes 1, 3, 5, ... into files of its own, which are
copied in between, in order. Both read the same state of the database: the child starts and
opens the audit first, then the child's read transaction and this one's are opened while the
write lock is held for that round trip (Store.writes_held), so no commit can land between them.
Where the lock cannot be had within a second, or the child fails, makes other spans or cannot
start, this process makes those spans itself. The files are the ones one process writes, byte
for byte.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from chartcode.errors import UserError
from chartcode.files import atomic_write
from chartcode.store.api import has_method

if TYPE_CHECKING:
    import pandas as pd

    from chartcode.export.formats import ExportInput
    from chartcode.store.dataset_queries import Span
    from chartcode.store.store import Store

SPAN_RECORDS = 10_000  # records per span: tens of MB of final values, whatever the audit's size
LOCK_WAIT_S = 1.0  # how long to wait for the write lock that lines up the child's snapshot with ours
START_WAIT_S = 20.0  # how long the child may take to start and open the audit
GO_WAIT_S = 5.0  # how long it may take to open its read snapshot (the write lock is held meanwhile)
# valid for every span: the memoised answers of the branching logic, the audit's parsed analysis plan
SHARED_CACHE = ("form_answers", "analysis_plan")


_NARROW_INTS = ("Int8", "Int16", "Int32")  # pandas' nullable ints, narrowest first


def kept_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """A span's rows kept until every span is made (the analyses' rows): each ``Int64`` column in the
    narrowest nullable int holding its values (a code takes 2 bytes a cell, not 9), with the dtypes
    it had; :func:`joined_rows` gives back what ``pd.concat`` of the frames as made gives."""
    import numpy as np

    narrowed: dict[str, str] = {}
    out = frame
    for col in frame.columns:
        if str(frame[col].dtype) != "Int64":
            continue
        values = frame[col].dropna()
        lo, hi = (int(values.min()), int(values.max())) if len(values) else (0, 0)
        for dtype in _NARROW_INTS:
            info = np.iinfo(dtype.lower())
            if info.min <= lo and hi <= info.max:
                if out is frame:
                    out = frame.copy()
                out[col] = frame[col].astype(dtype)
                narrowed[str(col)] = "Int64"
                break
    return out, narrowed


def joined_rows(kept: list[tuple[pd.DataFrame, dict[str, str]]]) -> pd.DataFrame:
    """``pd.concat`` (ignore_index) of the frames :func:`kept_rows` was given, from what it kept: a
    column narrowed in every span from the same dtype is joined narrow and then widened (no copy of
    every span at full width); any other is widened span by span first."""
    import pandas as pd

    first = kept[0][1]
    same = {c for c, d in first.items() if all(n.get(c) == d for _, n in kept)}
    frames = []
    for frame, narrowed in kept:
        back = {c: d for c, d in narrowed.items() if c not in same}
        frames.append(frame.astype(back) if back else frame)
    out = pd.concat(frames, ignore_index=True)
    return out.astype({c: first[c] for c in same}) if same else out


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
        """The span's notes, read once (the branching logic's notes by record and the notes table both
        ask); callers read the list, never change it."""
        rows: list[dict[str, Any]] = self.cached("note_rows", lambda: self._store.note_rows(span=self._span))
        return rows

    def consensus_units(self) -> list[tuple[Any, ...]]:
        return self._store.consensus_units_in(self._span)

    def submitted_code_chunks(
        self, fields: list[str], coders: list[str], size: int | None = None
    ) -> Iterator[list[tuple[Any, ...]]]:
        return self._store.submitted_code_chunks(fields, coders, size, span=self._span)

    def submitted_span_codes(self, fields: list[str], coders: list[str]) -> Any:
        """The span's submitted codes packed (the store's span_codes): what chartcode.dataset reads."""
        return self._store.span_codes(fields, coders, self._span, self._open)  # the open ids: this snapshot's


RAMP = 1.4  # spans(first=...): each span this much larger than the one before, up to the size


def spans(ids: list[str], size: int | None = None, first: int | None = None) -> Iterator[tuple[list[str], Span]]:
    """(ids, id range) of consecutive slices of ``ids`` (sorted), ``size`` (default
    :data:`SPAN_RECORDS`) at a time; the ranges cover every id once. ``first``: the first slice
    holds that many, and each next one :data:`RAMP` times the one before until they reach ``size``
    (a pipeline's second stage starts sooner, and is never left long without work)."""
    size = size or SPAN_RECORDS
    step, start = min(first or size, size), 0
    while True:
        end = start + step
        yield ids[start:end], (ids[start] if start else None, ids[end] if end < len(ids) else None)
        if end >= len(ids):
            return
        start, step = end, min(size, max(step + 1, int(step * RAMP)))


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

    @staticmethod
    def summary(frame: pd.DataFrame) -> list[Any]:
        """What :meth:`check` looks at: the columns, and each column's kind where the frame has rows
        (None for an ``Int64`` column of blanks only). Plain data: a child process sends it as JSON."""
        columns = [str(c) for c in frame.columns]
        if frame.empty:  # no rows: writes no cell (its dtypes are whatever empty lists give)
            return [columns, None]
        kinds: list[str | None] = []
        for col, dtype in zip(frame.columns, frame.dtypes, strict=True):
            kind = "object" if str(dtype) == "str" else str(dtype)
            kinds.append(None if kind == "Int64" and frame[col].isna().all() else kind)
        return [columns, kinds]

    def check(self, frame: pd.DataFrame) -> None:
        self.check_summary(self.summary(frame))

    def check_summary(self, summary: list[Any]) -> None:
        columns, kinds = summary
        if self.columns is None:
            self.columns = columns
        elif columns != self.columns:
            raise _Uneven
        for col, kind in zip(columns, kinds or [], strict=False):
            if kind is not None and self.dtypes.setdefault(col, kind) != kind:
                raise _Uneven


# a text the csv module may quote (it decides; a space at either end: left to it, as dialects differ)
_QUOTED = re.compile(r'[,"\r\n]|^\s|\s$')


def _cell_text(value: Any) -> str:
    """One present cell as pandas' csv writer writes it in a row of several fields (the csv module,
    QUOTE_MINIMAL, '"' doubled; an empty text is an empty field: '""' is only for a row of one)."""
    if type(value) is str and not _QUOTED.search(value):
        return value  # nothing to quote (an empty text included)
    if type(value) is int:
        return str(value)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([value])
    return out.getvalue()[:-1]


def _column_text(series: pd.Series) -> Any:
    """The text of each cell of ``series`` (an object array) as writers.csv_rows writes it (the
    formula guard on text, then to_csv), found once per distinct value; None for a dtype not
    handled here (the caller lets pandas write the frame). Missing cells (None, NaN, NA) are empty,
    to_csv's na_rep."""
    import numpy as np
    import pandas as pd

    from chartcode.dataset import distinct
    from chartcode.export.cells import safe_cell

    dtype = series.dtype
    if dtype is np.dtype(object) or pd.api.types.is_string_dtype(dtype):
        codes, reps = distinct(series)  # types kept apart: 1, 1.0 and True write differently
        texts = [_cell_text(safe_cell(v)) for v in reps]
    elif isinstance(dtype, pd.Int64Dtype):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        texts = [str(int(v)) for v in uniques]
    else:
        return None
    table = np.array([*texts, ""], dtype=object)  # -1 (missing): the last, empty
    return table[np.asarray(codes)].tolist()


def _write_rows(frame: pd.DataFrame, fh: IO[str], *, header: bool) -> None:
    """What ``writers.csv_rows(frame, fh, header=header)`` writes, byte for byte: each column's text
    made once per distinct value (a column of 10,000 cells holds a handful), then joined row by row.
    A frame with a column of another dtype, or of fewer than two columns (csv writes a lone empty
    field as '""'), is written by writers.csv_rows itself."""
    from chartcode.export import writers

    fits = frame.shape[1] >= 2 and frame.columns.is_unique
    columns = [_column_text(frame[c]) for c in frame.columns] if fits else [None]
    if any(col is None for col in columns):
        writers.csv_rows(frame, fh, header=header)
        return
    if header:
        csv.writer(fh, lineterminator="\n").writerow([str(c) for c in frame.columns])
    if len(frame):
        fh.write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")


def _span_tables(data: ExportInput, store: Store, part_ids: list[str], span: Span, open_ids: list[str]):
    """The records and notes tables of one span, as the whole export makes them."""
    from chartcode.export.options import expand
    from chartcode.export.tables import wide_tables

    part = cast("Store", RecordSpan(store, part_ids, span, open_ids))
    records, notes = wide_tables(part, deidentify=data.deidentify, dates=data.dates, extras=True)
    return expand(records, store.codebook), expand(notes, store.codebook)


def _second_cpu(n_spans: int) -> bool:
    """A second process is worth it: two spans or more and a second CPU for this process."""
    if n_spans < 2:
        return False
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus >= 2


class _Child:
    """A second chartcode process that makes every second span (1, 3, 5, ...) of the same export into
    files in a private folder and says so, span by span, as JSON lines; :meth:`take` waits for the
    next one. A fresh interpreter, not a fork: a forked copy of this process would carry its SQLite
    connections (SQLite's rule: never across a fork)."""

    def __init__(self, data: ExportInput, path: Path, folder_parent: Path) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=".chartcode-export-", dir=folder_parent))
        request = {
            "path": str(path),
            "deidentify": data.deidentify,
            "dates": data.dates,
            "span_records": SPAN_RECORDS,
            "folder": str(self.folder),
        }
        self._spawn("chartcode.export.stream", request)

    def _spawn(self, module: str, request: dict[str, Any]) -> None:
        """Start ``module``'s ``child_main`` in a fresh interpreter and send it ``request``."""
        import subprocess

        import chartcode

        root = str(Path(chartcode.__file__).resolve().parents[1])
        code = f"import sys; sys.path.insert(0, {root!r}); from {module} import child_main; child_main()"
        proc = subprocess.Popen(  # noqa: S603 - this interpreter, this package, no shell
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            close_fds=True,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        self._proc: Any = proc

    def _message(self, timeout: float | None = None) -> dict[str, Any] | None:
        if self._proc is None:
            return None
        if timeout is not None:
            import select

            readable, _, _ = select.select([self._proc.stdout], [], [], timeout)
            if not readable:
                return None
        line = self._proc.stdout.readline()
        try:
            message = json.loads(line) if line else None
        except ValueError:
            message = None
        return message if isinstance(message, dict) else None

    def waiting(self) -> bool:
        """Wait for the child to have started and opened the audit (False: it failed; it is stopped)."""
        return self._expect("waiting", START_WAIT_S)

    def go(self) -> bool:
        """Tell the child to open its read snapshot now and wait until it has (False: it failed; it
        is stopped). The caller holds the write lock meanwhile: a round trip, not a start-up."""
        try:
            self._proc.stdin.write("go\n")
            self._proc.stdin.close()
        except (OSError, ValueError, AttributeError):
            self.stop()
            return False
        return self._expect("ready", GO_WAIT_S)

    def _expect(self, word: str, timeout: float) -> bool:
        message = self._message(timeout)
        if message is None or message.get(word) is not True:
            self.stop()
            return False
        return True

    def take(self, index: int) -> dict[str, Any] | None:
        """The child's word on span ``index`` (its files are then complete), or None when it failed."""
        message = self._message()
        if message is None or message.get("span") != index:
            self.stop()
            return None
        return message

    @property
    def alive(self) -> bool:
        return self._proc is not None

    def stop(self) -> None:
        """Stop the child (if still running) and reap it; its files go with :meth:`close`."""
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                with contextlib.suppress(OSError, ValueError):
                    pipe.close()
            self._proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def child_snapshot(store: Store, out: Any) -> Iterator[tuple[list[str], list[str]]]:
    """The second process's side of :class:`_Child`'s start: say it is waiting, wait for "go" (the
    parent holds the write lock meanwhile), open its read snapshot with the first read and say it is
    ready; yields the record ids and the open record ids, read in that snapshot."""
    out.write(json.dumps({"waiting": True}) + "\n")
    out.flush()
    if input() != "go":
        raise SystemExit(1)
    with store.read_snapshot():
        ids, open_ids = store.record_ids(), store.open_record_ids()  # the first read opens the snapshot
        out.write(json.dumps({"ready": True}) + "\n")
        out.flush()
        yield ids, open_ids


def child_main() -> None:
    """The second process of :class:`_Child`: read the request (one JSON line on stdin), open the
    audit, say "waiting"; on "go" (the parent holds the write lock, its own snapshot open) open a
    read snapshot and say "ready"; then make spans 1, 3, 5, ... and say each. Any failure just ends
    it: the parent makes those spans itself."""
    from chartcode import gc_policy
    from chartcode.export.formats import ExportInput
    from chartcode.store.store import Store

    gc_policy.for_batch_work()
    global SPAN_RECORDS
    out = sys.stdout
    try:
        request = json.loads(input())
        SPAN_RECORDS = int(request["span_records"])
        folder = Path(request["folder"])
        store = Store.open(request["path"])
        data = ExportInput(store, bool(request["deidentify"]), dates=str(request["dates"]))
        store.codebook  # noqa: B018 - read now, not under the parent's write lock
        with child_snapshot(store, out) as (ids, open_ids):
            all_spans = list(spans(ids))
            for index in range(1, len(all_spans), 2):
                part_ids, span = all_spans[index]
                records, notes = _span_tables(data, store, part_ids, span, open_ids)
                for name, frame in (("records", records), ("notes", notes)):
                    fd = os.open(folder / f"{index}.{name}.csv", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with open(fd, "w", encoding="utf-8", newline="") as fh:
                        _write_rows(frame, fh, header=False)
                message = {
                    "span": index,
                    "bounds": [part_ids[0] if part_ids else None, part_ids[-1] if part_ids else None],
                    "records": len(records),
                    "notes": len(notes),
                    "kinds": [_Kinds.summary(records), _Kinds.summary(notes)],
                }
                del records, notes
                out.write(json.dumps(message) + "\n")
                out.flush()
    except (Exception, KeyboardInterrupt):  # noqa: BLE001 - the parent makes these spans itself
        raise SystemExit(1) from None


def _child_parts(
    child: _Child, index: int, part_ids: list[str]
) -> tuple[dict[str, Any], tuple[IO[str], IO[str]]] | None:
    """The child's word and open files for span ``index``, or None (the child is then stopped and
    this process makes the span): it failed, or its span is not this one (other record ids)."""
    if not child.alive:
        return None
    said = child.take(index)
    if said is None:
        return None
    if said.get("bounds") != [part_ids[0] if part_ids else None, part_ids[-1] if part_ids else None]:
        child.stop()
        return None
    opened: list[IO[str]] = []
    try:
        for name in ("records", "notes"):
            opened.append(open(child.folder / f"{index}.{name}.csv", encoding="utf-8", newline=""))  # noqa: SIM115
    except OSError:
        for fh in opened:
            fh.close()
        child.stop()
        return None
    return said, (opened[0], opened[1])


@contextlib.contextmanager
def _snapshot_with_child(
    data: ExportInput, store: Store, folder_parent: Path
) -> Iterator[tuple[list[str], list[tuple[list[str], Span]], _Child | None]]:
    """This connection's read snapshot (open record ids, spans) and, where possible, a second process
    on the very same snapshot. The child starts first (a fresh interpreter: a second or so); then,
    for one round trip, the write lock is held while this snapshot and the child's are opened, so
    nothing commits between them and a coder's save waits milliseconds, not the child's start."""
    child: _Child | None = None
    try:
        if has_method(store, "writes_held") and _second_cpu(-(-len(store.record_ids()) // SPAN_RECORDS)):
            child = _Child(data, Path(store.path), folder_parent)
            if not child.waiting():
                child.close()
                child = None
        with store.read_snapshot():
            lock = store.writes_held(LOCK_WAIT_S) if child is not None else contextlib.nullcontext(False)
            with lock as held:
                ids, open_ids = store.record_ids(), store.open_record_ids()  # opens this snapshot
                if child is not None and not (held and child.go()):
                    child.close()
                    child = None
            yield open_ids, list(spans(ids)), child
    finally:
        if child is not None:
            child.close()


def write_wide_csv(data: ExportInput, files: list[Path], whole: Callable[[], None]) -> None:
    """The wide csv export (records to ``files[0]``, notes to ``files[1]``) span by span; ``whole()``
    writes them the whole way when a span's columns or dtypes differ from the first span's."""

    store = data.store
    try:
        with _snapshot_with_child(data, store, Path(files[0]).parent) as (open_ids, all_spans, child):
            counts = {"records": 0, "notes": 0}
            kinds, first = (_Kinds(), _Kinds()), True
            try:
                with (
                    atomic_write(files[0], "w", encoding="utf-8", newline="") as rec_fh,
                    atomic_write(files[1], "w", encoding="utf-8", newline="") as note_fh,
                ):
                    for index, (part_ids, span) in enumerate(all_spans):
                        parts = _child_parts(child, index, part_ids) if child is not None and index % 2 else None
                        if parts is not None:  # the child's files, copied as they are
                            said, (rec_part, note_part) = parts
                            with rec_part, note_part:
                                kinds[0].check_summary(said["kinds"][0])
                                kinds[1].check_summary(said["kinds"][1])
                                shutil.copyfileobj(rec_part, rec_fh)
                                shutil.copyfileobj(note_part, note_fh)
                            counts["records"] += said["records"]
                            counts["notes"] += said["notes"]
                            continue
                        records, notes = _span_tables(data, store, part_ids, span, open_ids)
                        kinds[0].check(records)
                        kinds[1].check(notes)
                        _write_rows(records, rec_fh, header=first)
                        _write_rows(notes, note_fh, header=first)
                        first = False
                        counts["records"] += len(records)
                        counts["notes"] += len(notes)
                        del records, notes
            except _Uneven:
                pass
            else:
                data.rows.update(counts)
                return
    except OSError as exc:
        raise UserError(f"{files[0]}: cannot write the file ({exc.strerror or exc})") from None
    whole()
