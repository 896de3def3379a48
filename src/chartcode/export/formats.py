"""The export formats, each declared once: its name, the files it writes and how.

A format is one :class:`Format` in :data:`REGISTRY`. Its ``write_wide`` (and, for formats
that hold every coder's codes, ``write_long``) receives an :class:`ExportInput`, which
builds each table on first use, so a format asks only for what it writes. Adding a format
is one declaration here plus its writer function (usually in ``writers.py``) and its tests;
the CLI's ``--format`` choices and help come from :data:`REGISTRY`.

This module imports neither pandas nor the store: the CLI reads the names for ``--help``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from chartcode.agreement.collect import Ratings
    from chartcode.codebook import Codebook, Field
    from chartcode.export.tables import LongTable
    from chartcode.store import Store


DATE_MODES = ("shift", "year")  # how --deidentify changes dates (chartcode.export.tables)


@dataclass
class ExportInput:
    """What a format may write, each table built once, when a writer first asks for it."""

    store: Store
    deidentify: bool
    viewer: str | None = None
    dates: str = "shift"  # de-identified dates: shifted per record, or their year (chartcode.export.tables)
    warnings: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def codebook(self) -> Codebook:
        return self.store.codebook

    @cached_property
    def wide(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(records, notes): final values, one row per record and per note; the records also carry a
        rating scale's unit, period and scores and the audit's derived variables (:attr:`columns`); a
        checkbox field is one 0/1 column per option (chartcode.export.options)."""
        from chartcode.export.options import expand
        from chartcode.export.tables import wide_tables

        records, notes = wide_tables(self.store, deidentify=self.deidentify, dates=self.dates, extras=True)
        self.rows.update(records=len(records), notes=len(notes))
        return expand(records, self.codebook), expand(notes, self.codebook)  # checkbox: <field>___<code> 0/1

    @cached_property
    def columns(self) -> dict[str, Field]:
        """The records' columns that are not codebook fields, described as fields (label, type)."""
        from chartcode.export.tables import extra_columns

        return extra_columns(self.store)

    @cached_property
    def long(self) -> LongTable:
        """Every code by every coder that ``viewer`` may see."""
        from chartcode.export.tables import long_table

        lt = long_table(self.store, viewer=self.viewer, deidentify=self.deidentify, dates=self.dates)
        self.rows.update(codes=len(lt.frame))
        return lt

    def audit_table(self) -> pd.DataFrame:
        """The "audit" sheet: the history's size and chain head (check it with `chartcode verify --head`)."""
        import pandas as pd

        n, head = self.store.history_head()
        return pd.DataFrame({"item": ["history_entries", "history_head"], "value": [str(n), head]})

    def history(self) -> dict[str, Any]:
        n, head = self.store.history_head()
        return {"history_entries": n, "history_head": head}

    def codebook_table(self) -> pd.DataFrame:
        from chartcode.export.tables import codebook_table

        return codebook_table(self.codebook, deidentify=self.deidentify, dates=self.dates, columns=self.columns)

    def codebook_dict(self) -> dict[str, Any]:
        from chartcode.export.tables import codebook_dict

        return codebook_dict(self.codebook, deidentify=self.deidentify, dates=self.dates, columns=self.columns)

    def agreement_table(self, ratings: list[Ratings] | None = None) -> pd.DataFrame:
        from chartcode.export.tables import agreement_table

        return agreement_table(self.store, deidentify=self.deidentify, ratings=ratings)

    def analyses_table(self) -> pd.DataFrame:
        from chartcode.export.tables import analyses_table

        return analyses_table(self.store)

    def fidelity_table(self) -> pd.DataFrame | None:
        """Scores per unit and period for a rating scale; None for other codebooks."""
        from chartcode.export.tables import fidelity_table

        return fidelity_table(self.store, deidentify=self.deidentify)


Writer = Callable[[ExportInput, list[Path]], None]


@dataclass(frozen=True)
class Format:
    name: str
    write_wide: Writer
    write_long: Writer | None = None  # None: the format holds final values only
    notes_file: bool = False  # the wide export also writes <stem>_notes<suffix>

    def files(self, out: Path, *, long: bool = False) -> list[Path]:
        out = Path(out)
        if not long and self.notes_file:
            return [out, out.with_name(f"{out.stem}_notes{out.suffix or '.' + self.name}")]
        return [out]


# ---- the writers, one pair per format --------------------------------------------------------


def _csv_wide(data: ExportInput, files: list[Path]) -> None:
    from chartcode.export import stream

    if stream.streamable(data.store):  # record span by record span: memory bounded by a span
        stream.write_wide_csv(data, files, lambda: _csv_wide_whole(data, files))
    else:
        _csv_wide_whole(data, files)


def _csv_wide_whole(data: ExportInput, files: list[Path]) -> None:
    from chartcode.export import writers

    records, notes = data.wide
    writers.write_csv(records, files[0])
    writers.write_csv(notes, files[1])


def _csv_long(data: ExportInput, files: list[Path]) -> None:
    from chartcode.export import writers

    writers.write_csv(data.long.frame, files[0])


def _xlsx_wide(data: ExportInput, files: list[Path]) -> None:
    from chartcode.export import stream

    if stream.streamable(data.store):  # records and notes span by span: no table of every record
        try:
            with data.store.read_snapshot():  # every sheet from one state of the database
                _xlsx_wide_streamed(data, files)
            return
        except stream._Uneven:  # a span's columns or dtypes differ from the first's: made whole
            pass
    _xlsx_wide_whole(data, files)


def _xlsx_wide_whole(data: ExportInput, files: list[Path]) -> None:
    import pandas as pd

    from chartcode.export import tables, writers
    from chartcode.forked import Forked

    records, notes = data.wide
    prepared = tables.analyses_prepared(data.store)  # the store's part; a table saying why there are none
    if isinstance(prepared, pd.DataFrame):
        analyses = Forked(lambda: prepared, run=False)
    else:  # the models are fitted (statsmodels imported) in a child on another CPU (chartcode.forked)
        analyses = Forked(tables.analyses_run, prepared)
    with analyses:
        sheets: dict[str, Any] = {
            "records": records,
            "notes": notes,
            "codebook": data.codebook_table(),
            # made when their sheets' turn comes, here, while children still write the records' rows
            "agreement": data.agreement_table,
            "analyses": analyses.result,
            "audit": data.audit_table,
        }
        scores = data.fidelity_table()
        if scores is not None:  # a rating scale: its scores per unit and period
            sheets["fidelity"] = scores
        writers.write_xlsx(sheets, files[0])


def _xlsx_wide_streamed(data: ExportInput, files: list[Path]) -> None:
    """The records and notes sheets span by span of records (chartcode.export.xlsx.Spans), each span's
    tables made as the streamed csv export makes them (chartcode.export.stream), and with them the
    span's rows of the analysis frame (chartcode.analysis.analysis_frame on the span: each record's
    own final values and derived variables), and every field's agreement matrix of the span
    (chartcode.agreement.collect.collect on the span: the submitted codes its final values read
    already, no second read of every code); the analyses then run on those rows, in a child, while
    the agreement is computed here on the spans' matrices joined. No table of every record's final
    values is made. A span whose columns or dtypes differ from the first's raises stream._Uneven
    (the caller then makes it whole)."""
    import pandas as pd

    from chartcode.agreement.collect import join_ratings, span_ratings
    from chartcode.analysis import analysis_frame, load_plan, variables
    from chartcode.errors import UserError
    from chartcode.export import stream, tables, writers
    from chartcode.export.options import expand
    from chartcode.export.xlsx import Spans
    from chartcode.forked import Forked, give_back_freed_memory

    store, cb = data.store, data.store.codebook
    parts: list[tuple[pd.DataFrame, dict[str, str]]] | None = []  # the spans' analysis rows (stream.kept_rows)
    ratings: list[list[Ratings]] | None = []  # per span, every field's; None: the agreement reads the audit
    try:
        plan = load_plan(store)
    except UserError:  # analyses_prepared says why there are none
        parts = plan = None

    def make() -> Any:
        nonlocal parts, ratings
        ids, open_ids = store.record_ids(), store.open_record_ids()
        kinds = (stream._Kinds(), stream._Kinds())
        counts = {"records": 0, "notes": 0}
        # the first spans small and growing (stream.RAMP): the children (the other CPU) get rows to
        # write a second sooner, and each span's rows keep them busy while the next, larger, is made
        for part_ids, span in stream.spans(ids, first=max(1, stream.SPAN_RECORDS // 8)):
            part: Any = stream.RecordSpan(store, part_ids, span, open_ids)
            records, notes = tables.wide_tables(part, deidentify=data.deidentify, dates=data.dates, extras=True)
            records, notes = expand(records, cb), expand(notes, cb)
            kinds[0].check(records)
            kinds[1].check(notes)
            counts["records"] += len(records)
            counts["notes"] += len(notes)
            # the span's rows go to the children first; its analysis rows and agreement matrices are
            # made here meanwhile (the first span's children start that much sooner)
            yield records, notes
            del records, notes
            if parts is not None:
                try:
                    parts.append(stream.kept_rows(analysis_frame(part, plan)[0]))
                except UserError:
                    parts = None
            if ratings is not None:
                try:
                    ratings.append(span_ratings(part))
                except Exception:  # noqa: BLE001 - the whole read's agreement_table says why
                    ratings = None
            del part
        data.rows.update(counts)

    analyses: list[Forked[Any]] = []

    def agreement() -> pd.DataFrame:  # the spans are done: the analyses start in a child, then this
        frame = None
        if parts and plan is not None:
            frame = (stream.joined_rows(parts), variables(cb, plan.derived))
            parts.clear()
        prepared = tables.analyses_prepared(store, frame)
        if isinstance(prepared, pd.DataFrame):
            analyses.append(Forked(lambda: prepared, run=False))
        else:
            give_back_freed_memory()  # the child starts with this process's resident memory
            analyses.append(Forked(tables.analyses_run, prepared))
        joined = None
        if ratings:
            joined = join_ratings(ratings, [c["name"] for c in store.coders()])
            ratings.clear()
        return data.agreement_table(joined)

    try:
        sheets: dict[str, Any] = {
            "records": Spans(("records", "notes"), make),
            "codebook": data.codebook_table(),
            "agreement": agreement,
            "analyses": lambda: analyses[0].result(),
            "audit": data.audit_table,
        }
        writers.write_xlsx(sheets, files[0])
    finally:
        for forked in analyses:
            forked.cancel()


def _xlsx_long(data: ExportInput, files: list[Path]) -> None:
    from chartcode.export import writers

    writers.write_xlsx(
        {"codes": data.long.frame, "codebook": data.codebook_table(), "audit": data.audit_table()}, files[0]
    )


def _json_wide(data: ExportInput, files: list[Path]) -> None:
    from chartcode.export import writers

    records, notes = data.wide
    doc: dict[str, Any] = {
        "records": writers.rows(records),
        "notes": writers.rows(notes),
        "codebook": data.codebook_dict(),
        **data.history(),
    }
    scores = data.fidelity_table()
    if scores is not None:
        doc["fidelity"] = writers.rows(scores)
    writers.write_json(doc, files[0])


def _json_long(data: ExportInput, files: list[Path]) -> None:
    from chartcode.export import writers

    writers.write_json(
        {"codes": writers.rows(data.long.frame), "codebook": data.codebook_dict(), **data.history()}, files[0]
    )


def _stat_writer(fmt: str) -> Writer:
    def write(data: ExportInput, files: list[Path]) -> None:
        from chartcode.export import writers

        records, notes = data.wide
        cb = data.codebook
        title = f"{cb.id} {cb.version}: final values"
        dates = data.dates if data.deidentify else None
        writers.write_stat(
            records,
            cb,
            files[0],
            fmt,
            hashed_ids=data.deidentify,
            file_label=title + " (records)",
            dates=dates,
            columns=data.columns,
        )
        writers.write_stat(
            notes, cb, files[1], fmt, hashed_ids=data.deidentify, file_label=title + " (notes)", dates=dates
        )

    return write


def _redcap_wide(data: ExportInput, files: list[Path]) -> None:
    from chartcode.export import writers
    from chartcode.export.redcap import redcap_frame
    from chartcode.export.tables import AGE_TOP, AGE_TOP_CODE, wide_tables

    records, notes = wide_tables(data.store, deidentify=data.deidentify, sources=False, dates=data.dates)
    if data.deidentify:  # REDCap validates an age as an integer: 90 stands for 90 or older
        for frame in (records, notes):
            for col in frame.columns:
                if frame[col].dtype == object and (frame[col] == AGE_TOP).any():
                    frame[col] = frame[col].replace(AGE_TOP, AGE_TOP_CODE)
    data.rows.update(records=len(records))
    if data.codebook.note_fields:
        data.rows.update(notes=len(notes))
    from chartcode.export.options import expand

    records, notes = expand(records, data.codebook, lower=True), expand(notes, data.codebook, lower=True)
    table = redcap_frame(records, notes, data.codebook)  # note-level fields: a repeating instrument
    _refuse_formulas(table, files[0])
    writers.write_csv(table, files[0], safe=False)


def _refuse_formulas(records: Any, path: Path) -> None:
    """REDCap's Data Import Tool stores a cell exactly as written, so the CSV formula guard's
    apostrophe would become part of the value in REDCap (and fail its validation in a typed
    field); an unguarded formula is live when the file is opened in a spreadsheet. Neither is
    acceptable: a text value that would start a formula is refused, naming the file line
    (header = line 1, embedded line breaks counted), the record and the field - never the value."""
    from chartcode.errors import UserError
    from chartcode.export.cells import FORMULA_START, starts_formula

    first: tuple[int, str] | None = None
    for col in records.columns:
        if records[col].dtype != object:
            continue
        hits = records[col].map(starts_formula).to_numpy(dtype=bool)
        if hits.any():
            row = int(hits.argmax())
            if first is None or row < first[0]:
                first = (row, str(col))
    if first is None:
        return
    row, col = first
    breaks = sum(
        int(records[c].iloc[:row].map(lambda v: v.count("\n") if isinstance(v, str) else 0).sum())
        for c in records.columns
        if records[c].dtype == object
    )
    starts = " ".join(repr(c) if c.isspace() else c for c in FORMULA_START)
    raise UserError(
        f"{path}: line {row + 2 + breaks}: record {records.iloc[row, 0]}, field {col}: the value starts"
        f" with one of {starts}, which a spreadsheet runs as a formula, and REDCap would keep a guarding"
        " apostrophe as part of the value; nothing was written. Change the value, or export as json, sav or dta"
    )


REGISTRY: dict[str, Format] = {
    f.name: f
    for f in (
        Format("csv", _csv_wide, _csv_long, notes_file=True),
        Format("xlsx", _xlsx_wide, _xlsx_long),
        Format("sav", _stat_writer("sav"), notes_file=True),
        Format("dta", _stat_writer("dta"), notes_file=True),
        Format("json", _json_wide, _json_long),
        Format("redcap", _redcap_wide),
    )
}
